// Package unittest shows how to unit-test your own orchestration logic with
// Stevedore's fakes: an Orchestrator on the in-memory store, container
// instances backed by runtime/fake and network/fake, and testing/synctest
// so that health-check intervals and deployments take no real time.
//
// The logic under test here is a tiny autoscaler, ScaleToQueue, that sizes
// a service after the depth of a work queue. See unittest_test.go, and
// kit_test.go for the same set-up in one line with package stevedoretest.
package unittest

import (
	"context"
	"fmt"

	"github.com/stevedore-io/stevedore"
)

// TasksPerMessage is how many queued messages one task handles.
const TasksPerMessage = 10

// ScaleToQueue sets a service's desired count to one task per
// TasksPerMessage queued messages, between lo and hi tasks, and returns the
// count it asked for.
func ScaleToQueue(ctx context.Context, o *stevedore.Orchestrator, cluster, service string, depth, lo, hi int) (int, error) {
	if lo < 0 || hi < lo {
		return 0, fmt.Errorf("unittest: bad bounds [%d, %d]", lo, hi)
	}
	want := (depth + TasksPerMessage - 1) / TasksPerMessage
	want = max(lo, min(want, hi))
	if _, err := o.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: cluster, Service: service, DesiredCount: &want}); err != nil {
		return 0, err
	}
	return want, nil
}
