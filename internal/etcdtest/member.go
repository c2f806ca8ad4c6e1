package etcdtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// memberEnv, set in a process's environment to a MemberConfig in JSON,
// makes MemberMain run that etcd member instead of the tests.
const memberEnv = "STEVEDORE_ETCD_MEMBER"

// readyLine is what a member prints on its standard output once it serves
// clients.
const readyLine = "etcd member ready"

// MemberConfig describes one member of a cluster of member processes.
type MemberConfig struct {
	Name           string `json:"name"`
	Dir            string `json:"dir"`
	ClientURL      string `json:"clientURL"`
	PeerURL        string `json:"peerURL"`
	InitialCluster string `json:"initialCluster"` // name=peerURL,...
}

// IsMember reports whether this process was started as a cluster member
// by StartCluster. A test binary that uses StartCluster checks it first
// thing in TestMain and then calls MemberMain.
func IsMember() bool { return os.Getenv(memberEnv) != "" }

// MemberMain runs the member this process was started as until it is
// killed or gets SIGTERM or SIGINT, and exits.
func MemberMain() {
	var cfg MemberConfig
	if err := json.Unmarshal([]byte(os.Getenv(memberEnv)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "etcd member: bad %s: %v\n", memberEnv, err)
		os.Exit(2)
	}
	if err := RunMember(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "etcd member %s: %v\n", cfg.Name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// RunMember runs one etcd member on embed, prints readyLine when it
// serves clients, and returns after SIGTERM or SIGINT.
func RunMember(c MemberConfig) error {
	clientURL, err := url.Parse(c.ClientURL)
	if err != nil {
		return err
	}
	peerURL, err := url.Parse(c.PeerURL)
	if err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Name = c.Name
	cfg.Dir = c.Dir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = c.InitialCluster
	cfg.InitialClusterToken = "stevedore-test"
	cfg.EnableGRPCGateway = false
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Println(readyLine)
	case err := <-e.Err():
		return err
	case <-stop:
		return nil
	}
	select {
	case err := <-e.Err():
		return err
	case <-stop:
		return nil
	}
}

// Cluster is a cluster of etcd members, each a process of its own.
type Cluster struct {
	Members []*Member
}

// Endpoints returns the client URLs of every member.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Endpoint
	}
	return out
}

// Member is one member process of a Cluster.
type Member struct {
	// Endpoint is the member's client URL.
	Endpoint string

	cfg MemberConfig
	cmd *exec.Cmd
	out *bufio.Scanner
}

// StartCluster starts an n-member cluster, each member a copy of this test
// binary running MemberMain (see IsMember), and kills them when the test
// ends. It waits until every member serves clients.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	c := &Cluster{}
	var initial []string
	for i := range n {
		cfg := MemberConfig{
			Name:      fmt.Sprintf("m%d", i),
			Dir:       t.TempDir(),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
		}
		initial = append(initial, cfg.Name+"="+cfg.PeerURL)
		c.Members = append(c.Members, &Member{Endpoint: cfg.ClientURL, cfg: cfg})
	}
	for _, m := range c.Members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
		m.spawn(t)
	}
	for _, m := range c.Members {
		m.waitReady(t)
	}
	return c
}

// freePorts returns n loopback ports that were free a moment ago. Members
// need each other's peer URLs before any of them starts, so the ports
// cannot be left to each member's kernel pick.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

func (m *Member) spawn(t testing.TB) {
	t.Helper()
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), memberEnv+"="+string(cfg))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd member %s: %v", m.cfg.Name, err)
	}
	m.cmd, m.out = cmd, bufio.NewScanner(stdout)
	t.Cleanup(func() { m.Kill(t) })
}

func (m *Member) waitReady(t testing.TB) {
	t.Helper()
	ready := make(chan bool, 1)
	go func() {
		for m.out.Scan() {
			if m.out.Text() == readyLine {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("etcd member %s exited before it was ready", m.cfg.Name)
		}
	case <-time.After(startTimeout):
		t.Fatalf("etcd member %s not ready after %v", m.cfg.Name, startTimeout)
	}
}

// Kill kills the member with SIGKILL and waits for it to exit. Killing a
// member that is not running does nothing.
func (m *Member) Kill(t testing.TB) {
	t.Helper()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}

// Restart starts a killed member again on its data directory and waits
// until it serves clients.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	m.spawn(t)
	m.waitReady(t)
}
