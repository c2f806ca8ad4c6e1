package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/discovery"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/network/netlinux"
	"github.com/stevedore-io/stevedore/runtime/containerd"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// taskDefinitionJSON is the webapp's task definition, in the ECS JSON
// people already keep (register-task-definition input).
//
//go:embed webapp-taskdef.json
var taskDefinitionJSON []byte

// addressEnv names the environment variable holding containerd's socket
// (set by scripts/with-containerd.sh).
const addressEnv = "STEVEDORE_CONTAINERD_ADDRESS"

// The demo's fixed names.
const (
	clusterName = "quickstart"
	serviceName = "webapp"
	steps       = 6
)

// zones are the availability zones of the three container instances.
var zones = []string{"zone-a", "zone-b", "zone-c"}

// config is what can change between runs of the demo.
type config struct {
	// ContainerdAddress is containerd's socket.
	ContainerdAddress string
	// Namespace is the containerd namespace holding the demo's images and
	// containers; the clean-up checks that it is empty of containers.
	Namespace string
	// Subnet gives the tasks their addresses; Bridge is the Linux bridge
	// standing for it, and NamePrefix starts the names of the namespaces,
	// veths and nftables tables of the tasks. None may be in use on the host.
	Subnet     netip.Prefix
	Bridge     string
	NamePrefix string
	// Requests is how many HTTP requests each task receives per round of
	// traffic.
	Requests int
	// Listen is the load balancer's HTTP listener address (port 0: any
	// free port).
	Listen string
	// SteadyTimeout bounds the wait for the service's first steady state,
	// RolloutTimeout the roll-out to version 2, CleanupTimeout the clean-up.
	SteadyTimeout  time.Duration
	RolloutTimeout time.Duration
	CleanupTimeout time.Duration
	// Keep leaves the service running after the roll-out until ctx ends.
	Keep bool
	// Terminal draws progress bars (stdout is a terminal) instead of
	// printing a line per change.
	Terminal bool
	// Logger receives the logs of the Orchestrator, its agents, the runtime
	// and the network provider.
	Logger *slog.Logger
	// DNSUpstreams, when set, are the resolvers the DNS server forwards
	// outside names to, instead of the host's (its resolv.conf).
	DNSUpstreams []netip.AddrPort
}

// defaultConfig returns the configuration of `make demo`.
func defaultConfig() config {
	return config{
		ContainerdAddress: os.Getenv(addressEnv),
		Namespace:         "stevedore-quickstart",
		Subnet:            netip.MustParsePrefix("10.213.77.0/24"),
		Bridge:            "stvd-quick0",
		NamePrefix:        "stvqs-",
		Requests:          2,
		Listen:            "127.0.0.1:0",
		SteadyTimeout:     2 * time.Minute,
		RolloutTimeout:    3 * time.Minute,
		CleanupTimeout:    2 * time.Minute,
		Logger:            slog.New(slog.DiscardHandler),
	}
}

// demo is one run: what it created, so that clean-up removes exactly that.
type demo struct {
	cfg   config
	out   io.Writer
	start time.Time
	step  int

	tmpDir    string
	rt        *containerd.Runtime
	nw        *netlinux.Provider
	orc       *stevedore.Orchestrator
	cluster   bool
	instances []string          // instance IDs, in zone order
	zoneOf    map[string]string // instance ID -> zone
	service   bool
	images    []string
	balancer  *lb.LoadBalancer
	targets   *lb.TargetGroup
	listener  *lb.Listener
	lockFile  *os.File
}

