package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/secrets"
	"github.com/stevedore-io/stevedore/task"
)

func TestHealthChecks(t *testing.T) {
	const def = `{
	  "family": "checked",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "app", "image": "app", "memory": 32,
	     "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/"], "interval": 5, "retries": %d}},
	    {"name": "side", "image": "side", "memory": 32, "essential": false,
	     "healthCheck": {"command": ["CMD", "false"], "interval": 5, "retries": 1}}
	  ]
	}`
	tests := []struct {
		name    string
		script  fake.ExecScript
		retries int
		// health of app (and of the task) at 12 s and at 2 min
		at12s, at2m task.HealthStatus
		want        []task.HealthStatus
	}{
		{
			name:    "healthy then unhealthy",
			script:  fake.HealthyFor(20 * time.Second),
			retries: 2,
			at12s:   task.Healthy,
			at2m:    task.Unhealthy,
			want:    []task.HealthStatus{task.HealthUnknown, task.Healthy, task.Unhealthy},
		},
		{
			name:    "slow start",
			script:  fake.FailFirst(2),
			retries: 3,
			at12s:   task.HealthUnknown,
			at2m:    task.Healthy,
			want:    []task.HealthStatus{task.HealthUnknown, task.Healthy},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t,
					fake.WithImage("app", fake.Behavior{RunFor: fake.Forever, Exec: tt.script}),
					fake.WithImage("side", fake.Behavior{RunFor: fake.Forever}))
				e.runTask(e.register(fmt.Sprintf(def, tt.retries)), "t1")
				e.start()
				advance(12 * time.Second)
				tk := e.task("t1")
				assert.Equal(t, tt.at12s, tk.Container("app").HealthStatus)
				assert.Equal(t, tt.at12s, tk.HealthStatus)
				assert.Equal(t, task.Unhealthy, tk.Container("side").HealthStatus, "side fails its check")

				advance(2 * time.Minute)
				tk = e.task("t1")
				assert.Equal(t, tt.at2m, tk.Container("app").HealthStatus)
				assert.Equal(t, tt.at2m, tk.HealthStatus, "task health follows the essential container only")
				assert.Equal(t, tt.want, e.healths("t1", "app"))
				assert.Equal(t, tt.want, e.healths("t1", ""))
				assert.Equal(t, task.Running, tk.LastStatus, "the agent does not stop unhealthy tasks")

				// The checks run in the container, as the definition says.
				execs := e.rt.CallsTo(fake.MethodExec)
				require.NotEmpty(t, execs)
				assert.Contains(t, execs, fake.Call{Method: fake.MethodExec, ID: "t1-app",
					Cmd: []string{"/bin/sh", "-c", "curl -f http://localhost/"}, Time: execs[0].Time})

				// No check after the task stopped.
				e.stopTask("t1", "bye")
				advance(time.Minute)
				n := len(e.rt.CallsTo(fake.MethodExec))
				advance(time.Minute)
				assert.Len(t, e.rt.CallsTo(fake.MethodExec), n)
			})
		})
	}
}

// secretMap is a SecretResolver backed by a map.
type secretMap map[string]string

func (s secretMap) Resolve(_ context.Context, req secrets.Request) (string, error) {
	v, ok := s[req.ValueFrom]
	if !ok {
		return "", fmt.Errorf("secret %s: %w", req.ValueFrom, os.ErrNotExist)
	}
	return v, nil
}

