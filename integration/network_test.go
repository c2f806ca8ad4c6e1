package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

// peerScript serves its own address on port 8080 (httpd) and on port 9090
// (a one-shot nc listener that is restarted), and listens on nothing else.
const peerScript = `mkdir -p /www
addr=$(ip -o -4 addr show dev eth0 | awk '{sub("/.*", "", $4); print $4}')
echo "peer $addr" > /www/index.html
httpd -f -p 8080 -h /www & pid=$!
(while :; do echo "nc $addr" | nc -l -p 9090 >/dev/null 2>&1; done) &
trap 'kill $pid; exit 0' TERM
wait $pid`

// registerPeer registers an awsvpc task definition of family whose
// container, "peer", runs peerScript.
func (e *env) registerPeer(family string) *task.TaskDefinition {
	e.t.Helper()
	return e.registerDef(fmt.Sprintf(`{
		"family": %q,
		"networkMode": "awsvpc",
		"containerDefinitions": [{
			"name": "peer", "image": %q, "essential": true, "memory": 16,
			%s,
			"portMappings": [{"containerPort": 8080}, {"containerPort": 9090}],
			"stopTimeout": 2
		}]
	}`, family, imageRef, shellCommand(peerScript)))
}

// TestAWSVPCTasksReachEachOther runs two awsvpc tasks. Each gets an
// address of its own in the instance's subnet, its own namespace and a
// veth on the bridge. The host reaches both; each task reaches the other
// on the ports it listens on, and a port nobody listens on is refused.
// (Tasks in no security group are not filtered; see
// TestSecurityGroupsFilterInboundTraffic for tasks that are.)
func TestAWSVPCTasksReachEachOther(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerPeer("peer")

	a := e.waitRunning(e.runTask(def).ID(), 30*time.Second)
	b := e.waitRunning(e.runTask(def).ID(), 30*time.Second)
	ipA, ipB := taskIP(t, a), taskIP(t, b)
	require.NotEqual(t, ipA, ipB, "each task has its own address")
	for _, ip := range []string{ipA, ipB} {
		addr := netip.MustParseAddr(ip)
		assert.True(t, e.netCfg.Subnet.Contains(addr), "%s is in the instance's subnet %s", ip, e.netCfg.Subnet)
		assert.NotEqual(t, e.netCfg.Subnet.Addr().Next(), addr, "the gateway's address is the bridge's")
	}
	for _, tk := range []*task.Task{a, b} {
		require.Len(t, tk.Attachments, 1)
		att := tk.Attachments[0]
		assert.Equal(t, "ElasticNetworkInterface", att.Type)
		assert.Equal(t, "ATTACHED", att.Status)
		assert.Equal(t, e.netCfg.Subnet.Addr().Next().String(), att.Detail("gateway"))
		assert.Equal(t, "24", att.Detail("subnetPrefixLength"))
		assert.NotEmpty(t, att.Detail("macAddress"))
	}

	// From the host, on each task's address.
	assert.Equal(t, "peer "+ipA+"\n", e.eventuallyGet("http://"+ipA+":8080/", 10*time.Second))
	assert.Equal(t, "peer "+ipB+"\n", e.eventuallyGet("http://"+ipB+":8080/", 10*time.Second))

	// From one task to the other, with busybox inside the task (timeout,
	// not wget -T: the static busybox of Debian 12 crashes on -T).
	idA, idB := runtimeID(t, a, "peer"), runtimeID(t, b, "peer")
	tests := []struct {
		name     string
		from     string
		cmd      string
		wantCode int
		want     string
	}{
		{"b to a on 8080", idB, "timeout 5 wget -q -O - http://" + ipA + ":8080/", 0, "peer " + ipA},
		{"a to b on 8080", idA, "timeout 5 wget -q -O - http://" + ipB + ":8080/", 0, "peer " + ipB},
		{"b to a on 9090", idB, "echo | timeout 5 nc -w 3 " + ipA + " 9090", 0, "nc " + ipA},
		{"b to a on a closed port", idB, "echo | timeout 5 nc -w 3 " + ipA + " 9999", 1, ""},
		{"a to itself over its address", idA, "timeout 5 wget -q -O - http://" + ipA + ":8080/", 0, "peer " + ipA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := e.exec(tt.from, "sh", "-c", tt.cmd)
			if tt.wantCode == 0 {
				require.Equal(t, 0, out.ExitCode, "output: %s", out.Output)
				assert.Contains(t, string(out.Output), tt.want)
			} else {
				assert.NotEqual(t, 0, out.ExitCode, "a closed port answered: %s", out.Output)
			}
		})
	}

	// The task's /etc/resolv.conf comes from the host's (the provider's
	// HostResolvConf); its /etc/hosts knows localhost.
	resolv := e.exec(idA, "cat", "/etc/resolv.conf")
	assert.Contains(t, string(resolv.Output), "nameserver 192.0.2.53")
	hosts := e.exec(idA, "cat", "/etc/hosts")
	assert.Contains(t, string(hosts.Output), "127.0.0.1\tlocalhost")

	// The host ends of the veths hang on the instance's bridge, and the
	// namespaces carry the provider's prefix.
	for _, tk := range []*task.Task{a, b} {
		name := e.vethOf(tk)
		master, err := os.Readlink(filepath.Join("/sys/class/net", name, "master"))
		require.NoError(t, err, "veth %s of task %s", name, tk.ID())
		assert.Equal(t, e.netCfg.BridgeName, filepath.Base(master))
		assert.FileExists(t, filepath.Join(e.netCfg.NetNSDir, name), "the namespace has the veth's name")
	}

	e.stopTask(a.ID())
	e.stopTask(b.ID())
	_, err := httpGet(e.ctx, "http://"+ipA+":8080/")
	assert.Error(t, err, "a stopped task's address does not answer any more")
}

