package main

import (
	"strings"
	"testing"
	"testing/synctest"
)

// The service's tasks go where the custom scheduler says: the GPU
// instances first, the smaller one first (binpack on memory breaks the
// prefer strategy's tie), then the plain instances, smaller first; the
// instance under maintenance gets nothing although it is the largest, and
// its reason is in RunTask's failure. Scaling in stops from the instances
// with the most free memory. The Orchestrator's loops run in a synctest
// bubble, so the waits cost no real time.
func TestRunPlacesWithTheCustomScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		if err := run(t.Context(), &out, t.TempDir()); err != nil {
			t.Fatal(err)
		}
		want := `service train: placementStrategy [{prefer gpu} {binpack memory}]
i-plain-small   1 tasks
i-gpu-large     8 tasks
i-gpu-small     2 tasks
i-gpu-maint     0 tasks
i-plain-large   1 tasks
RunTask 16 GiB: RESOURCE:MEMORY: placement: no instance fits task train:1: 4 instances: RESOURCE:MEMORY; 1 instance: avoid:maintenance
scaled in to 6:
i-plain-small   1 tasks
i-gpu-large     3 tasks
i-gpu-small     2 tasks
i-gpu-maint     0 tasks
i-plain-large   0 tasks
`
		if got := out.String(); got != want {
			t.Errorf("output:\n%s\nwant:\n%s", got, want)
		}
	})
}
