// Command stevedore runs the Stevedore control plane as a server: an
// Orchestrator, this host registered as a container instance, and the ECS
// API on the wire (package ecsapi), so that the aws CLI and the AWS SDKs
// drive it:
//
//	export STEVEDORE_ACCESS_KEY_ID=AKIDLOCAL STEVEDORE_SECRET_ACCESS_KEY=...
//	stevedore -listen 127.0.0.1:8080
//	AWS_ACCESS_KEY_ID=AKIDLOCAL AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1 \
//		aws --endpoint-url http://127.0.0.1:8080 ecs list-clusters
//
// By default the host's containers run through containerd, with a network
// namespace per task (network/netlinux), which needs root. -runtime fake
// runs them in the fake runtime instead (for trying the API out), and
// -runtime none registers no instance. Settings come from flags, or from a
// JSON file (-config) whose members are the flags' names; flags given on
// the command line win. The access key comes from STEVEDORE_ACCESS_KEY_ID
// and STEVEDORE_SECRET_ACCESS_KEY (or the file); it is never logged.
// SIGINT or SIGTERM shuts the server down gracefully.
//
// The state is kept in memory, unless -data-dir names a directory (a
// durable store, stevedore.WithDataDir: a server restarted on the same
// directory, with the same -instance-id, finds its services and tasks
// again and adopts the containers that still run), or -etcd names an etcd
// cluster: then several servers with the same -etcd and -etcd-prefix are
// replicas of one control plane (stevedore.WithEtcd). Each serves the API
// and runs its host's instance; the elected leader runs the loops that
// must run once.
//
// There is no registry here: -image-archive imports the images of an OCI
// image layout (or docker-save) tar into containerd at start, and may be
// given several times. -target-group and -listener-rule create target
// groups (TCP health checks) and weighted forward actions over them, for
// services' loadBalancers and blue/green deployments.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	goruntime "runtime"
	"slices"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/ecsapi"
	"github.com/stevedore-io/stevedore/network"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, os.Getenv, nil); err != nil {
		fmt.Fprintln(os.Stderr, "stevedore:", err)
		os.Exit(1)
	}
}

// config is the server's settings: flags, or members of the -config file.
type config struct {
	Listen          string `json:"listen"`
	Region          string `json:"region"`
	AccessKeyID     string `json:"access-key-id"`
	SecretAccessKey string `json:"secret-access-key"`
	Cluster         string `json:"cluster"`
	InstanceID      string `json:"instance-id"`
	Zone            string `json:"zone"`
	Runtime         string `json:"runtime"`
	Containerd      string `json:"containerd"`
	Namespace       string `json:"namespace"`
	Bridge          string `json:"bridge"`
	Subnet          string `json:"subnet"`
	StateDir        string `json:"state-dir"`
	CPU             int    `json:"cpu"`
	Memory          int    `json:"memory"`
	NetworkSlots    int    `json:"network-slots"`
	LogLevel        string `json:"log-level"`
	// NamePrefix starts the names of the task network's kernel objects
	// (network/netlinux's NamePrefix).
	NamePrefix string `json:"name-prefix"`
	// DataDir keeps the state on disk (stevedore.WithDataDir).
	DataDir string `json:"data-dir"`
	// ImageArchives are imported into containerd at start (images.go).
	ImageArchives []string `json:"image-archive"`
	// TargetGroups and ListenerRules ("name=group,group") are the load
	// balancing that services may name (loadbalancing.go).
	TargetGroups  []string `json:"target-group"`
	ListenerRules []string `json:"listener-rule"`
	// Etcd, EtcdPrefix, ReplicaName and LeaseTTL make this server one
	// replica of a control plane on etcd (etcd.go).
	Etcd        string `json:"etcd"`
	EtcdPrefix  string `json:"etcd-prefix"`
	ReplicaName string `json:"replica-name"`
	LeaseTTL    int    `json:"lease-ttl"` // seconds
	// Partition, Account (with Region) make the ARNs the API gives out;
	// SecretsDir resolves the tasks' secrets; LogsDir keeps their output
	// (options.go).
	Partition  string `json:"partition"`
	Account    string `json:"account"`
	SecretsDir string `json:"secrets-dir"`
	LogsDir    string `json:"logs-dir"`
}

