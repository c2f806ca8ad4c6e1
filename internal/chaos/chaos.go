package chaos

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/stevedore-io/stevedore/internal/ocitest"
)

// Defaults of a Config.
const (
	DefaultTrials          = 20
	DefaultConvergeTimeout = 2 * time.Minute
)

// ErrInvalid is wrapped by the error Run returns for a bad Config.
var ErrInvalid = errors.New("chaos: invalid configuration")

// ErrFailed is wrapped by the error Run returns when a trial or the final
// clean-up failed.
var ErrFailed = errors.New("chaos: trials failed")

// errDuplicate marks a task listed twice.
var errDuplicate = errors.New("duplicate")

// Config is a chaos run.
type Config struct {
	// Server is the path of a built cmd/stevedore. Required.
	Server string
	// ContainerdAddress is the socket of the containerd the server runs
	// containers in (a private one: see scripts/with-containerd.sh).
	// Required.
	ContainerdAddress string
	// WorkDir holds the run's data directory, state directory, image
	// archive and the server's log (server.log). Required; created.
	WorkDir string
	// Trials is how many trials to run (DefaultTrials when 0).
	Trials int
	// Seed draws every trial's choices; 0 draws a seed, which is
	// printed. Trial i draws from (Seed, i) alone, so a seed and Only
	// replay one trial.
	Seed uint64
	// Only, when above 0, runs only trial Only (from 1) of the seed's
	// sequence.
	Only int
	// Out receives one line per trial, and the result (os.Stdout when
	// nil).
	Out io.Writer
	// ConvergeTimeout bounds each wait for the intended state
	// (DefaultConvergeTimeout when 0).
	ConvergeTimeout time.Duration
	// Scenario is ScenarioBolt (the default) or ScenarioEtcd; the latter
	// needs EtcdMember.
	Scenario string
	// EtcdMember is the path of a built internal/etcdtest/etcdmember.
	EtcdMember string
}

// Scenarios.
const (
	// ScenarioBolt runs one server on a data directory (store/bolt).
	ScenarioBolt = "bolt"
	// ScenarioEtcd runs three etcd members and three servers sharing them
	// (-etcd), each hosting an instance.
	ScenarioEtcd = "etcd"
)

// Report is what a run did.
type Report struct {
	Seed     uint64
	Trials   int
	Passed   int
	Failures []string
	Elapsed  time.Duration
}

// The names the run uses in the cluster.
const (
	clusterName   = "chaos"
	instanceID    = "i-chaos"
	imageRef      = "stevedore.local/chaos:1"
	webService    = "web"
	webCount      = 4
	bgService     = "bg"
	bgCount       = 2
	jobFamily     = "job"
	prodRule      = "bg-prod"
	blueGroup     = "bg-a"
	greenGroup    = "bg-b"
	containerName = "app"
	appPort       = 8080
)

