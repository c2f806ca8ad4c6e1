package agent

import (
	"context"
	"errors"
	"github.com/stevedore-io/stevedore/secrets"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/task"
)

func TestContainerID(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)
	long := strings.Repeat("a", 32)
	tests := []struct {
		name, taskID, container string
		want                    string // "" means: hashed form
	}{
		{name: "plain", taskID: "0123abcd", container: "web", want: "0123abcd-web"},
		{name: "underscore", taskID: "t1", container: "my_app", want: "t1-my_app"},
		{name: "double separator", taskID: "t1", container: "_app"},
		{name: "too long", taskID: long, container: strings.Repeat("c", 60)},
		{name: "odd task ID", taskID: "a/b c", container: "web"},
		{name: "nothing usable", taskID: "//", container: "__"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ContainerID(tt.taskID, tt.container)
			assert.Regexp(t, valid, id)
			assert.LessOrEqual(t, len(id), maxContainerIDLen)
			assert.Equal(t, id, ContainerID(tt.taskID, tt.container), "deterministic")
			if tt.want != "" {
				assert.Equal(t, tt.want, id)
			}
		})
		id := ContainerID(tt.taskID, tt.container)
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share ID %s", other, tt.name, id)
		}
		seen[id] = tt.name
	}
	// Names that clean up the same still get different IDs.
	assert.NotEqual(t, ContainerID("t1", "a__b"), ContainerID("t1", "a_-b"))
}

func TestCheckDependencies(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 10, 0, 0, time.UTC)
	code := func(c int) *int { return &c }
	hc := &task.HealthCheck{Command: []string{"CMD", "true"}}
	dep := func(c ctr) *ctr {
		c.name = "dep"
		if c.def == nil {
			c.def = &task.ContainerDefinition{Name: "dep", HealthCheck: hc}
		}
		return &c
	}
	tests := []struct {
		name     string
		dep      *ctr
		cond     task.DependencyCondition
		want     verdict
		why      string
		deadline time.Time
	}{
		{name: "START not started", dep: dep(ctr{created: true}), cond: task.ConditionStart, want: wait},
		{name: "START started", dep: dep(ctr{started: true}), cond: task.ConditionStart, want: ready},
		{name: "START abandoned", dep: dep(ctr{abandoned: true, exited: true}), cond: task.ConditionStart, want: never, why: "dependency START can never be met: dep never started"},
		{name: "COMPLETE running", dep: dep(ctr{started: true, startedAt: now.Add(-time.Minute)}), cond: task.ConditionComplete, want: wait, deadline: now.Add(2 * time.Minute)},
		{name: "COMPLETE exited non-zero", dep: dep(ctr{started: true, exited: true, exitCode: code(3)}), cond: task.ConditionComplete, want: ready},
		{name: "SUCCESS exited 0", dep: dep(ctr{started: true, exited: true, exitCode: code(0)}), cond: task.ConditionSuccess, want: ready},
		{name: "SUCCESS exited 1", dep: dep(ctr{started: true, exited: true, exitCode: code(1)}), cond: task.ConditionSuccess, want: never, why: "dependency SUCCESS can never be met: dep exited with code 1, not 0"},
		{name: "SUCCESS unknown code", dep: dep(ctr{started: true, exited: true}), cond: task.ConditionSuccess, want: never, why: "dependency SUCCESS can never be met: dep exited with an unknown code, not 0"},
		{name: "HEALTHY healthy", dep: dep(ctr{started: true, health: health.Healthy}), cond: task.ConditionHealthy, want: ready},
		{name: "HEALTHY unhealthy", dep: dep(ctr{started: true, startedAt: now.Add(-time.Minute), health: health.Unhealthy}), cond: task.ConditionHealthy, want: wait, deadline: now.Add(2 * time.Minute)},
		{name: "HEALTHY exited", dep: dep(ctr{started: true, exited: true, health: health.Healthy}), cond: task.ConditionHealthy, want: never, why: "dependency HEALTHY can never be met: dep exited before it was healthy"},
		{name: "HEALTHY without check", dep: dep(ctr{started: true, def: &task.ContainerDefinition{Name: "dep"}}), cond: task.ConditionHealthy, want: never, why: "dependency HEALTHY can never be met: dep has no health check"},
		{name: "startTimeout of the dependency", dep: dep(ctr{started: true, startedAt: now.Add(-time.Minute), def: &task.ContainerDefinition{Name: "dep", StartTimeoutSeconds: new(90)}}), cond: task.ConditionComplete, want: wait, deadline: now.Add(30 * time.Second)},
		{name: "timed out", dep: dep(ctr{started: true, startedAt: now.Add(-3 * time.Minute)}), cond: task.ConditionComplete, want: never, why: "dependency dep did not become COMPLETE within 3m0s (startTimeout)"},
		{name: "unknown condition", dep: dep(ctr{started: true}), cond: "LATER", want: never, why: `dependency LATER can never be met: unknown condition "LATER" on dep`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &ctr{name: "app", created: true, def: &task.ContainerDefinition{Name: "app",
				DependsOn: []task.ContainerDependency{{ContainerName: "dep", Condition: tt.cond}}}}
			v, why, deadline := checkDependencies(c, map[string]*ctr{"app": c, "dep": tt.dep}, now, DefaultStartTimeout)
			assert.Equal(t, tt.want, v)
			assert.Equal(t, tt.why, why)
			assert.Equal(t, tt.deadline, deadline)
		})
	}
}