func defaults() config {
	return config{
		Listen: "127.0.0.1:8080", Cluster: stevedore.DefaultCluster, Zone: "local-1", Runtime: "containerd",
		Containerd: "/run/containerd/containerd.sock", Namespace: "stevedore", Bridge: "stevedore0",
		Subnet: "10.77.0.0/16", StateDir: "/var/lib/stevedore", CPU: goruntime.NumCPU() * 1024, Memory: 2048,
		NetworkSlots: 64, LogLevel: "info", NamePrefix: "sd-",
	}
}

// parse reads the -config file (when given) over the defaults, then the
// flags set on the command line over both.
func parse(args []string, getenv func(string) string) (config, error) {
	cfg := defaults()
	fs := flag.NewFlagSet("stevedore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("config", "", "a JSON file of settings (members named as the flags)")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the ECS endpoint")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "accept only requests signed for this region (any when empty)")
	fs.StringVar(&cfg.Cluster, "cluster", cfg.Cluster, "cluster of this host")
	fs.StringVar(&cfg.InstanceID, "instance-id", cfg.InstanceID, "container instance ID of this host (random when empty)")
	fs.StringVar(&cfg.Zone, "zone", cfg.Zone, "ecs.availability-zone of this host")
	fs.StringVar(&cfg.Runtime, "runtime", cfg.Runtime, "containerd, fake or none")
	fs.StringVar(&cfg.Containerd, "containerd", cfg.Containerd, "containerd's socket")
	fs.StringVar(&cfg.Namespace, "namespace", cfg.Namespace, "containerd namespace")
	fs.StringVar(&cfg.Bridge, "bridge", cfg.Bridge, "bridge of the task network")
	fs.StringVar(&cfg.Subnet, "subnet", cfg.Subnet, "subnet of the task network")
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "directory of the runtime's and network's state")
	fs.IntVar(&cfg.CPU, "cpu", cfg.CPU, "cpu units this host offers")
	fs.IntVar(&cfg.Memory, "memory", cfg.Memory, "MiB of memory this host offers")
	fs.IntVar(&cfg.NetworkSlots, "network-slots", cfg.NetworkSlots, "task networks this host offers")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&cfg.NamePrefix, "name-prefix", cfg.NamePrefix, "prefix of the task network's namespaces, veths and nftables tables (1 to 7 characters)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "keep the state in a durable store in this directory (memory when empty)")
	// The repeatable flags append to cfg's lists: the closures read cfg
	// when called, so after the -config file they append to its lists.
	fs.Func("image-archive", "an OCI image archive to import into containerd at start (repeatable)", func(v string) error {
		cfg.ImageArchives = append(cfg.ImageArchives, v)
		return nil
	})
	fs.Func("target-group", "a target group services may name, with TCP health checks (repeatable)", func(v string) error {
		cfg.TargetGroups = append(cfg.TargetGroups, v)
		return nil
	})
	fs.Func("listener-rule", "name=group,group: a forward action over target groups, for blue/green services (repeatable)", func(v string) error {
		cfg.ListenerRules = append(cfg.ListenerRules, v)
		return nil
	})
	fs.StringVar(&cfg.Etcd, "etcd", cfg.Etcd, "etcd endpoints, comma-separated: keep the state there, as one of several replicas")
	fs.StringVar(&cfg.EtcdPrefix, "etcd-prefix", cfg.EtcdPrefix, "the installation's etcd key prefix (/stevedore when empty)")
	fs.StringVar(&cfg.ReplicaName, "replica-name", cfg.ReplicaName, "this replica's name in the leader election (host:pid when empty)")
	fs.IntVar(&cfg.LeaseTTL, "lease-ttl", cfg.LeaseTTL, "seconds of the leader's lease (10 when 0)")
	wireFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *file != "" {
		fromFile := defaults()
		data, err := os.ReadFile(*file)
		if err != nil {
			return config{}, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fromFile); err != nil {
			return config{}, fmt.Errorf("config %s: %w", *file, err)
		}
		// The flags are bound to cfg's fields: parsing the command line
		// again over the file's settings lets the flags given win.
		cfg = fromFile
		if err := fs.Parse(args); err != nil {
			return config{}, err
		}
	}
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID = getenv("STEVEDORE_ACCESS_KEY_ID")
	}
	if cfg.SecretAccessKey == "" {
		cfg.SecretAccessKey = getenv("STEVEDORE_SECRET_ACCESS_KEY")
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return config{}, errors.New("no access key: set STEVEDORE_ACCESS_KEY_ID and STEVEDORE_SECRET_ACCESS_KEY (or the config file's access-key-id and secret-access-key)")
	}
	return cfg, nil
}