// Run runs the trials against a cmd/stevedore process it starts on a new
// data directory in cfg.WorkDir, then deletes what the trials left and
// checks that nothing of the run remains on the host. It prints a line per
// trial and ends with "chaos: N/M trials passed". The error wraps
// ErrFailed when a trial or the clean-up failed.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Trials == 0 {
		cfg.Trials = DefaultTrials
	}
	if cfg.ConvergeTimeout == 0 {
		cfg.ConvergeTimeout = DefaultConvergeTimeout
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	switch {
	case cfg.Server == "":
		return Report{}, fmt.Errorf("%w: Server: the path of cmd/stevedore is required", ErrInvalid)
	case cfg.ContainerdAddress == "":
		return Report{}, fmt.Errorf("%w: ContainerdAddress: required", ErrInvalid)
	case cfg.WorkDir == "":
		return Report{}, fmt.Errorf("%w: WorkDir: required", ErrInvalid)
	case cfg.Trials < 0:
		return Report{}, fmt.Errorf("%w: Trials: must not be negative, got %d", ErrInvalid, cfg.Trials)
	case cfg.Scenario != "" && cfg.Scenario != ScenarioBolt && cfg.Scenario != ScenarioEtcd:
		return Report{}, fmt.Errorf("%w: Scenario: want %s or %s, got %q", ErrInvalid, ScenarioBolt, ScenarioEtcd, cfg.Scenario)
	case cfg.Scenario == ScenarioEtcd && cfg.EtcdMember == "":
		return Report{}, fmt.Errorf("%w: EtcdMember: the path of internal/etcdtest/etcdmember is required with the etcd scenario", ErrInvalid)
	case cfg.Only < 0 || cfg.Only > cfg.Trials:
		return Report{}, fmt.Errorf("%w: Only: must be between 0 and Trials (%d), got %d", ErrInvalid, cfg.Trials, cfg.Only)
	}
	if cfg.Seed == 0 {
		cfg.Seed = mrand.Uint64()>>1 + 1
	}
	start := time.Now()
	rep := Report{Seed: cfg.Seed}
	fmt.Fprintf(cfg.Out, "chaos: %s scenario, seed %d (STEVEDORE_CHAOS_SEED=%d replays it), %d trials, logs in %s\n",
		cmp.Or(cfg.Scenario, ScenarioBolt), cfg.Seed, cfg.Seed, cfg.Trials, cfg.WorkDir)

	d, err := newDriver(cfg)
	if err != nil {
		return rep, err
	}
	defer d.abandon()
	defer d.log.Close()
	if err := d.setUp(ctx); err != nil {
		return rep, fmt.Errorf("%w: set-up: %w", ErrFailed, err)
	}
	obsCtx, stopObserving := context.WithCancel(ctx)
	var observing sync.WaitGroup
	observing.Go(func() { d.obs.run(obsCtx) })
	defer func() {
		stopObserving()
		observing.Wait()
	}()

	for i := 1; i <= cfg.Trials; i++ {
		if cfg.Only > 0 && i != cfg.Only {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		k := d.kinds[(i-1)%len(d.kinds)]
		rng := mrand.New(mrand.NewPCG(cfg.Seed, uint64(i)))
		began := time.Now()
		what, err := d.trial(ctx, k, rng)
		rep.Trials++
		status := "ok"
		if err != nil {
			status = "FAIL: " + err.Error()
			rep.Failures = append(rep.Failures, fmt.Sprintf("trial %d (%s): %v", i, k.name, err))
		} else {
			rep.Passed++
		}
		fmt.Fprintf(cfg.Out, "chaos: trial %d/%d %-9s %s (%.1fs): %s\n", i, cfg.Trials, k.name, what, time.Since(began).Seconds(), status)
	}
	stopObserving()
	observing.Wait()
	if r, ok := d.cp.(*replicas); ok && r.summary() != "" {
		fmt.Fprintf(cfg.Out, "chaos: %s\n", r.summary())
	}

	cleanErr := d.cleanUp(ctx)
	if cleanErr != nil {
		rep.Failures = append(rep.Failures, "clean-up: "+cleanErr.Error())
		fmt.Fprintf(cfg.Out, "chaos: clean-up: FAIL: %v\n", cleanErr)
	} else {
		fmt.Fprintf(cfg.Out, "chaos: clean-up: services deleted, tasks stopped, the server stopped; no container, snapshot, netns, veth or nftables table of the run is left; its cgroups removed\n")
	}
	rep.Elapsed = time.Since(start)
	fmt.Fprintf(cfg.Out, "chaos: %d/%d trials passed (seed %d, %s)\n", rep.Passed, rep.Trials, cfg.Seed, rep.Elapsed.Round(time.Second))
	if len(rep.Failures) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrFailed, strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// driver holds a run: its control plane, what it intends the cluster to
// be, and its observer.
type driver struct {
	cfg   Config
	cp    controlPlane
	obs   *observer
	dirs  runDirs
	hosts []host
	kinds []kind
	// webCount is the web service's count; withBlueGreen adds the bg
	// service.
	webCount      int
	withBlueGreen bool
	keyID, secret string
	clean         bool // the clean-up ran to its end
	// reported are the orphans a trial found: a trial failed for them,
	// and the trials after it are not failed for them again.
	reported map[string]bool
	// restarted is when the control plane last came back from a crash.
	restarted time.Time
	logMu     sync.Mutex
	log       *os.File // driver.log

	// The intended state, as the trials change it.
	webDef, bgDef string // task definition ARNs the services must run
	webRev, bgRev int
	webDesired    int
	jobDef        string
}

// runDirs are the run's directories under WorkDir.
type runDirs struct {
	data, state, image, log string
}

// hostNames are the names of what the run makes on the host, its own so
// that leak checks see only what it makes, whatever else runs there (a
// test of the task network, another chaos run).
type hostNames struct {
	namespace string // containerd
	bridge    string
	prefix    string // of the task network's namespaces, veths and tables
	subnet    string
	hostTable string // the task network's table on the host, "ip <prefix>host"
}

func newHostNames() hostNames {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)[:4]
	// "stvc" starts the names of the chaos trials' objects, which the leak
	// check at the end of make test looks for too; not "stvi": the
	// integration package's own leak check, running beside these trials
	// in make test, takes every "stvi" object for its own.
	prefix := "stvc" + suffix[:2] + "-"
	return hostNames{
		namespace: "stevedore-chaos-" + suffix, bridge: "stvcchaos" + suffix[:2], prefix: prefix,
		subnet: fmt.Sprintf("10.231.%d.0/24", b[2]), hostTable: "ip " + prefix + "host",
	}
}

// host is one container instance of the run: its agent's objects on
// this host, under names of its own.
type host struct {
	id     string // the instance ID
	names  hostNames
	state  string // -state-dir: the FIFOs and the task network's state
	agents string // where its agent keeps task directories
}

func newDriver(cfg Config) (*driver, error) {
	dirs := runDirs{
		data:  filepath.Join(cfg.WorkDir, "data"),
		state: filepath.Join(cfg.WorkDir, "state"),
		image: filepath.Join(cfg.WorkDir, "image.tar"),
		log:   filepath.Join(cfg.WorkDir, "server.log"),
	}
	if err := writeImage(dirs.image); err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	d := &driver{cfg: cfg, dirs: dirs, reported: map[string]bool{}, keyID: "AKIDCHAOS", secret: hex.EncodeToString(secret)}
	var err error
	switch cfg.Scenario {
	case "", ScenarioBolt:
		err = d.boltScenario()
	case ScenarioEtcd:
		err = d.etcdScenario()
	}
	if err != nil {
		return nil, err
	}
	if d.log, err = os.Create(filepath.Join(cfg.WorkDir, "driver.log")); err != nil {
		return nil, err
	}
	d.obs = newObserver(clusterName, d.client)
	return d, nil
}

// boltScenario is one server on a data directory, with both services and
// every kind of trial.
func (d *driver) boltScenario() error {
	h := host{id: instanceID, names: newHostNames(), state: d.dirs.state, agents: filepath.Join(d.dirs.data, "agents")}
	if err := os.MkdirAll(h.state, 0o700); err != nil {
		return err
	}
	srv := d.newServer(h, d.dirs.log, "-data-dir", d.dirs.data,
		"-target-group", blueGroup, "-target-group", greenGroup, "-listener-rule", prodRule+"="+blueGroup+","+greenGroup)
	d.hosts, d.cp, d.kinds = []host{h}, single{srv: srv}, kinds
	d.webCount, d.withBlueGreen = webCount, true
	return nil
}

// newServer is a server of this run hosting instance h, logging to
// logPath, with extra arguments.
func (d *driver) newServer(h host, logPath string, extra ...string) *server {
	return &server{
		bin: d.cfg.Server, logPath: logPath, keyID: d.keyID, secret: d.secret, ready: endpointLine,
		args: append([]string{
			"-listen", "127.0.0.1:0", "-runtime", "containerd", "-containerd", d.cfg.ContainerdAddress,
			"-namespace", h.names.namespace, "-bridge", h.names.bridge, "-subnet", h.names.subnet, "-name-prefix", h.names.prefix,
			"-state-dir", h.state, "-cluster", clusterName, "-instance-id", h.id,
			"-cpu", "16384", "-memory", "8192", "-network-slots", "64", "-image-archive", d.dirs.image,
		}, extra...),
	}
}

// writeImage writes the busybox image the tasks run.
func writeImage(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ocitest.BusyboxArchive(f, imageRef, nil); err != nil {
		f.Close()
		return fmt.Errorf("image: %w", err)
	}
	return f.Close()
}

// logf writes a line to the driver's log (driver.log in WorkDir): what it
// did and waited for, beside the server's log.
func (d *driver) logf(format string, args ...any) {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	if d.log == nil {
		return
	}
	fmt.Fprintf(d.log, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

// client is the control plane's client now (nil while none serves).
func (d *driver) client() *ecs.Client { return d.cp.client() }
