package discovery

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

func TestFromTask(t *testing.T) {
	t.Parallel()
	running := func() *task.Task {
		return &task.Task{
			TaskARN:              "arn:stevedore:ecs:local:task/prod/abc123",
			ClusterARN:           "prod",
			ContainerInstanceARN: "i-1",
			TaskDefinitionARN:    "arn:stevedore:ecs:local:task-definition/web:3",
			Group:                "service:web",
			LastStatus:           task.Running,
			DesiredStatus:        task.Running,
			Containers:           []task.Container{{Name: "app", Essential: true}},
		}
	}
	awsvpc := func() *network.Attachment {
		return &network.Attachment{
			TaskID:  "abc123",
			Mode:    network.ModeAWSVPC,
			Address: netip.MustParsePrefix("10.88.0.5/16"),
			PortBindings: []network.PortBinding{
				{ContainerPort: 53, HostPort: 53, Protocol: network.ProtocolUDP},
				{ContainerPort: 80, HostPort: 80, Protocol: network.ProtocolTCP},
				{ContainerPort: 9090, HostPort: 9090, Protocol: network.ProtocolTCP},
			},
		}
	}
	bridge := func() *network.Attachment {
		a := awsvpc()
		a.Mode = network.ModeBridge
		a.PortBindings = []network.PortBinding{{ContainerPort: 80, HostPort: 49153, Protocol: network.ProtocolTCP}}
		return a
	}
	host := netip.MustParseAddr("192.0.2.10")
	attrs := map[string]string{
		AttrCluster: "prod", AttrTaskDefinition: "web:3", AttrContainerInstance: "i-1", AttrNetworkMode: "awsvpc",
	}

	tests := []struct {
		name   string
		task   func(*task.Task)
		att    func() *network.Attachment
		opts   TaskOptions
		want   Instance // Attributes checked separately
		wantOK bool
	}{
		{name: "awsvpc running", att: awsvpc, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80, Healthy: true}},
		{name: "activating", task: func(t *task.Task) { t.LastStatus = task.Activating }, att: awsvpc, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80, Healthy: true}},
		{name: "chosen port", att: awsvpc, opts: TaskOptions{ContainerPort: 9090}, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 9090, Healthy: true}},
		{name: "chosen port missing", att: awsvpc, opts: TaskOptions{ContainerPort: 1}, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Healthy: true}},
		{name: "udp only", att: func() *network.Attachment {
			a := awsvpc()
			a.PortBindings = a.PortBindings[:1]
			return a
		}, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 53, Healthy: true}},
		{name: "no ports", att: func() *network.Attachment {
			a := awsvpc()
			a.PortBindings = nil
			return a
		}, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Healthy: true}},
		{name: "overrides", att: awsvpc, opts: TaskOptions{Service: "api", Namespace: "blue"}, wantOK: true,
			want: Instance{Service: "api", Namespace: "blue", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80, Healthy: true}},
		{name: "cluster not a label", task: func(t *task.Task) { t.ClusterARN = "my.cluster" }, att: awsvpc, wantOK: true,
			want: Instance{Service: "web", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80, Healthy: true}},
		{name: "bridge on the bridge", att: bridge, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80, Healthy: true}},
		{name: "bridge with host address", att: bridge, opts: TaskOptions{HostAddr: host}, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: host, Port: 49153, Healthy: true}},
		{name: "host mode", att: func() *network.Attachment {
			return &network.Attachment{Mode: network.ModeHost, PortBindings: []network.PortBinding{{ContainerPort: 80, HostPort: 80, Protocol: network.ProtocolTCP}}}
		}, opts: TaskOptions{HostAddr: host}, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: host, Port: 80, Healthy: true}},
		{name: "health check pending", task: func(t *task.Task) {
			t.Containers[0].HasHealthCheck = true
			t.Containers[0].HealthStatus = task.HealthUnknown
		}, att: awsvpc, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80}},
		{name: "health check passed", task: func(t *task.Task) {
			t.Containers[0].HasHealthCheck = true
			t.Containers[0].HealthStatus = task.Healthy
		}, att: awsvpc, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80, Healthy: true}},
		{name: "unhealthy", task: func(t *task.Task) {
			t.Containers[0].HasHealthCheck = true
			t.Containers[0].HealthStatus = task.Unhealthy
		}, att: awsvpc, wantOK: true,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80}},
		// Not registered: the instance still names what to deregister.
		{name: "pending", task: func(t *task.Task) { t.LastStatus = task.Pending }, att: awsvpc,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123"}},
		{name: "asked to stop", task: func(t *task.Task) { t.DesiredStatus = task.Stopped }, att: awsvpc,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123"}},
		{name: "deactivating", task: func(t *task.Task) {
			t.DesiredStatus = task.Stopped
			t.LastStatus = task.Deactivating
		}, att: awsvpc,
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123"}},
		{name: "no attachment", att: func() *network.Attachment { return nil },
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123"}},
		{name: "none mode", att: func() *network.Attachment { return &network.Attachment{Mode: network.ModeNone} },
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123"}},
		{name: "host mode without host address", att: func() *network.Attachment { return &network.Attachment{Mode: network.ModeHost} },
			want: Instance{Service: "web", Namespace: "prod", ID: "abc123"}},
		{name: "ID not a label", task: func(t *task.Task) { t.TaskARN = "task/prod/a.b" }, att: awsvpc,
			want: Instance{Service: "web", Namespace: "prod", ID: "a.b", Addr: netip.MustParseAddr("10.88.0.5"), Port: 80, Healthy: true}},
		{name: "standalone task", task: func(t *task.Task) { t.Group = "family:web" }, att: awsvpc,
			want: Instance{ID: "abc123"}},
		{name: "empty service group", task: func(t *task.Task) { t.Group = "service:" }, att: awsvpc,
			want: Instance{ID: "abc123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := running()
			if tt.task != nil {
				tt.task(tk)
			}
			att := tt.att()
			got, ok := FromTask(tk, att, tt.opts)
			assert.Equal(t, tt.wantOK, ok)
			if ok {
				want := attrs
				if att.Mode != network.ModeAWSVPC {
					want = map[string]string{AttrCluster: "prod", AttrTaskDefinition: "web:3", AttrContainerInstance: "i-1", AttrNetworkMode: string(att.Mode)}
				}
				if tk.ClusterARN != "prod" {
					want = map[string]string{AttrCluster: tk.ClusterARN, AttrTaskDefinition: "web:3", AttrContainerInstance: "i-1", AttrNetworkMode: "awsvpc"}
				}
				assert.Equal(t, want, got.Attributes)
				require.NoError(t, NewRegistry().Register(got), "registrable")
			}
			got.Attributes = nil
			assert.Equal(t, tt.want, got)
		})
	}
	got, ok := FromTask(nil, nil, TaskOptions{})
	assert.False(t, ok)
	assert.Zero(t, got)
}
