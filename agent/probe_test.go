package agent_test

import (
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// TestNetworkHealthChecks runs HTTP and TCP health checks through the fake
// network's TaskDialer: nothing is exec'd in the container.
func TestNetworkHealthChecks(t *testing.T) {
	const def = `{
	  "family": "probed",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "app", "image": "app", "memory": 32,
	     "healthCheck": {"command": %s, "interval": 5, "retries": 3}}
	  ]
	}`
	tests := []struct {
		name    string
		command string
		status  int // what the task's HTTP server answers; 0: no server
		// health of app at 7 s (one check done) and at 17 s (three)
		at7s, at17s task.HealthStatus
	}{
		{"HTTP 200", `["HTTP", "http://localhost:8080/healthz"]`, http.StatusOK, task.Healthy, task.Healthy},
		{"HTTP 500", `["HTTP", "http://localhost:8080/healthz"]`, http.StatusInternalServerError, task.HealthUnknown, task.Unhealthy},
		{"HTTP 204 not expected", `["HTTP", "http://127.0.0.1:8080/healthz", "200"]`, http.StatusNoContent, task.HealthUnknown, task.Unhealthy},
		{"TCP accepted", `["TCP", "8080"]`, http.StatusOK, task.Healthy, task.Healthy},
		{"TCP refused", `["TCP", "localhost:9090"]`, http.StatusOK, task.HealthUnknown, task.Unhealthy},
		{"HTTP refused", `["HTTP", "http://localhost:8080/"]`, 0, task.HealthUnknown, task.Unhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
				var requests []string
				if tt.status != 0 {
					l, err := e.net.Listen("t1", 8080)
					require.NoError(t, err)
					srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						requests = append(requests, r.URL.String())
						w.WriteHeader(tt.status)
					})}
					go func() { _ = srv.Serve(l) }()
					t.Cleanup(func() { _ = srv.Close() })
				}
				e.runTask(e.register(fmt.Sprintf(def, tt.command)), "t1")
				e.start()
				advance(7 * time.Second)
				assert.Equal(t, tt.at7s, e.task("t1").Container("app").HealthStatus)
				advance(10 * time.Second)
				tk := e.task("t1")
				assert.Equal(t, tt.at17s, tk.Container("app").HealthStatus)
				assert.Equal(t, tt.at17s, tk.HealthStatus)
				assert.Empty(t, tk.Container("app").Reason)
				assert.Empty(t, e.rt.CallsTo(fake.MethodExec), "network checks exec nothing")
				if tt.command[2] == 'H' && tt.status != 0 {
					assert.Len(t, requests, 3, "one request per check")
					assert.Equal(t, "/healthz", requests[0])
				}
			})
		})
	}
}

// providerOnly hides the fake's TaskDialer: a provider that cannot dial
// into tasks.
type providerOnly struct{ network.Provider }

func TestNetworkHealthCheckWithoutTaskDialer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.cfg.Network = providerOnly{e.net}
		e.runTask(e.register(`{
		  "family": "probed",
		  "networkMode": "awsvpc",
		  "containerDefinitions": [
		    {"name": "app", "image": "app", "memory": 32,
		     "healthCheck": {"command": ["TCP", "8080"], "interval": 5, "retries": 2}}
		  ]
		}`), "t1")
		e.start()
		tk := e.task("t1")
		require.Equal(t, task.Running, tk.LastStatus)
		c := tk.Container("app")
		assert.Contains(t, c.Reason, "HealthCheckError: TCP health checks need a network provider that dials into tasks (network.TaskDialer)",
			"the reason is recorded at once")
		assert.Equal(t, task.HealthUnknown, c.HealthStatus)
		advance(12 * time.Second)
		assert.Equal(t, task.Unhealthy, e.task("t1").Container("app").HealthStatus, "it fails like a failing check, after retries")
	})
}