func TestNetworkRequestAndBindings(t *testing.T) {
	t.Parallel()
	def := &task.TaskDefinition{
		NetworkMode: task.NetworkBridge,
		ContainerDefinitions: []task.ContainerDefinition{
			{Name: "a", Hostname: "first", PortMappings: []task.PortMapping{{ContainerPort: 80}, {ContainerPort: 53, Protocol: task.ProtocolUDP}},
				DNSServers: []string{"10.0.0.2"}, DNSSearchDomains: []string{"corp"}},
			{Name: "b", Hostname: "second", PortMappings: []task.PortMapping{{ContainerPort: 80, HostPort: 8080}},
				DNSServers: []string{"10.0.0.2", "10.0.0.3"}, DNSSearchDomains: []string{"corp", "svc"}},
		},
	}
	req, owners, err := networkRequest("t1", def)
	require.NoError(t, err)
	assert.Equal(t, &network.Request{
		TaskID: "t1", Mode: network.ModeBridge, Hostname: "first",
		PortMappings: []network.PortMapping{{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"}, {ContainerPort: 80, HostPort: 8080, Protocol: "tcp"}},
		DNS:          network.DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}, Search: []string{"corp", "svc"}},
	}, req)

	// Bindings in request order, or matched by port when a provider
	// reorders them.
	for _, bindings := range [][]network.PortBinding{
		{{ContainerPort: 80, HostPort: 49153, Protocol: "tcp"}, {ContainerPort: 53, HostPort: 49154, Protocol: "udp"}, {ContainerPort: 80, HostPort: 8080, Protocol: "tcp"}},
		{{ContainerPort: 53, HostPort: 49154, Protocol: "udp"}, {ContainerPort: 80, HostPort: 49153, Protocol: "tcp"}, {ContainerPort: 80, HostPort: 8080, Protocol: "tcp"}},
	} {
		got := networkBindings(&network.Attachment{Mode: network.ModeBridge, PortBindings: bindings}, owners)
		assert.Equal(t, map[string][]task.NetworkBinding{
			"a": {{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 49153, Protocol: "tcp"}, {BindIP: "0.0.0.0", ContainerPort: 53, HostPort: 49154, Protocol: "udp"}},
			"b": {{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 8080, Protocol: "tcp"}},
		}, got)
	}

	_, _, err = networkRequest("t1", &task.TaskDefinition{ContainerDefinitions: []task.ContainerDefinition{{Name: "a", DNSServers: []string{"nope"}}}})
	assert.ErrorContains(t, err, "container a: dnsServers[0]")
}

type mapResolver map[string]string

func (m mapResolver) Resolve(_ context.Context, req secrets.Request) (string, error) {
	if v, ok := m[req.ValueFrom]; ok {
		return v, nil
	}
	return "", errors.New("not found")
}