// TestVethCarriesTaskLabel checks what network/netlinux's guide promises:
// the task ID is written into the alias of the namespace's loopback and of
// the host end of the veth, so that a leak check or Reconcile can tell
// whose they are. The loopback label is there; the veth's is missing
// (see the report: the alias is passed in the RTM_NEWLINK request, which
// the kernel ignores for IFLA_IFALIAS; it takes a separate LinkSetAlias).
func TestVethCarriesTaskLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(idleTaskDef("label"))
	tk := e.waitRunning(e.runTask(def).ID(), 30*time.Second)
	want := "stevedore-task=" + tk.ID()

	lo := e.exec(runtimeID(t, tk, "idle"), "cat", "/sys/class/net/lo/ifalias")
	assert.Equal(t, want, strings.TrimSpace(string(lo.Output)), "alias of the namespace's loopback")

	alias, err := os.ReadFile(filepath.Join("/sys/class/net", e.vethOf(tk), "ifalias"))
	require.NoError(t, err)
	assert.Equal(t, want, strings.TrimSpace(string(alias)), "alias of the host end of the veth")
	e.stopTask(tk.ID())
}

// TestTaskHostnameIsItsOwn checks the container's hostname and the task's
// /etc/hosts. An awsvpc task cannot name a hostname (ECS rejects it, and so
// does Stevedore); its container's hostname should still be its own, not
// the host machine's, and resolve through /etc/hosts to the task's address,
// as Docker does with the container ID and ECS with the ENI's private DNS
// name. A bridge-mode definition's "hostname" is the container's hostname
// and resolves to the task's address.
func TestTaskHostnameIsItsOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host, err := os.Hostname()
	require.NoError(t, err)
	for _, tt := range []struct {
		name, mode, hostname string
	}{
		{"awsvpc", "awsvpc", ""},
		{"bridge with a hostname", "bridge", "db-primary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			field := ""
			if tt.hostname != "" {
				field = fmt.Sprintf(`"hostname": %q,`, tt.hostname)
			}
			def := e.registerDef(fmt.Sprintf(`{
				"family": "named",
				"networkMode": %q,
				"containerDefinitions": [{"name": "idle", "image": %q, "essential": true, "memory": 16, %s %s, "stopTimeout": 2}]
			}`, tt.mode, imageRef, field, shellCommand(idleScript)))
			tk := e.waitRunning(e.runTask(def).ID(), 30*time.Second)
			defer e.stopTask(tk.ID())
			id := runtimeID(t, tk, "idle")
			name := strings.TrimSpace(string(e.exec(id, "hostname").Output))
			hosts := string(e.exec(id, "cat", "/etc/hosts").Output)
			t.Logf("hostname %q; /etc/hosts:\n%s", name, hosts)
			if tt.hostname != "" {
				assert.Equal(t, tt.hostname, name)
			} else {
				assert.NotEqual(t, host, name, "the container has the host machine's hostname")
			}
			assert.Contains(t, hosts, taskIP(t, tk)+"\t"+name, "the container's hostname does not resolve to the task's address")
		})
	}
}

