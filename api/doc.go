// Package api holds the shapes of Stevedore's ECS-shaped API: the input
// and output of every action (RunTaskInput, RunTaskOutput, ...), the
// descriptions they carry (ClusterDescription, Failure, Tag, Attribute,
// LogEvent, ...), the options of waiters and paginators, and the errors
// the API returns (ErrNotFound, ErrInvalid, FieldError, ...).
//
// The root package re-exports each of them under the same name
// (stevedore.RunTaskInput is api.RunTaskInput), and its Orchestrator is
// what takes and returns them: programs import the root package and
// rarely need this one. It exists so that the code behind the API, in
// internal packages that must not import the root, can speak the same
// types.
package api