func TestSecrets(t *testing.T) {
	const def = `{
	  "family": "secret",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [{
	    "name": "app", "image": "registry.example/app:1", "memory": 32,
	    "repositoryCredentials": {"credentialsParameter": "arn:secret:registry"},
	    "environment": [{"name": "PLAIN", "value": "visible"}],
	    "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:secret:db"}]
	  }]
	}`
	const (
		dbPassword       = "s3cr3t-db-value-8f2a"
		registryPassword = "s3cr3t-registry-value-77c1"
	)
	tests := []struct {
		name       string
		resolver   secretMap
		noResolver bool
		wantReason string
	}{
		{
			name:     "resolved",
			resolver: secretMap{"arn:secret:db": dbPassword, "arn:secret:registry": `{"username":"bob","password":"` + registryPassword + `"}`},
		},
		{
			name:       "no resolver",
			noResolver: true,
			wantReason: "ResourceInitializationError: unable to pull secrets or registry auth: container app: repositoryCredentials (arn:secret:registry): agent: no secret resolver configured",
		},
		{
			name:       "unknown secret",
			resolver:   secretMap{"arn:secret:registry": "bob:" + registryPassword},
			wantReason: "ResourceInitializationError: unable to pull secrets or registry auth: container app: secrets[0] (DB_PASSWORD from arn:secret:db): secret arn:secret:db: file does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fake.WithImage("registry.example/app:1", fake.Behavior{RunFor: fake.Forever}))
				if !tt.noResolver {
					e.cfg.Secrets = tt.resolver
				}
				var logs bytes.Buffer
				var logsMu sync.Mutex
				e.cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&logsMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
				e.runTask(e.register(def), "t1")
				e.start()
				advance(time.Minute)
				tk := e.task("t1")
				if tt.wantReason != "" {
					require.Equal(t, task.Stopped, tk.LastStatus)
					assert.Equal(t, task.TaskFailedToStart, tk.StopCode)
					assert.Equal(t, tt.wantReason, tk.StoppedReason)
				} else {
					require.Equal(t, task.Running, tk.LastStatus)
					creates := e.rt.CallsTo(fake.MethodCreate)
					require.Len(t, creates, 1)
					assert.Equal(t, []string{"PLAIN=visible", "DB_PASSWORD=" + dbPassword}, creates[0].Spec.Env)
					pulls := e.rt.CallsTo(fake.MethodEnsureImage)
					require.Len(t, pulls, 1)
					assert.Equal(t, &runtime.Auth{Username: "bob", Password: registryPassword}, pulls[0].Auth)
				}
				e.stopTask("t1", "bye")
				advance(time.Minute)

				stored := e.storedJSON()
				assert.Contains(t, stored, "visible", "the check sees the stored environment")
				assert.NotContains(t, stored, dbPassword)
				assert.NotContains(t, stored, registryPassword)
				logsMu.Lock()
				defer logsMu.Unlock()
				assert.NotContains(t, logs.String(), dbPassword)
				assert.NotContains(t, logs.String(), registryPassword)
			})
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logSink keeps every container's output.
type logSink struct {
	mu  sync.Mutex
	out map[string]*bytes.Buffer
}

func (s *logSink) Writers(taskID, container string) (io.Writer, io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		s.out = map[string]*bytes.Buffer{}
	}
	key := taskID + "/" + container
	s.out[key] = &bytes.Buffer{}
	return lockedWriter{&s.mu, s.out[key]}, nil
}

func (s *logSink) get(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out[key].String()
}

func (s *logSink) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.out[key]
	return ok
}

// TestLogDriverNoneCapturesNothing: a container whose logDriver is "none"
// has its output captured by no sink; its neighbour's is.
func TestLogDriverNoneCapturesNothing(t *testing.T) {
	const def = `{
	  "family": "quiet",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "quiet", "image": "app", "memory": 32, "logConfiguration": {"logDriver": "none"}},
	    {"name": "loud", "image": "app", "memory": 32, "logConfiguration": {"logDriver": "json-file"}}
	  ]
	}`
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever, Stdout: []string{"hello"}}))
		sink := &logSink{}
		e.cfg.Logs = sink
		e.runTask(e.register(def), "t1")
		e.start()
		advance(time.Second)
		require.Equal(t, task.Running, e.task("t1").LastStatus)
		assert.False(t, sink.has("t1/quiet"), "nothing captured with logDriver none")
		assert.Equal(t, "hello\n", sink.get("t1/loud"))
	})
}

func TestLogsVolumesAndNetworkFiles(t *testing.T) {
	const def = `{
	  "family": "files",
	  "networkMode": "awsvpc",
	  "volumes": [{"name": "scratch"}, {"name": "hostdir", "host": {"sourcePath": "/srv/shared"}}],
	  "containerDefinitions": [
	    {"name": "app", "image": "app", "memory": 32,
	     "portMappings": [{"containerPort": 80}],
	     "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"},
	                     {"sourceVolume": "hostdir", "containerPath": "/shared", "readOnly": true}]},
	    {"name": "reader", "image": "app", "memory": 32, "essential": false,
	     "volumesFrom": [{"sourceContainer": "app", "readOnly": true}]}
	  ]
	}`
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever, Stdout: []string{"hello"}}))
		e.net = netfake.New(netfake.WithFilesDir(t.TempDir()))
		e.cfg.Network = e.net
		sink := &logSink{}
		e.cfg.Logs = sink
		e.runTask(e.register(def), "t1")
		e.start()
		advance(time.Second)
		tk := e.task("t1")
		require.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, "hello\n", sink.get("t1/app"))

		att := tk.Network
		require.NotNil(t, att)
		assert.Equal(t, []task.NetworkBinding{{BindIP: att.Address.Addr().String(), ContainerPort: 80, HostPort: 80, Protocol: "tcp"}},
			tk.Container("app").NetworkBindings, "awsvpc ports are reached at the task's address")

		scratch := filepath.Join(e.cfg.StateDir, "tasks", "t1", "volumes", "scratch")
		assert.DirExists(t, scratch)
		app, ok := e.rt.Container("t1-app")
		require.True(t, ok)
		assert.Equal(t, []runtime.Mount{
			{Source: att.HostsPath, Destination: "/etc/hosts", ReadOnly: true},
			{Source: att.ResolvConfPath, Destination: "/etc/resolv.conf", ReadOnly: true},
			{Source: scratch, Destination: "/scratch"},
			{Source: "/srv/shared", Destination: "/shared", ReadOnly: true},
		}, app.Spec.Mounts)
		reader, ok := e.rt.Container("t1-reader")
		require.True(t, ok)
		assert.Equal(t, []runtime.Mount{
			{Source: att.HostsPath, Destination: "/etc/hosts", ReadOnly: true},
			{Source: att.ResolvConfPath, Destination: "/etc/resolv.conf", ReadOnly: true},
			{Source: scratch, Destination: "/scratch", ReadOnly: true},
			{Source: "/srv/shared", Destination: "/shared", ReadOnly: true},
		}, reader.Spec.Mounts)

		e.stopTask("t1", "bye")
		advance(time.Minute)
		require.Equal(t, task.Stopped, e.task("t1").LastStatus)
		assert.NoDirExists(t, filepath.Join(e.cfg.StateDir, "tasks", "t1"), "task volumes removed")
	})
}

func TestHostMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(`{"family": "h", "networkMode": "host",
		  "containerDefinitions": [{"name": "app", "image": "app", "memory": 32, "portMappings": [{"containerPort": 8080}]}]}`), "t1")
		e.start()
		advance(time.Second)
		tk := e.task("t1")
		require.Equal(t, task.Running, tk.LastStatus)
		assert.Equal(t, network.ModeHost, tk.Network.Mode)
		c, _ := e.rt.Container("t1-app")
		assert.True(t, c.Spec.HostNetwork)
		assert.Empty(t, c.Spec.NetNSPath)
		assert.Equal(t, []task.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 8080, HostPort: 8080, Protocol: "tcp"}}, tk.Container("app").NetworkBindings)
	})
}

func TestEnvironmentFilesAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.runTask(e.register(`{"family": "f", "networkMode": "awsvpc",
		  "containerDefinitions": [{"name": "app", "image": "app", "memory": 32,
		    "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}]}]}`), "t1")
		e.start()
		advance(time.Second)
		tk := e.task("t1")
		require.Equal(t, task.Stopped, tk.LastStatus)
		assert.Equal(t, "CannotCreateContainerError: environmentFiles are not supported by this agent", tk.StoppedReason)
		assert.Empty(t, e.rt.CallsTo(fake.MethodCreate))
	})
}

// TestVerifyImageAccess: a private image pulled onto the host with one
// task's credentials serves a task without credentials only when the agent
// does not check access.
func TestVerifyImageAccess(t *testing.T) {
	t.Parallel()
	const withCreds = `{"family": "a", "containerDefinitions": [{"name": "app", "image": "registry.example/private:1", "memory": 64,
	  "repositoryCredentials": {"credentialsParameter": "creds"}}]}`
	const withoutCreds = `{"family": "b", "containerDefinitions": [{"name": "app", "image": "registry.example/private:1", "memory": 64}]}`
	for _, verify := range []bool{false, true} {
		t.Run(fmt.Sprint("verify=", verify), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fake.WithImage("registry.example/private:1",
					fake.Behavior{RunFor: fake.Forever, PullAuth: &runtime.Auth{Username: "bob", Password: "pw"}}))
				e.cfg.Secrets = secretMap{"creds": "bob:pw"}
				e.cfg.VerifyImageAccess = verify
				e.runTask(e.register(withCreds), "owner")
				e.start()
				advance(time.Minute)
				require.Equal(t, task.Running, e.task("owner").LastStatus)

				e.runTask(e.register(withoutCreds), "other")
				advance(time.Minute)
				other := e.task("other")
				if !verify {
					assert.Equal(t, task.Running, other.LastStatus, "the local image serves it")
					return
				}
				require.Equal(t, task.Stopped, other.LastStatus)
				assert.Equal(t, task.TaskFailedToStart, other.StopCode)
				assert.Contains(t, other.StoppedReason, "CannotPullContainerError: the task's credentials cannot pull the image on this host")
				assert.Equal(t, task.Running, e.task("owner").LastStatus, "the owner's task is untouched")
			})
		})
	}
}

// TestPrivilegedContainerRunsPrivileged: a container whose definition asks
// for privileged (the task policies let it when the task was placed) is
// created privileged, and its neighbour is not.
func TestPrivilegedContainerRunsPrivileged(t *testing.T) {
	const def = `{
	  "family": "system",
	  "networkMode": "awsvpc",
	  "containerDefinitions": [
	    {"name": "driver", "image": "app", "memory": 32, "privileged": true},
	    {"name": "app", "image": "app", "memory": 32}
	  ]
	}`
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("app", fake.Behavior{RunFor: fake.Forever}))
		e.runTask(e.register(def), "t1")
		e.start()
		advance(time.Second)
		tk := e.task("t1")
		require.Equal(t, task.Running, tk.LastStatus)
		driver, ok := e.rt.Container(tk.Container("driver").RuntimeID)
		require.True(t, ok)
		assert.True(t, driver.Spec.Privileged)
		app, ok := e.rt.Container(tk.Container("app").RuntimeID)
		require.True(t, ok)
		assert.False(t, app.Spec.Privileged)
	})
}