// vethOf returns the host end of a task's veth, as the provider's
// attachment names it.
func (e *env) vethOf(tk *task.Task) string {
	e.t.Helper()
	att, err := e.nw.Attachment(e.ctx, tk.ID())
	require.NoError(e.t, err)
	require.NotEmpty(e.t, att.HostInterface)
	return att.HostInterface
}

// TestBridgeModePublishesDynamicHostPort runs two bridge-mode tasks whose
// port mapping asks for a dynamic host port: each task's network bindings
// name its own port in 49153-65535, which answers on the host's loopback
// (and on the bridge's address). The port closes when the task stops.
func TestBridgeModePublishesDynamicHostPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerDef(fmt.Sprintf(`{
		"family": "published",
		"networkMode": "bridge",
		"containerDefinitions": [{
			"name": "web", "image": %q, "essential": true, "memory": 16,
			%s,
			"portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
			%s,
			"stopTimeout": 2
		}]
	}`, imageRef, shellCommand(webScript), webHealthCheck))

	first := e.runTask(def).ID()
	second := e.runTask(def).ID()
	tk := e.waitRunning(first, 30*time.Second)
	other := e.waitRunning(second, 30*time.Second)
	web := tk.Container("web")
	require.NotNil(t, web)
	require.Len(t, web.NetworkBindings, 1, "bindings: %s", toJSON(web.NetworkBindings))
	b := web.NetworkBindings[0]
	assert.Equal(t, 8080, b.ContainerPort)
	assert.Equal(t, task.ProtocolTCP, b.Protocol)
	assert.GreaterOrEqual(t, b.HostPort, int(network.DefaultDynamicPorts.First))
	assert.LessOrEqual(t, b.HostPort, int(network.DefaultDynamicPorts.Last))
	t.Logf("published 8080/tcp on host port %d (bindIP %q)", b.HostPort, b.BindIP)
	require.Len(t, other.Container("web").NetworkBindings, 1)
	otherPort := other.Container("web").NetworkBindings[0].HostPort
	assert.NotEqual(t, b.HostPort, otherPort, "two tasks, two host ports")

	port := strconv.Itoa(b.HostPort)
	body := e.eventuallyGet("http://127.0.0.1:"+port+"/", 10*time.Second)
	assert.True(t, strings.HasPrefix(body, "hello from "), "page: %q", body)
	gateway := e.netCfg.Subnet.Addr().Next().String()
	body = e.eventuallyGet("http://"+gateway+":"+port+"/", 10*time.Second)
	assert.True(t, strings.HasPrefix(body, "hello from "), "page on the bridge's address: %q", body)
	otherBody := e.eventuallyGet("http://127.0.0.1:"+strconv.Itoa(otherPort)+"/", 10*time.Second)
	assert.True(t, strings.HasPrefix(otherBody, "hello from "), "page: %q", otherBody)

	e.stopTask(second)
	e.stopTask(tk.ID())
	_, err := httpGet(e.ctx, "http://127.0.0.1:"+port+"/")
	assert.Error(t, err, "the host port is closed once the task stopped")
}

