// Package testutil holds fluent builders of test objects, in the style of
// the Kubernetes scheduler's test wrappers:
//
//	ci := testutil.Instance("i-1").CPU(2048).Memory(4096).AZ("a").Obj()
//	req := testutil.Task("web:3").CPU(256).Memory(512).Port(80).Spread("attribute:ecs.availability-zone").Obj()
//
// Builders start from sensible defaults (an ACTIVE instance with a connected
// agent, registered at a fixed time) so a test states only what matters to
// it. Obj panics when the result is invalid: a builder misused is a bug in
// the test, found at once.
//
// This package is for tests only; nothing in it is production logic.
package testutil