// run tells the whole story and cleans up after itself, whatever happens.
// With cfg.Keep it waits for ctx to end after the roll-out; otherwise the
// end of ctx is an interruption and run returns its error.
func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	d := &demo{cfg: cfg, out: out, start: time.Now(), zoneOf: map[string]string{}}
	if err := d.preflight(); err != nil {
		return err
	}
	if err := d.lock(); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.cleanup()) }()

	if err := d.do(ctx, "Build the webapp image (v1 and v2) and import it into containerd", d.buildImages); err != nil {
		return err
	}
	if err := d.do(ctx, "Start Stevedore: a cluster of 3 container instances in 3 zones", d.startCluster); err != nil {
		return err
	}
	var v1 *task.TaskDefinition
	if err := d.do(ctx, "Register the task definition (webapp-taskdef.json)", func(ctx context.Context) error {
		var err error
		v1, err = d.registerTaskDefinition(ctx, "v1")
		return err
	}); err != nil {
		return err
	}
	if err := d.do(ctx, "Create service "+serviceName+": 3 tasks spread over the zones", func(ctx context.Context) error {
		return d.createService(ctx, v1)
	}); err != nil {
		return err
	}
	if err := d.do(ctx, "Roll the service out to v2", d.rollOut); err != nil {
		return err
	}
	if cfg.Keep {
		if err := d.explore(ctx); err != nil {
			return err
		}
		fmt.Fprintln(d.out, "\nCtrl-C: cleaning up.")
	}
	return nil
}

// preflight checks what the demo needs before it creates anything.
func (d *demo) preflight() error {
	switch {
	case os.Geteuid() != 0:
		return errors.New("the quickstart must run as root: it creates network namespaces, a bridge and containers (try: sudo make demo)")
	case d.cfg.ContainerdAddress == "":
		return fmt.Errorf("%s is not set: run the quickstart with `make demo`, which starts a private containerd, or point it at a containerd socket", addressEnv)
	case !d.cfg.Subnet.IsValid() || !d.cfg.Subnet.Addr().Is4():
		return fmt.Errorf("subnet %v: need an IPv4 prefix", d.cfg.Subnet)
	case d.cfg.Requests < 1 || d.cfg.Requests > 100:
		return fmt.Errorf("requests per task must be between 1 and 100, got %d", d.cfg.Requests)
	}
	return checkSubnetFree(d.cfg.Subnet, d.cfg.Bridge)
}

// lock makes sure no other quickstart uses the same name prefix: the
// start-up clean-up of one would take the other's task networks for
// leftovers. The lock goes with the process.
func (d *demo) lock() error {
	dir := "/run/lock"
	if _, err := os.Stat(dir); err != nil {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "stevedore-quickstart-"+d.cfg.NamePrefix+"lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("another quickstart runs with name prefix %q (lock %s): wait for it, or give this one its own -prefix, -bridge and -subnet", d.cfg.NamePrefix, path)
	}
	d.lockFile = f
	return nil
}

// checkSubnetFree fails when an interface other than the demo's bridge has
// an address in subnet: the tasks' addresses would clash with it.
func checkSubnetFree(subnet netip.Prefix, bridge string) error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	for _, ifc := range ifaces {
		if ifc.Name == bridge {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ok && subnet.Contains(ip.Unmap()) {
				return fmt.Errorf("subnet %v is in use on interface %s (%v): pick another with -subnet", subnet, ifc.Name, ipn)
			}
		}
	}
	return nil
}

// do runs one step under a heading and reports its duration.
func (d *demo) do(ctx context.Context, title string, fn func(context.Context) error) error {
	d.step++
	fmt.Fprintf(d.out, "\n== Step %d/%d: %s\n", d.step, steps, title)
	t0 := time.Now()
	if err := fn(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return fmt.Errorf("step %d (%s): interrupted: %w", d.step, title, err)
		}
		return fmt.Errorf("step %d (%s): %w", d.step, title, err)
	}
	fmt.Fprintf(d.out, "   done in %s (%s since start)\n", round(time.Since(t0)), round(time.Since(d.start)))
	return nil
}