// run serves until ctx ends. ready, when not nil, receives the endpoint's
// address once it listens.
func run(ctx context.Context, args []string, logOut io.Writer, getenv func(string) string, ready chan<- string) error {
	cfg, err := parse(args, getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	storeOpts, closeStore, err := storeOptions(cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()
	lbOpts, closeLB, err := loadBalancing(cfg, log)
	if err != nil {
		return err
	}
	defer closeLB()
	wireOpts, secretsProvider, closeLogs, err := wireOptions(cfg)
	if err != nil {
		return err
	}
	defer closeLogs()
	orc, err := stevedore.New(slices.Concat(storeOpts, lbOpts, wireOpts, []stevedore.Option{stevedore.WithLogger(log)})...)
	if err != nil {
		return err
	}
	defer func() {
		if err := orc.Close(); err != nil {
			log.Error("close the orchestrator", "err", err)
		}
	}()
	if _, err := orc.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: cfg.Cluster}); err != nil {
		return fmt.Errorf("create cluster %s: %w", cfg.Cluster, err)
	}
	rt, nw, closeHost, err := hostRuntime(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeHost()
	if rt != nil {
		inst, err := orc.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
			Cluster: cfg.Cluster, InstanceID: cfg.InstanceID,
			Resources:  cluster.Resources{CPU: cfg.CPU, Memory: cfg.Memory, NetworkSlots: cfg.NetworkSlots},
			Attributes: map[string]string{cluster.AttributeAvailabilityZone: cfg.Zone},
			Runtime:    rt, Network: nw, Secrets: secretsProvider,
			// Imported images could not be pulled again.
			ImageCleanup: stevedore.ImageCleanup{Disabled: len(cfg.ImageArchives) > 0},
		})
		if err != nil {
			return fmt.Errorf("register this host: %w", err)
		}
		log.Info("registered this host", "cluster", cfg.Cluster, "instance", inst.ContainerInstance.ID, "runtime", cfg.Runtime)
	}

	opts := []ecsapi.Option{
		ecsapi.WithCredentials(ecsapi.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey}),
		ecsapi.WithLogger(log),
	}
	if cfg.Region != "" {
		opts = append(opts, ecsapi.WithRegion(cfg.Region))
	}
	h, err := ecsapi.New(orc, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := ecsapi.NewServer(cfg.Listen, h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving the ECS API", "endpoint", "http://"+ln.Addr().String(), "access-key-id", cfg.AccessKeyID)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hostRuntime builds the runtime and network provider of this host's
// instance (nil, nil with -runtime none) and a function that closes them.
func hostRuntime(ctx context.Context, cfg config, log *slog.Logger) (runtime.Runtime, network.Provider, func(), error) {
	switch cfg.Runtime {
	case "none":
		return nil, nil, func() {}, nil
	case "fake":
		rt := fake.New()
		return rt, netfake.New(), rt.Close, nil
	case "containerd":
		return containerdHost(ctx, cfg, log)
	default:
		return nil, nil, nil, fmt.Errorf("runtime: want containerd, fake or none, got %q", cfg.Runtime)
	}
}
