package agent_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// images scripts the containers of the dependsOn tests.
func dependsOnImages(initCode int, dbExec fake.ExecScript) []fake.Option {
	return []fake.Option{
		fake.WithImage("init", fake.Behavior{RunFor: 10 * time.Second, ExitCode: initCode}),
		fake.WithImage("migrate", fake.Behavior{RunFor: 3 * time.Second, ExitCode: 4}),
		fake.WithImage("db", fake.Behavior{RunFor: fake.Forever, Exec: dbExec}),
		fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}),
		fake.WithImage("sidecar", fake.Behavior{RunFor: fake.Forever}),
	}
}

func TestDependsOnOrder(t *testing.T) {
	t.Parallel()
	const def = `{
	  "family": "deps",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "sidecar", "image": "sidecar", "memory": 32, "essential": false,
	     "dependsOn": [{"containerName": "app", "condition": "START"}]},
	    {"name": "app", "image": "app", "memory": 32,
	     "dependsOn": [{"containerName": "db", "condition": "HEALTHY"},
	                   {"containerName": "init", "condition": "SUCCESS"},
	                   {"containerName": "migrate", "condition": "COMPLETE"}]},
	    {"name": "init", "image": "init", "memory": 32, "essential": false},
	    {"name": "migrate", "image": "migrate", "memory": 32, "essential": false},
	    {"name": "db", "image": "db", "memory": 32,
	     "healthCheck": {"command": ["CMD-SHELL", "pg_isready"], "interval": 5, "retries": 3}}
	  ]
	}`
	synctest.Test(t, func(t *testing.T) {
		// db fails its checks at 5 s and 10 s and passes at 15 s.
		e := newEnv(t, dependsOnImages(0, fake.HealthyAfter(12*time.Second))...)
		e.runTask(e.register(def), "t1")
		t0 := time.Now()
		e.start()
		advance(10 * time.Second)
		assert.Equal(t, task.Pending, e.task("t1").LastStatus, "app waits for db")
		advance(time.Minute)

		// init, migrate and db start at once (definition order); app once
		// db is HEALTHY (15 s), init exited 0 (10 s) and migrate exited
		// (3 s, code 4: COMPLETE does not care); sidecar right after app.
		assert.Equal(t, []string{"init@0s", "migrate@0s", "db@0s", "app@15s", "sidecar@15s"}, e.starts(t0))
		tk := e.task("t1")
		require.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, 15*time.Second, tk.StartedAt.Sub(t0), "RUNNING once every essential container runs")
		assert.Equal(t, 0, *tk.Container("init").ExitCode)
		assert.Equal(t, 4, *tk.Container("migrate").ExitCode)
		assert.Equal(t, task.Healthy, tk.Container("db").HealthStatus)

		// Stop: sidecar first, then app, then db (reverse order).
		t1 := time.Now()
		e.stopTask("t1", "bye")
		advance(time.Minute)
		var order []string
		for _, c := range e.rt.CallsTo(fake.MethodSignal) {
			order = append(order, c.ID)
			assert.Equal(t, t1, c.Time, "every container exits on SIGTERM at once")
		}
		assert.Equal(t, []string{"t1-sidecar", "t1-app", "t1-db"}, order)
		assert.Equal(t, task.Stopped, e.task("t1").LastStatus)
	})
}

func TestDependencyNeverMet(t *testing.T) {
	const appOnInit = `{
	  "family": "deps",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "app", "image": "app", "memory": 32,
	     "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
	    {"name": "init", "image": "init", "memory": 32, "essential": false}
	  ]
	}`
	const appOnDB = `{
	  "family": "deps",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "app", "image": "app", "memory": 32,
	     "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
	    {"name": "db", "image": "db", "memory": 32, %s
	     "healthCheck": {"command": ["CMD", "true"], "interval": 5, "retries": 1}}
	  ]
	}`
	const sidecarOnInit = `{
	  "family": "deps",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "app", "image": "app", "memory": 32},
	    {"name": "sidecar", "image": "sidecar", "memory": 32, "essential": false,
	     "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
	    {"name": "init", "image": "init", "memory": 32, "essential": false}
	  ]
	}`
	tests := []struct {
		name         string
		def          string
		initCode     int
		startTimeout time.Duration // Config.StartTimeout
		wantStopAt   time.Duration
		wantReason   string
	}{
		{
			name:       "SUCCESS of a container that failed",
			def:        appOnInit,
			initCode:   1,
			wantStopAt: 10 * time.Second,
			wantReason: "DependencyError: container app: dependency SUCCESS can never be met: init exited with code 1, not 0",
		},
		{
			name:       "HEALTHY past the dependency's startTimeout",
			def:        sprintf(appOnDB, `"startTimeout": 20,`),
			wantStopAt: 20 * time.Second,
			wantReason: "DependencyError: container app: dependency db did not become HEALTHY within 20s (startTimeout)",
		},
		{
			name:         "HEALTHY past the agent's start timeout",
			def:          sprintf(appOnDB, ""),
			startTimeout: time.Minute,
			wantStopAt:   time.Minute,
			wantReason:   "DependencyError: container app: dependency db did not become HEALTHY within 1m0s (startTimeout)",
		},
		{
			name:       "non-essential container given up",
			def:        sidecarOnInit,
			initCode:   1,
			wantReason: "DependencyError: container sidecar: dependency SUCCESS can never be met: init exited with code 1, not 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, dependsOnImages(tt.initCode, fake.ExecCodes(1))...)
				e.cfg.StartTimeout = tt.startTimeout
				e.runTask(e.register(tt.def), "t1")
				t0 := time.Now()
				e.start()
				advance(5 * time.Minute)
				tk := e.task("t1")
				if tt.wantStopAt == 0 {
					require.Equal(t, task.Running, tk.LastStatus)
					sidecar := tk.Container("sidecar")
					assert.Equal(t, task.ContainerStopped, sidecar.LastStatus)
					assert.Nil(t, sidecar.ExitCode)
					assert.Equal(t, tt.wantReason, sidecar.Reason)
					_, created := e.rt.Container("t1-sidecar")
					assert.True(t, created)
					for _, c := range e.rt.CallsTo(fake.MethodStart) {
						assert.NotEqual(t, "t1-sidecar", c.ID)
					}
					return
				}
				require.Equal(t, task.Stopped, tk.LastStatus)
				assert.Equal(t, task.TaskFailedToStart, tk.StopCode)
				assert.Equal(t, tt.wantReason, tk.StoppedReason)
				assert.Equal(t, tt.wantReason, tk.Container("app").Reason)
				assert.Equal(t, tt.wantStopAt, tk.StoppingAt.Sub(t0))
				for _, c := range e.rt.CallsTo(fake.MethodStart) {
					assert.NotEqual(t, "t1-app", c.ID, "app never started")
				}
				assert.Empty(t, e.rt.Containers())
			})
		})
	}
}