// buildImages builds both versions of the webapp image in Go and imports
// them into containerd.
func (d *demo) buildImages(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "stevedore-quickstart-")
	if err != nil {
		return err
	}
	d.tmpDir = dir
	d.rt, err = containerd.New(d.cfg.ContainerdAddress,
		containerd.WithNamespace(d.cfg.Namespace),
		containerd.WithFIFODir(dir+"/fifo"),
		containerd.WithLogger(d.cfg.Logger))
	if err != nil {
		return fmt.Errorf("connect to containerd at %s: %w", d.cfg.ContainerdAddress, err)
	}
	archive, built, err := webappArchive("v1", "v2")
	if err != nil {
		return err
	}
	for _, b := range built {
		fmt.Fprintf(d.out, "   built %-28s manifest %s, layer %.1f MiB (busybox httpd + entrypoint)\n",
			b.Ref, b.Manifest.Digest.Encoded()[:12], float64(b.Layer.Size)/(1<<20))
	}
	names, err := d.rt.ImportArchive(ctx, bytes.NewReader(archive))
	if err != nil {
		return err
	}
	d.images = names
	fmt.Fprintf(d.out, "   imported into containerd namespace %q (snapshotter %s): %s\n",
		d.rt.Namespace(), d.rt.Snapshotter(), strings.Join(names, ", "))
	return nil
}

// startCluster starts the network provider and the Orchestrator, creates
// the cluster and registers one container instance per zone. All three
// instances live on this host and share the runtime and the network.
func (d *demo) startCluster(ctx context.Context) error {
	nw, err := netlinux.New(netlinux.Config{
		BridgeName: d.cfg.Bridge,
		Subnet:     d.cfg.Subnet,
		NamePrefix: d.cfg.NamePrefix,
		StateDir:   d.tmpDir + "/network",
		Logger:     d.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("network provider: %w", err)
	}
	d.nw = nw
	if left, err := nw.Leftovers(); err != nil {
		return fmt.Errorf("network provider: %w", err)
	} else if len(left) > 0 {
		// An earlier run was killed before its clean-up; its objects carry
		// our prefix and belong to no task now.
		fmt.Fprintf(d.out, "   removing what an earlier run left behind: %s\n", strings.Join(left, ", "))
		if err := nw.Reconcile(ctx, func(string) bool { return false }); err != nil {
			return fmt.Errorf("remove leftovers: %w", err)
		}
	}
	gateway := d.cfg.Subnet.Masked().Addr().Next()
	mac, err := fixBridgeMAC(ctx, d.cfg.Bridge, gateway)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   network: awsvpc, subnet %v on bridge %s (gateway %v, MAC %s)\n",
		d.cfg.Subnet, d.cfg.Bridge, gateway, mac)

	if err := d.startLoadBalancer(); err != nil {
		return err
	}
	dns := discovery.DefaultConfig()
	dns.Listen = netip.AddrPortFrom(gateway, 53).String()
	dns.Upstreams = d.cfg.DNSUpstreams
	// The durable store (store/bolt), as a real deployment keeps it: a
	// process started again on this directory finds the cluster, the
	// service and its tasks, and adopts the containers still running.
	stateDir := filepath.Join(d.tmpDir, "state")
	d.orc, err = stevedore.New(stevedore.WithDataDir(stateDir), stevedore.WithLogger(d.cfg.Logger),
		stevedore.WithServiceDiscovery(dns), stevedore.WithTargetGroups(d.targets))
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   state: durable, in %s\n", filepath.Join(stateDir, "state.db"))
	// The demo's tasks run under the strictest task policy: non-root,
	// no added capability, nothing of the host's.
	if _, err := d.orc.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: clusterName,
		TaskPolicy: &policy.Policy{Name: "quickstart", Level: policy.Restricted}}); err != nil {
		return err
	}
	d.cluster = true
	// One provider for the three instances, each with its own view of it
	// (see sharedNetwork): hence instance IDs chosen here.
	shared := newSharedNetwork(d.nw)
	for _, zone := range zones {
		id := "i-" + randomHex(17)
		inst, err := d.orc.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
			Cluster:    clusterName,
			InstanceID: id,
			// Room for two webapp tasks and then some: a roll-out may run
			// old and new tasks side by side (maximumPercent 200).
			Resources: cluster.Resources{CPU: 1024, Memory: 512, NetworkSlots: 4},
			Attributes: map[string]string{
				cluster.AttributeAvailabilityZone: zone,
				"ecs.instance-type":               "local",
			},
			Runtime: d.rt,
			Network: shared.forInstance(id),
			// The images were imported, not pulled: they could not come
			// back. The clean-up removes them.
			ImageCleanup: stevedore.ImageCleanup{Disabled: true},
		})
		if err != nil {
			return fmt.Errorf("register the instance of %s: %w", zone, err)
		}
		d.instances = append(d.instances, inst.ContainerInstance.ID)
		d.zoneOf[inst.ContainerInstance.ID] = zone
	}
	described, err := d.orc.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: clusterName})
	if err != nil {
		return err
	}
	insts := described.ContainerInstances
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   INSTANCE\tZONE\tSTATUS\tAGENT\tCPU\tMEMORY\tTASK NETWORKS")
	for _, inst := range insts {
		zone, _ := inst.Attribute(cluster.AttributeAvailabilityZone)
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%d units\t%d MiB\t%d\n", inst.ID, zone, inst.Status,
			connected(inst.AgentConnected), inst.Registered.CPU, inst.Registered.Memory, inst.Registered.NetworkSlots)
	}
	return tw.Flush()
}

