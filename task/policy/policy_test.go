package policy_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

func parse(t *testing.T, js string) *task.TaskDefinition {
	t.Helper()
	td, _, err := task.ParseDefinition([]byte(js))
	require.NoError(t, err)
	return td
}

// takeover is the audit's definition: the host's root mounted read-write,
// every capability, the host's network.
const takeover = `{"family":"own","networkMode":"host","pidMode":"host","ipcMode":"host",
 "volumes":[{"name":"root","host":{"sourcePath":"/"}}],
 "containerDefinitions":[{"name":"c","image":"busybox","memory":64,"privileged":true,
  "mountPoints":[{"sourceVolume":"root","containerPath":"/host"}],
  "linuxParameters":{"capabilities":{"add":["ALL"]},"devices":[{"hostPath":"/dev/sda"}]},
  "systemControls":[{"namespace":"kernel.core_pattern","value":"|/x"}]}]}`

func paths(err error) []string {
	var ve *policy.ViolationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, v.Path)
	}
	return out
}

func TestBaselineRefusesEveryWayOfTakingTheHost(t *testing.T) {
	t.Parallel()
	err := policy.Policy{Name: "cluster prod", Level: policy.Baseline}.Check(parse(t, takeover))
	require.Error(t, err)
	assert.ErrorIs(t, err, policy.ErrViolation)
	assert.ErrorIs(t, err, task.ErrInvalid)
	assert.Equal(t, []string{
		"networkMode", "pidMode", "ipcMode", "volumes[0].host.sourcePath",
		"containerDefinitions[0].privileged",
		"containerDefinitions[0].linuxParameters.capabilities.add[0]",
		"containerDefinitions[0].linuxParameters.devices",
		"containerDefinitions[0].systemControls[0].namespace",
	}, paths(err))
	assert.Contains(t, err.Error(), `task definition "own" breaks task policy "cluster prod" (baseline)`)
	assert.Contains(t, err.Error(), `volumes[0].host.sourcePath: host path "/" is not allowed: the policy allows no host paths`)
}

func TestPrivilegedAllowsEverything(t *testing.T) {
	t.Parallel()
	assert.NoError(t, policy.Policy{Level: policy.Privileged}.Check(parse(t, takeover)))
}

func TestOrdinaryDefinitionPassesBaseline(t *testing.T) {
	t.Parallel()
	td := parse(t, `{"family":"web","networkMode":"awsvpc",
	 "volumes":[{"name":"scratch","host":{}},{"name":"data","host":{"sourcePath":"/srv/data/web"}}],
	 "containerDefinitions":[{"name":"c","image":"nginx","memory":64,
	  "linuxParameters":{"capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE","CHOWN","net_raw"]}},
	  "systemControls":[{"namespace":"net.ipv4.tcp_keepalive_time","value":"60"}]}]}`)
	p := policy.Policy{Level: policy.Baseline, HostPaths: []string{"/srv/data"}}
	require.NoError(t, p.Validate())
	assert.NoError(t, p.Check(td))
	assert.NoError(t, policy.Policy{}.Check(parse(t, `{"family":"x","containerDefinitions":[{"name":"c","image":"i","memory":8}]}`)),
		"the zero Policy is Baseline")
}

func TestHostPathsMatchWholeElementsAfterCleaning(t *testing.T) {
	t.Parallel()
	p := policy.Policy{HostPaths: []string{"/srv/data"}}
	for src, ok := range map[string]bool{
		"/srv/data":            true,
		"/srv/data/web":        true,
		"/srv/data/":           true,
		"/srv/database":        false,
		"/srv/data/../../etc":  false,
		"/srv/data/./web/../x": true,
		"srv/data":             false,
		"/srv":                 false,
	} {
		td := parse(t, `{"family":"x","volumes":[{"name":"v","host":{"sourcePath":"`+src+`"}}],
		 "containerDefinitions":[{"name":"c","image":"i","memory":8}]}`)
		err := p.Check(td)
		assert.Equal(t, ok, err == nil, "%s: %v", src, err)
	}
}

func TestRestrictedWantsANumericNonRootUserAndNoCapabilities(t *testing.T) {
	t.Parallel()
	p := policy.Policy{Level: policy.Restricted}
	for user, ok := range map[string]bool{
		"":          false,
		"0":         false,
		"0:1000":    false,
		"root":      false,
		"nobody":    false,
		"1000":      true,
		"1000:0":    true,
		"65534:100": true,
	} {
		td := parse(t, `{"family":"x","containerDefinitions":[{"name":"c","image":"i","memory":8,"user":"`+user+`"}]}`)
		err := p.Check(td)
		assert.Equal(t, ok, err == nil, "user %q: %v", user, err)
		if !ok {
			assert.Equal(t, []string{"containerDefinitions[0].user"}, paths(err))
		}
	}
	td := parse(t, `{"family":"x","containerDefinitions":[{"name":"c","image":"i","memory":8,"user":"1000",
	 "linuxParameters":{"capabilities":{"add":["NET_BIND_SERVICE","CHOWN"]}}}]}`)
	assert.Equal(t, []string{"containerDefinitions[0].linuxParameters.capabilities.add[1]"}, paths(p.Check(td)))
	p.Capabilities = []string{"CHOWN"}
	assert.NoError(t, p.Check(td), "the policy's own capabilities are allowed too")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, p := range []policy.Policy{
		{Level: "lax"},
		{HostPaths: []string{"/"}},
		{HostPaths: []string{"relative"}},
		{HostPaths: []string{"/srv/"}},
		{Capabilities: []string{"ALL"}},
		{Capabilities: []string{"CAP_SYS_ADMIN"}},
	} {
		assert.ErrorIs(t, p.Validate(), policy.ErrInvalidPolicy, "%+v", p)
	}
	assert.NoError(t, policy.Policy{Level: policy.Restricted, HostPaths: []string{"/srv"}, Capabilities: []string{"SYS_PTRACE"}}.Validate())
}