func TestRegistryAuth(t *testing.T) {
	t.Parallel()
	c := &task.ContainerDefinition{Name: "app", Image: "registry.example.com:5000/team/app:1", RepositoryCredentials: &task.RepositoryCredentials{CredentialsParameter: "ref"}}
	tests := []struct {
		name    string
		value   string
		want    *runtime.Auth
		wantErr bool
	}{
		{name: "json", value: `{"username":"u","password":"p:w"}`, want: &runtime.Auth{Username: "u", Password: "p:w"}},
		{name: "colon", value: "u:p:w", want: &runtime.Auth{Username: "u", Password: "p:w"}},
		{name: "bad json", value: `{"username": "u", "password": "SECRETVALUE"`, wantErr: true},
		{name: "no colon", value: "SECRETVALUE", wantErr: true},
		{name: "no user", value: `{"password":"SECRETVALUE"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := registryAuth(context.Background(), mapResolver{"ref": tt.value}, secrets.Request{}, c)
			if tt.wantErr {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "SECRETVALUE")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	got, err := registryAuth(context.Background(), nil, secrets.Request{}, &task.ContainerDefinition{Name: "plain"})
	require.NoError(t, err)
	assert.Nil(t, got)
	_, err = registryAuth(context.Background(), nil, secrets.Request{}, c)
	assert.ErrorIs(t, err, ErrNoSecretResolver)
}

func TestTaskVolumes(t *testing.T) {
	t.Parallel()
	def := &task.TaskDefinition{Volumes: []task.Volume{
		{Name: "scratch"},
		{Name: "empty-host", Host: &task.HostVolumeProperties{}},
		{Name: "host", Host: &task.HostVolumeProperties{SourcePath: "/data"}},
		{Name: "shared", DockerVolumeConfiguration: &task.DockerVolumeConfiguration{Scope: "shared"}},
		{Name: "../escape"},
	}}
	paths, create := taskVolumes(def, "/state/tasks/t1", "/state/volumes")
	assert.Equal(t, map[string]string{
		"scratch":    "/state/tasks/t1/volumes/scratch",
		"empty-host": "/state/tasks/t1/volumes/empty-host",
		"host":       "/data",
		"shared":     "/state/volumes/shared",
		"../escape":  "/state/tasks/t1/volumes/.._escape",
	}, paths)
	assert.Equal(t, []string{"/state/tasks/t1/volumes/scratch", "/state/tasks/t1/volumes/empty-host",
		"/state/volumes/shared", "/state/tasks/t1/volumes/.._escape"}, create)
}

func TestValidContainerIDMatchesThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)
	for _, id := range []string{"", "a", "a-b", "a--b", "-a", "a-", "a.b_c-d", "a b", "ä", "A9", "a..b", "_", "t1-app"} {
		assert.Equal(t, pattern.MatchString(id), validContainerID(id), "%q", id)
	}
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.StringOfN(rapid.SampledFrom([]rune("aZ09._- /é")), 0, 12, -1).Draw(t, "id")
		if pattern.MatchString(id) != validContainerID(id) {
			t.Fatalf("%q: pattern %v, validContainerID %v", id, pattern.MatchString(id), validContainerID(id))
		}
	})
}

// TestSecretsAreAskedForWithTheTaskAndTheRegistry: the agent names the task
// (cluster, family, execution role) in every secret request, and the
// registry of the image for registry credentials, so that a scoped
// resolver hands registry credentials only to their registry and secrets
// only to the tasks granted them.
func TestSecretsAreAskedForWithTheTaskAndTheRegistry(t *testing.T) {
	t.Parallel()
	mem := secrets.NewMemory(map[string]string{"creds": "u:p", "db": "pw"})
	scoped, err := secrets.NewScoped(mem,
		secrets.Grant{Secrets: []string{"creds"}, Registries: []string{"registry.example.com:5000"}, Families: []string{"web"}},
		secrets.Grant{Secrets: []string{"db"}, ExecutionRoles: []string{"arn:aws:iam::1:role/web"}},
	)
	require.NoError(t, err)
	web := secrets.Request{Cluster: "prod", Family: "web", ExecutionRoleARN: "arn:aws:iam::1:role/web"}
	c := &task.ContainerDefinition{Name: "app", Image: "registry.example.com:5000/team/app:1",
		RepositoryCredentials: &task.RepositoryCredentials{CredentialsParameter: "creds"},
		Secrets:               []task.Secret{{Name: "DB", ValueFrom: "db"}}}

	auth, err := registryAuth(context.Background(), scoped, web, c)
	require.NoError(t, err)
	assert.Equal(t, &runtime.Auth{Username: "u", Password: "p"}, auth)
	env, err := resolveSecrets(context.Background(), scoped, web, c)
	require.NoError(t, err)
	assert.Equal(t, []string{"DB=pw"}, env)

	other := *c
	other.Image = "elsewhere.example.net/team/app:1"
	_, err = registryAuth(context.Background(), scoped, web, &other)
	assert.ErrorIs(t, err, secrets.ErrDenied, "credentials go only to the registry they were issued for")

	asCreds := *c
	asCreds.Secrets = []task.Secret{{Name: "LEAK", ValueFrom: "creds"}}
	_, err = resolveSecrets(context.Background(), scoped, web, &asCreds)
	assert.ErrorIs(t, err, secrets.ErrDenied, "registry credentials never land in the environment")

	batch := secrets.Request{Cluster: "prod", Family: "batch", ExecutionRoleARN: "arn:aws:iam::1:role/batch"}
	_, err = resolveSecrets(context.Background(), scoped, batch, c)
	assert.ErrorIs(t, err, secrets.ErrDenied, "a task without the execution role gets no secret")
	assert.NotContains(t, err.Error(), "pw")
}