func connected(ok bool) string {
	if ok {
		return "connected"
	}
	return "disconnected"
}

// registerTaskDefinition registers the embedded task definition, with the
// webapp image of version.
func (d *demo) registerTaskDefinition(ctx context.Context, version string) (*task.TaskDefinition, error) {
	td, warnings, err := task.ParseDefinition(taskDefinitionJSON)
	if err != nil {
		return nil, fmt.Errorf("webapp-taskdef.json: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(d.out, "   warning: webapp-taskdef.json: %s\n", w)
	}
	web := td.Container("web")
	if web == nil {
		return nil, errors.New("webapp-taskdef.json: no container named web")
	}
	web.Image = webappRef(version)
	reg, err := d.orc.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	if err != nil {
		return nil, err
	}
	cpu, mem := reg.TaskDefinition.Requirements()
	hc := web.HealthCheck
	fmt.Fprintf(d.out, "   registered %s: network mode %s, image %s, %d cpu units, %d MiB\n",
		reg.TaskDefinition.Ref(), reg.TaskDefinition.EffectiveNetworkMode(), web.Image, cpu, mem)
	if hc != nil {
		fmt.Fprintf(d.out, "   health check: %q every %s, %d retries\n",
			strings.Join(hc.Command[1:], " "), hc.Interval(), hc.Retries())
	}
	return reg.TaskDefinition, nil
}

// createService creates the service, waits for its steady state and sends
// it some traffic.
func (d *demo) createService(ctx context.Context, td *task.TaskDefinition) error {
	minHealthy, maxPercent := 50, 200
	w, err := d.watch(ctx)
	if err != nil {
		return err
	}
	defer w.stop()
	_, err = d.orc.CreateService(ctx, &stevedore.CreateServiceInput{
		Cluster:        clusterName,
		ServiceName:    serviceName,
		TaskDefinition: td.Ref(),
		DesiredCount:   3,
		DeploymentConfiguration: service.DeploymentConfiguration{
			MinimumHealthyPercent: &minHealthy,
			MaximumPercent:        &maxPercent,
			CircuitBreaker:        &service.CircuitBreaker{Enable: true, Rollback: true},
		},
		// The default too, spelled out: balance over zones, then instances.
		PlacementStrategy: stevedore.DefaultServicePlacement,
		LoadBalancers:     serviceLoadBalancers(),
		// The target group's first check comes on registration; a task
		// failing it gets this long before the service replaces it.
		HealthCheckGracePeriod: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	d.service = true
	fmt.Fprintf(d.out, "   created service %s (%s, desired 3, minimumHealthyPercent %d, maximumPercent %d, circuit breaker with rollback, behind target group %s)\n",
		serviceName, td.Ref(), minHealthy, maxPercent, targetGroupName)
	if _, err := w.until(d.cfg.SteadyTimeout, "the service to reach a steady state", rolledOut(td.Ref(), 3)); err != nil {
		return err
	}
	tasks, err := d.serviceTasks(ctx)
	if err != nil {
		return err
	}
	d.printTasks(tasks)
	d.checkSpread(tasks)
	if err := d.traffic(ctx, tasks, "v1"); err != nil {
		return err
	}
	if err := d.throughLoadBalancer(ctx, tasks, "v1"); err != nil {
		return err
	}
	return d.byName(ctx, tasks, "v1")
}

// rollOut registers revision 2 with the v2 image and updates the service.
func (d *demo) rollOut(ctx context.Context) error {
	v2, err := d.registerTaskDefinition(ctx, "v2")
	if err != nil {
		return err
	}
	w, err := d.watch(ctx)
	if err != nil {
		return err
	}
	defer w.stop()
	ref := v2.Ref()
	// Clients keep using the load balancer all through the roll-out.
	s := d.startStream(ctx, int(d.cfg.RolloutTimeout/streamEvery))
	w.p.traffic = s.summary
	if _, err := d.orc.UpdateService(ctx, &stevedore.UpdateServiceInput{
		Cluster: clusterName, Service: serviceName, TaskDefinition: &ref,
	}); err != nil {
		s.stop()
		return err
	}
	fmt.Fprintf(d.out, "   updated service %s to %s: rolling deployment, at least 2 healthy tasks, at most 6 tasks\n", serviceName, ref)
	fmt.Fprintf(d.out, "   meanwhile a client sends a request every %s to the load balancer\n", streamEvery)
	_, err = w.until(d.cfg.RolloutTimeout, "the roll-out to "+ref, rolledOut(ref, 3))
	summary := s.summary()
	_, failed, firstErr := s.stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   through the load balancer during the roll-out: %s\n", summary)
	if failed > 0 {
		return fmt.Errorf("%d requests through the load balancer failed during the roll-out, the first with: %w", failed, firstErr)
	}
	tasks, err := d.serviceTasks(ctx)
	if err != nil {
		return err
	}
	d.printTasks(tasks)
	if err := d.traffic(ctx, tasks, "v2"); err != nil {
		return err
	}
	return d.throughLoadBalancer(ctx, tasks, "v2")
}

// rolledOut is the condition of a finished deployment of ref with desired
// tasks: the service is steady, the deployment is its only one and
// COMPLETED, and every task is running and healthy. A FAILED deployment or a roll-back ends the wait
// with an error.
func rolledOut(ref string, desired int) func(service.Service) (bool, error) {
	return func(s service.Service) (bool, error) {
		p := s.Primary()
		if p == nil {
			return false, nil
		}
		if p.TaskDefinition != ref {
			return false, fmt.Errorf("the service rolled back to %s (%s)", p.TaskDefinition, p.RolloutStateReason)
		}
		if p.RolloutState == service.RolloutFailed {
			return false, fmt.Errorf("deployment %s FAILED: %s", p.ID, p.RolloutStateReason)
		}
		return s.Steady && len(s.Deployments) == 1 && p.RolloutState == service.RolloutCompleted &&
			p.RunningCount == desired && p.HealthyCount == desired && p.PendingCount == 0, nil
	}
}

// serviceTasks returns the service's tasks desired RUNNING, by zone.
func (d *demo) serviceTasks(ctx context.Context) ([]*task.Task, error) {
	ids, err := d.orc.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: clusterName, ServiceName: serviceName})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	tasks, err := d.describeTasks(ctx, ids)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(tasks, func(a, b *task.Task) int {
		return strings.Compare(d.zoneOf[a.ContainerInstanceID()]+a.ID(), d.zoneOf[b.ContainerInstanceID()]+b.ID())
	})
	return tasks, nil
}

// checkSpread says so when the tasks are not one per zone, as the spread
// strategy places them. It is not a failure: a task that failed and was
// replaced may leave the zones unbalanced, and ECS does not rebalance.
func (d *demo) checkSpread(tasks []*task.Task) {
	perZone := map[string]int{}
	for _, t := range tasks {
		perZone[d.zoneOf[t.ContainerInstanceID()]]++
	}
	for _, z := range zones {
		if perZone[z] != 1 {
			fmt.Fprintf(d.out, "   note: the tasks are not spread one per zone: %v\n", perZone)
			return
		}
	}
}

// randomHex returns n random hexadecimal digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)[:n]
}