// TestSecurityGroupsFilterInboundTraffic runs awsvpc tasks through the
// root API's security groups, enforced by network/netlinux with nftables in
// each task's namespace. Task b, in a group allowing tcp 8080 from the
// instance's subnet, answers a (in no group) on 8080 and drops a's
// connections to 9090, where it listens too; task c, in a group allowing
// 8080 only from a prefix that excludes a, drops a on both ports. b still
// reaches a (unfiltered), and gets the replies to its own connections.
// Rules authorized and revoked while c runs apply to c at once.
func TestSecurityGroupsFilterInboundTraffic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	def := e.registerPeer("guarded")
	rule := func(s string) network.IngressRule {
		r, err := network.ParseIngressRule(s)
		require.NoError(t, err)
		return r
	}
	fromSubnet, err := e.orc.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{
		GroupName:    "web-from-subnet-" + e.name,
		IngressRules: []network.IngressRule{rule("tcp:8080 from " + e.netCfg.Subnet.String())},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = e.orc.DeleteSecurityGroup(context.Background(), &stevedore.DeleteSecurityGroupInput{GroupID: fromSubnet.SecurityGroup.ID})
	})
	// 192.0.2.0/24 (TEST-NET-1) is never the test's subnet.
	fromElsewhere, err := e.orc.CreateSecurityGroup(e.ctx, &stevedore.CreateSecurityGroupInput{
		GroupName:    "web-from-elsewhere-" + e.name,
		IngressRules: []network.IngressRule{rule("tcp:8080 from 192.0.2.0/24")},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = e.orc.DeleteSecurityGroup(context.Background(), &stevedore.DeleteSecurityGroupInput{GroupID: fromElsewhere.SecurityGroup.ID})
	})

	run := func(groups ...string) *task.Task {
		in := stevedore.RunTaskInput{Cluster: e.cluster, TaskDefinition: def.Ref()}
		if len(groups) > 0 {
			in.NetworkConfiguration = &task.NetworkConfiguration{AwsvpcConfiguration: &task.AwsvpcConfiguration{SecurityGroups: groups}}
		}
		out, err := e.orc.RunTask(e.ctx, &in)
		require.NoError(t, err)
		require.Empty(t, out.Failures)
		return e.waitRunning(out.Tasks[0].ID(), 30*time.Second)
	}
	a := run()
	b := run(fromSubnet.SecurityGroup.Name)
	c := run(fromElsewhere.SecurityGroup.ID)
	assert.Empty(t, a.SecurityGroups)
	assert.Equal(t, []string{fromSubnet.SecurityGroup.ID}, b.SecurityGroups)
	assert.Equal(t, []string{fromElsewhere.SecurityGroup.ID}, c.SecurityGroups)
	ipA, ipB, ipC := taskIP(t, a), taskIP(t, b), taskIP(t, c)
	idA, idB := runtimeID(t, a, "peer"), runtimeID(t, b, "peer")

	// Every server is up before anything is expected to fail: each task
	// answers itself on both ports (a task's connections to its own
	// address go through its loopback, which is never filtered).
	for _, tk := range []*task.Task{a, b, c} {
		id, ip := runtimeID(t, tk, "peer"), taskIP(t, tk)
		e.eventuallyExec(id, "timeout 5 wget -q -O - http://"+ip+":8080/", "peer "+ip, 10*time.Second)
		e.eventuallyExec(id, "echo | timeout 5 nc -w 2 "+ip+" 9090", "nc "+ip, 10*time.Second)
	}

	tests := []struct {
		name string
		from string
		cmd  string
		want string // "" when the connection must fail
	}{
		{"a to b on the allowed port", idA, "timeout 5 wget -q -O - http://" + ipB + ":8080/", "peer " + ipB},
		{"a to b on another port", idA, "echo | timeout 5 nc -w 2 " + ipB + " 9090", ""},
		{"a to c from outside the allowed prefix", idA, "timeout 5 wget -q -O - http://" + ipC + ":8080/", ""},
		{"a to c on another port", idA, "echo | timeout 5 nc -w 2 " + ipC + " 9090", ""},
		{"b to a, which is in no group", idB, "echo | timeout 5 nc -w 2 " + ipA + " 9090", "nc " + ipA},
		{"b to c from outside the allowed prefix", idB, "timeout 5 wget -q -O - http://" + ipC + ":8080/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := e.exec(tt.from, "sh", "-c", tt.cmd)
			if tt.want != "" {
				require.Equal(t, 0, out.ExitCode, "output: %s", out.Output)
				assert.Contains(t, string(out.Output), tt.want)
			} else {
				assert.NotEqual(t, 0, out.ExitCode, "the connection went through: %s", out.Output)
				assert.NotContains(t, string(out.Output), "peer ")
			}
		})
	}

	// From the host: its address on the bridge is in the subnet.
	assert.Equal(t, "peer "+ipB+"\n", e.eventuallyGet("http://"+ipB+":8080/", 10*time.Second))
	_, err = httpGet(e.ctx, "http://"+ipC+":8080/")
	assert.Error(t, err, "c drops the host too")

	// A rule added to c's group reaches c while it runs, and so does its
	// removal: a connects to c on 8080 (and still not on 9090), then no
	// longer.
	onlyA := rule("tcp:8080 from " + ipA + "/32")
	_, err = e.orc.AuthorizeSecurityGroupIngress(e.ctx, &stevedore.AuthorizeSecurityGroupIngressInput{GroupID: fromElsewhere.SecurityGroup.ID, Rules: []network.IngressRule{onlyA}})
	require.NoError(t, err)
	e.eventuallyExec(idA, "timeout 5 wget -q -O - http://"+ipC+":8080/", "peer "+ipC, 10*time.Second)
	out := e.exec(idA, "sh", "-c", "echo | timeout 5 nc -w 2 "+ipC+" 9090")
	assert.NotEqual(t, 0, out.ExitCode, "9090 is still not allowed: %s", out.Output)
	out = e.exec(idB, "sh", "-c", "timeout 5 wget -q -O - http://"+ipC+":8080/")
	assert.NotEqual(t, 0, out.ExitCode, "b is not a: %s", out.Output)
	_, err = e.orc.RevokeSecurityGroupIngress(e.ctx, &stevedore.RevokeSecurityGroupIngressInput{GroupID: fromElsewhere.SecurityGroup.Name, Rules: []network.IngressRule{onlyA}})
	require.NoError(t, err)
	e.eventuallyExec(idA, "timeout 5 nc -w 2 -z "+ipC+" 8080 || echo blocked", "blocked", 10*time.Second)

	_, err = e.orc.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: fromSubnet.SecurityGroup.ID})
	require.ErrorIs(t, err, stevedore.ErrInUse, "b is in the group")
	for _, tk := range []*task.Task{a, b, c} {
		e.stopTask(tk.ID())
	}
	require.NoError(t, errOf(e.orc.DeleteSecurityGroup(e.ctx, &stevedore.DeleteSecurityGroupInput{GroupID: fromSubnet.SecurityGroup.ID})), "its task stopped")
}

// eventuallyExec runs script in a container until its output contains
// want, for at most timeout.
func (e *env) eventuallyExec(id, script, want string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		out := e.exec(id, "sh", "-c", script)
		if out.ExitCode == 0 && strings.Contains(string(out.Output), want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s in %s: no %q within %s (%d attempts): exit %d: %s", script, id, want, timeout, attempt, out.ExitCode, out.Output)
		}
		sleep(e.ctx, 200*time.Millisecond)
	}
}
