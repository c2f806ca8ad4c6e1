// Package launch creates tasks: it places them with the placement
// scheduler, reserves their resources on the instances chosen and writes
// them, in the caller's transaction. RunTask, StartTask and the service
// controller share it. Besides placement, a launch stamps on each task what
// its agent needs from the control plane: the security groups' ingress
// policy, the DNS configuration (service discovery) and the drainers that
// take the task out of service before it stops (state.Drain).
package launch

import (
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// ErrInvalid is matched (errors.Is) by the errors of a launch asked for
// wrongly: nothing was created, and the caller's API reports an invalid
// request (ECS's InvalidParameterException). It is errdefs.ErrInvalid,
// and the errors are *errdefs.FieldError values naming the field.
var ErrInvalid = errdefs.ErrInvalid

// CheckCapacityProviders checks that every provider of a capacity provider
// strategy is associated with the cluster, as ECS does before it creates
// anything: a provider that is not is an *errdefs.FieldError. An empty strategy is
// fine. Place checks its request's; CreateService and UpdateService check
// a service's with it.
func CheckCapacityProviders(tx store.ReadTx, clusterName string, strategy cluster.CapacityProviderStrategy) error {
	if len(strategy) == 0 {
		return nil
	}
	c, err := store.Get[*state.Cluster](tx, state.KindClusters, clusterName)
	if err != nil {
		return fmt.Errorf("cluster %q: %w", clusterName, err)
	}
	for i, item := range strategy {
		if !slices.Contains(c.CapacityProviders, item.CapacityProvider) {
			return errdefs.Invalid(fmt.Sprintf("capacityProviderStrategy[%d].capacityProvider", i),
				"%q is not associated with cluster %q", item.CapacityProvider, clusterName)
		}
	}
	return nil
}

// NetworkResolver checks a launch's network configuration against the
// stored security groups and returns it with the groups by ID, and the
// policy of tasks in them (nil: unfiltered) whose resolv.conf is dns (nil:
// the host's). Its errors are the caller's API errors.
type NetworkResolver func(tx store.ReadTx, nc *task.NetworkConfiguration, def *task.TaskDefinition, dns *network.DNSConfig) (*task.NetworkConfiguration, *network.IngressPolicy, error)

// Config is what a Launcher needs. Scheduler is required.
type Config struct {
	// Scheduler places tasks.
	Scheduler *placement.Scheduler
	// Seed seeds the random placement of the rounds, for reproducible
	// runs.
	Seed uint64
	// SeededIDs draws the IDs of new tasks (and those of NewID) from Seed
	// too, so that a run with a fixed seed creates the same IDs, which
	// break the scheduler's last ties; false draws them from crypto/rand.
	// A seeded ID already taken in the store is drawn again.
	SeededIDs bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ResolveNetwork resolves network configurations; nil accepts none.
	ResolveNetwork NetworkResolver
	// Drainers name the loops that take a task out of service before it
	// stops (state.Drain.By of every task created).
	Drainers []string
	// DNS returns the resolv.conf of the tasks of a cluster whose
	// definition names no DNS server; nil leaves them the host's.
	DNS func(cluster string) network.DNSConfig
	// DefaultStrategies is the placement strategy of the tasks and
	// services that name none (see DefaultStrategies); it may name the
	// Scheduler's custom strategy types. Empty: ECS's defaults.
	DefaultStrategies []placement.StrategySpec
}

// Launcher creates tasks. It is safe for concurrent use.
type Launcher struct {
	cfg Config

	randMu sync.Mutex
	rand   *rand.Rand
	ids    *rand.Rand // SeededIDs only; guarded by randMu
}

// New returns a Launcher for cfg.
func New(cfg Config) (*Launcher, error) {
	if cfg.Scheduler == nil {
		return nil, errors.New("launch: Config.Scheduler missing")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Scheduler.CheckStrategies(cfg.DefaultStrategies); err != nil {
		return nil, fmt.Errorf("launch: default strategies: %w", err)
	}
	cfg.DefaultStrategies = slices.Clone(cfg.DefaultStrategies)
	seed := cfg.Seed
	ln := &Launcher{cfg: cfg, rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if cfg.SeededIDs {
		// A stream of its own: drawing IDs does not move the rounds'
		// seeds, nor the other way round.
		ln.ids = rand.New(rand.NewPCG(seed^0xbb67ae8584caa73b, seed))
	}
	return ln, nil
}

// Scheduler is the placement scheduler the launcher places with.
func (ln *Launcher) Scheduler() *placement.Scheduler { return ln.cfg.Scheduler }

// DefaultStrategies returns the placement strategy of tasks or services
// that name none, a copy for the caller: Config.DefaultStrategies when
// set; otherwise none when the scheduler has a default chain of its own
// (placement.WithStrategies), which then places them; otherwise ecs,
// ECS's default for them (random for RunTask, spread over availability
// zones then instances for a service).
func (ln *Launcher) DefaultStrategies(ecs []placement.StrategySpec) []placement.StrategySpec {
	switch {
	case len(ln.cfg.DefaultStrategies) > 0:
		return slices.Clone(ln.cfg.DefaultStrategies)
	case ln.cfg.Scheduler.HasDefaultStrategies():
		return nil
	}
	return slices.Clone(ecs)
}

// Seed is the seed the launcher was configured with (Config.Seed): the
// service controller derives its own reproducible choices from it.
func (ln *Launcher) Seed() uint64 { return ln.cfg.Seed }

func (ln *Launcher) seed() uint64 {
	ln.randMu.Lock()
	defer ln.randMu.Unlock()
	return ln.rand.Uint64()
}

// NewID returns n hex digits for an ID: from the launcher's seed with
// Config.SeededIDs, from crypto/rand otherwise (RandomHex). The root draws
// the IDs it makes itself (container instances) here too, so that a run
// under a fixed seed is reproducible.
func (ln *Launcher) NewID(n int) string {
	if ln.ids == nil {
		return RandomHex(n)
	}
	b := make([]byte, (n+1)/2)
	ln.randMu.Lock()
	for i := range b {
		b[i] = byte(ln.ids.Uint32())
	}
	ln.randMu.Unlock()
	return hex.EncodeToString(b)[:n]
}

// taskID returns a new task ID: a seeded ID is drawn again while it is
// taken (an Orchestrator restarted with the same seed on a durable store
// draws the same IDs again).
func (ln *Launcher) taskID(tx store.ReadTx) (string, error) {
	for {
		id := ln.NewID(32)
		if ln.ids == nil {
			return id, nil
		}
		_, err := store.Get[*state.Task](tx, state.KindTasks, id)
		if errors.Is(err, store.ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
	}
}

// RandomHex returns n random hex digits, for IDs.
func RandomHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := cryptorand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)[:n]
}

// Request describes tasks to create: which definition, where they may go,
// and the bookkeeping that ties them to a service deployment.
type Request struct {
	Cluster   string
	Def       *task.TaskDefinition
	Overrides *task.TaskOverride // applied by task.NewTask; the caller checks them first
	Count     int
	Group     string
	StartedBy string
	// Service and Deployment tie the tasks to a service deployment.
	Service     string
	Deployment  string
	Constraints []placement.Constraint
	Strategies  []placement.StrategySpec
	Providers   cluster.CapacityProviderStrategy
	// Instances, when set, limits placement to these instance IDs
	// (StartTask and DAEMON services).
	Instances []string
	// Network is the tasks' network configuration as asked (security
	// groups by ID or name); Place resolves it.
	Network *task.NetworkConfiguration

	// Set by Place: the security groups by ID and their policy, and the
	// tasks' resolv.conf when their definition names no DNS server.
	securityGroups []string
	ingress        *network.IngressPolicy
	dns            *network.DNSConfig
}

// refusedByTaskPolicy keeps a definition off the instances whose own task
// policy refuses it; each instance's verdict is worked out once.
func refusedByTaskPolicy(def *task.TaskDefinition) func(*cluster.ContainerInstance) placement.Reason {
	verdicts := map[*policy.Policy]bool{}
	return func(ci *cluster.ContainerInstance) placement.Reason {
		if ci.TaskPolicy == nil {
			return ""
		}
		allowed, seen := verdicts[ci.TaskPolicy]
		if !seen {
			allowed = ci.TaskPolicy.Check(def) == nil
			verdicts[ci.TaskPolicy] = allowed
		}
		if !allowed {
			return placement.ReasonTaskPolicy
		}
		return ""
	}
}

// placementRequest converts a task definition into what placement needs.
func placementRequest(l *Request) (*placement.Request, error) {
	def := l.Def
	if l.Overrides != nil {
		var err error
		if def, err = l.Overrides.Apply(l.Def); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
	}
	cpu, mem := def.Requirements()
	req := &placement.Request{
		Task:                     l.Def.Ref(),
		Family:                   l.Def.Family,
		Group:                    l.Group,
		CPU:                      cpu,
		Memory:                   mem,
		Strategies:               l.Strategies,
		CapacityProviderStrategy: l.Providers,
		Refuse:                   refusedByTaskPolicy(l.Def),
		Attributes:               l.Def.PlatformAttributes(),
	}
	mode := l.Def.EffectiveNetworkMode()
	req.NetworkSlot = mode == task.NetworkAWSVPC
	if mode == task.NetworkBridge || mode == task.NetworkHost {
		for _, c := range l.Def.ContainerDefinitions {
			for _, pm := range c.PortMappings {
				host := pm.HostPort
				if mode == task.NetworkHost && host == 0 {
					host = pm.ContainerPort
				}
				p := cluster.TCPPort(uint16(host))
				if pm.EffectiveProtocol() == task.ProtocolUDP {
					p = cluster.UDPPort(uint16(host))
				}
				req.Ports = append(req.Ports, p)
			}
		}
	}
	for _, pc := range l.Def.PlacementConstraints {
		req.Constraints = append(req.Constraints, placement.Constraint{Type: placement.ConstraintType(pc.Type), Expression: pc.Expression})
	}
	req.Constraints = append(req.Constraints, l.Constraints...)
	return req, nil
}

// NewRound starts a placement round over the instances of a cluster (only
// those in allowed, when it is not empty), as reserved holds them where it
// holds them (see Place).
func (ln *Launcher) NewRound(tx store.ReadTx, clusterName string, allowed []string, reserved map[string]*state.Instance) (*placement.Round, error) {
	all, err := store.List[*state.Instance](tx, state.KindInstances)
	if err != nil {
		return nil, err
	}
	instances := make([]cluster.ContainerInstance, 0, len(all))
	for _, inst := range all {
		if inst.Cluster != clusterName || (len(allowed) > 0 && !slices.Contains(allowed, inst.ID)) {
			continue
		}
		if r := reserved[inst.ID]; r != nil {
			inst = r
		}
		instances = append(instances, inst.ContainerInstance)
	}
	return ln.cfg.Scheduler.NewRound(instances, ln.seed()), nil
}

// Place finds instances for l.Count tasks and creates them, reserving
// their resources on the instances in the same transaction. round, when
// given, is a round of an earlier placement in the same pass (it accounts
// for what it placed); otherwise a new one is started. It returns the
// tasks created; when not all fit, the error is a *placement.NoFitError
// and the tasks that fit are created all the same. A capacity provider
// strategy naming a provider not associated with the cluster is a
// *errdefs.FieldError (ErrInvalid), and nothing is created. Reserving on the stored
// instance never overcommits it: a round that missed a concurrent
// placement fails there.
//
// When reserved is not nil, the instances it reserves on are kept there
// and not written: the caller writes them once after all its placements of
// the transaction (a placement reads them there first).
func (ln *Launcher) Place(tx store.Tx, l *Request, round *placement.Round, reserved map[string]*state.Instance) ([]*state.Task, error) {
	req, err := placementRequest(l)
	if err != nil {
		return nil, err
	}
	if err := CheckCapacityProviders(tx, l.Cluster, l.Providers); err != nil {
		return nil, err
	}
	if ln.cfg.DNS != nil && l.dns == nil {
		dns := ln.cfg.DNS(l.Cluster)
		l.dns = &dns
	}
	if ln.cfg.ResolveNetwork != nil {
		nc, ingress, err := ln.cfg.ResolveNetwork(tx, l.Network, l.Def, l.dns)
		if err != nil {
			return nil, err
		}
		l.securityGroups, l.ingress = nc.SecurityGroupIDs(), ingress
	}
	if round == nil {
		if round, err = ln.NewRound(tx, l.Cluster, l.Instances, reserved); err != nil {
			return nil, err
		}
	}
	decisions, placeErr := round.Place(req, l.Count)
	var noFit *placement.NoFitError
	if placeErr != nil && !errors.As(placeErr, &noFit) {
		return nil, placeErr
	}
	now := ln.cfg.Now()
	updated := reserved
	if updated == nil {
		updated = map[string]*state.Instance{}
	}
	var created []*state.Task
	var tmpl *task.Task
	for _, d := range decisions {
		inst := updated[d.Instance]
		if inst == nil {
			stored, err := store.Get[*state.Instance](tx, state.KindInstances, d.Instance)
			if err != nil {
				return nil, err
			}
			inst = reservingCopy(stored)
			updated[d.Instance] = inst
		}
		if err := inst.AddTask(d.Group, d.Resources); err != nil {
			return nil, fmt.Errorf("reserve on %s: %w", d.Instance, err)
		}
		id, err := ln.taskID(tx)
		if err != nil {
			return nil, err
		}
		t, err := ln.newTask(l, d, id, now, &tmpl)
		if err != nil {
			return nil, err
		}
		if err := tx.Create(t); err != nil {
			return nil, err
		}
		created = append(created, t)
	}
	if reserved == nil {
		for _, inst := range updated {
			if err := tx.Update(inst); err != nil {
				return nil, err
			}
		}
	}
	if placeErr != nil {
		return created, placeErr
	}
	return created, nil
}

// reservingCopy copies a stored instance for AddTask: it copies what
// AddTask changes (the remaining resources and the task groups) and shares
// the rest, attributes and registered resources, with the stored instance,
// which no one changes in place.
func reservingCopy(stored *state.Instance) *state.Instance {
	next := *stored
	next.Remaining = stored.Remaining.Clone()
	next.TaskGroups = maps.Clone(stored.TaskGroups)
	return &next
}

// newTask builds the task of one placement decision, with ID id. *tmpl holds the task
// the definition and overrides make, built on the first call of a launch
// and copied for the others: building one applies the overrides to a copy
// of the whole definition, which the tasks of a launch need only once. The
// copies share what no one changes in place (the overrides; stored tasks
// are read-only) and have containers of their own.
func (ln *Launcher) newTask(l *Request, d placement.Decision, id string, now time.Time, tmpl **task.Task) (*state.Task, error) {
	if *tmpl == nil {
		t, err := task.NewTask("", l.Def, l.Overrides, now)
		if err != nil {
			return nil, err
		}
		*tmpl = t
	}
	t := new(task.Task)
	*t = **tmpl
	t.Containers = slices.Clone(t.Containers)
	t.TaskARN = "arn:stevedore:ecs:local:task/" + l.Cluster + "/" + id
	t.ClusterARN = l.Cluster
	t.ContainerInstanceARN = d.Instance
	t.TaskDefinitionARN = l.Def.Ref()
	t.Group = d.Group
	t.StartedBy = l.StartedBy
	t.LaunchType = "EC2"
	t.CapacityProviderName = d.CapacityProvider
	t.SecurityGroups = l.securityGroups // shared: stored tasks are read-only
	checked := false
	for _, c := range l.Def.ContainerDefinitions {
		if c.IsEssential() && c.HealthCheck != nil {
			checked = true
		}
	}
	st := &state.Task{
		Task:          t,
		ServiceName:   l.Service,
		DeploymentID:  l.Deployment,
		Reserved:      d.Resources,
		HealthChecked: checked,
		Ingress:       l.ingress,
		DNS:           l.dns,
	}
	if len(ln.cfg.Drainers) > 0 {
		st.Drain = &state.Drain{By: ln.cfg.Drainers} // shared: stored tasks are read-only
	}
	return st, nil
}