func (d *demo) printTasks(tasks []*task.Task) {
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   TASK\tREVISION\tZONE\tINSTANCE\tIP\tSTATUS\tHEALTH")
	for _, t := range tasks {
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID(), t.TaskDefinitionRef(),
			d.zoneOf[t.ContainerInstanceID()], t.ContainerInstanceID(), orDash(t.PrivateIPv4Address()),
			t.LastStatus, t.HealthStatus)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// explore prints what to try while the demo keeps running, then shows the
// service's events until ctx ends.
func (d *demo) explore(ctx context.Context) error {
	tasks, err := d.serviceTasks(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n== Keeping everything running (-keep). Try, in another shell:\n")
	if len(tasks) > 0 {
		t := tasks[0]
		ctr := fmt.Sprintf("ctr -a %s -n %s", d.cfg.ContainerdAddress, d.cfg.Namespace)
		tw := tabwriter.NewWriter(d.out, 0, 0, 3, ' ', 0)
		fmt.Fprintf(tw, "   wget -q -O - %s\t# ask the load balancer\n", d.lbURL())
		fmt.Fprintf(tw, "   wget -q -O - http://%s:%d/\t# ask a task\n", t.PrivateIPv4Address(), webappPort)
		fmt.Fprintf(tw, "   ip netns list | grep %s\t# one network namespace per task\n", d.cfg.NamePrefix)
		fmt.Fprintf(tw, "   ip -br addr show %s\t# the subnet's bridge\n", d.cfg.Bridge)
		fmt.Fprintf(tw, "   %s containers list\t# the tasks' containers\n", ctr)
		if len(t.Containers) > 0 && t.Containers[0].RuntimeID != "" {
			fmt.Fprintf(tw, "   %s tasks kill %s\t# the service replaces the task\n", ctr, t.Containers[0].RuntimeID)
		}
		tw.Flush()
	}
	fmt.Fprintln(d.out, "Press Ctrl-C to clean up and exit. The service's events follow:")
	w, err := d.watch(ctx)
	if err != nil {
		return err
	}
	defer w.stop()
	w.follow()
	return nil
}

// round shortens a duration for display.
func round(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// describeService describes the demo's service.
func (d *demo) describeService(ctx context.Context) (service.Service, error) {
	out, err := d.orc.DescribeServices(ctx, &stevedore.DescribeServicesInput{Cluster: clusterName, Services: []string{serviceName}})
	if err != nil {
		return service.Service{}, err
	}
	if len(out.Services) == 0 {
		return service.Service{}, fmt.Errorf("service %s: %s", serviceName, out.Failures[0].Reason)
	}
	return out.Services[0], nil
}

// describeTasks describes tasks of the demo's cluster; those reaped since
// they were listed are left out.
func (d *demo) describeTasks(ctx context.Context, ids []string) ([]*task.Task, error) {
	var tasks []*task.Task
	for batch := range slices.Chunk(ids, stevedore.MaxDescribeTasks) {
		out, err := d.orc.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: clusterName, Tasks: batch})
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks, nil
}
