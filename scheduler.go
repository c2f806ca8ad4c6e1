package stevedore

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// launch describes tasks to create: which definition, where they may go, and
// the bookkeeping that ties them to a service deployment.
type launch struct {
	cluster     string
	def         *task.TaskDefinition
	overrides   *task.TaskOverride // applied by task.NewTask
	count       int
	group       string
	startedBy   string
	service     string
	deployment  string
	constraints []placement.Constraint
	strategies  []placement.StrategySpec
	providers   cluster.CapacityProviderStrategy
	// instances, when set, limits placement to these instance IDs
	// (StartTask and DAEMON services).
	instances []string
	// network is the tasks' network configuration as asked (security
	// groups by ID or name); placeReserving resolves it.
	network *task.NetworkConfiguration

	// Set by placeReserving: the security groups by ID and their policy.
	securityGroups []string
	ingress        *network.IngressPolicy
	// dns is the tasks' resolv.conf when their definition names no DNS
	// server (the discovery server's); nil: the host's.
	dns *network.DNSConfig
}

// placementRequest converts a task definition into what placement needs.
func placementRequest(l *launch) (*placement.Request, error) {
	def := l.def
	if l.overrides != nil {
		var err error
		if def, err = l.overrides.Apply(l.def); err != nil {
			return nil, fmt.Errorf("%w: overrides: %w", ErrInvalid, err)
		}
	}
	cpu, mem := def.Requirements()
	req := &placement.Request{
		Task:                     l.def.Ref(),
		Family:                   l.def.Family,
		Group:                    l.group,
		CPU:                      cpu,
		Memory:                   mem,
		Strategies:               l.strategies,
		CapacityProviderStrategy: l.providers,
	}
	mode := l.def.EffectiveNetworkMode()
	req.NetworkSlot = mode == task.NetworkAWSVPC
	if mode == task.NetworkBridge || mode == task.NetworkHost {
		for _, c := range l.def.ContainerDefinitions {
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
	for _, pc := range l.def.PlacementConstraints {
		req.Constraints = append(req.Constraints, placement.Constraint{Type: placement.ConstraintType(pc.Type), Expression: pc.Expression})
	}
	req.Constraints = append(req.Constraints, l.constraints...)
	return req, nil
}

// newRound starts a placement round over the instances of a cluster (only
// those in allowed, when it is not empty).
func (o *Orchestrator) newRound(tx store.ReadTx, clusterName string, allowed []string) (*placement.Round, error) {
	return o.newRoundReserving(tx, clusterName, allowed, nil)
}

// newRoundReserving is newRound over the instances as reserved holds them,
// where it holds them (see placeReserving).
func (o *Orchestrator) newRoundReserving(tx store.ReadTx, clusterName string, allowed []string, reserved map[string]*state.Instance) (*placement.Round, error) {
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
	return o.sched.NewRound(instances, o.seed()), nil
}

// place finds instances for l.count tasks and creates them, reserving their
// resources on the instances in the same transaction. round, when given, is
// a round of an earlier placement in the same pass (it accounts for what it
// placed); otherwise a new one is started. It returns the tasks created;
// when not all fit, the error is a *placement.NoFitError and the tasks that
// fit are created all the same. Reserving on the stored instance never
// overcommits it: a round that missed a concurrent placement fails there.
func (o *Orchestrator) place(tx store.Tx, l *launch, round *placement.Round) ([]*state.Task, error) {
	return o.placeReserving(tx, l, round, nil)
}

// placeReserving is place. When reserved is not nil, the instances it
// reserves on are kept there and not written: the caller writes them once
// after all its placements of the transaction (a placement reads them
// there first).
func (o *Orchestrator) placeReserving(tx store.Tx, l *launch, round *placement.Round, reserved map[string]*state.Instance) ([]*state.Task, error) {
	req, err := placementRequest(l)
	if err != nil {
		return nil, err
	}
	nc, ingress, err := o.resolveNetworkConfiguration(tx, l.network, l.def)
	if err != nil {
		return nil, err
	}
	l.securityGroups, l.ingress = nc.SecurityGroupIDs(), ingress
	if o.discovery != nil && l.dns == nil {
		dns := o.discovery.dnsConfig(l.cluster)
		l.dns = &dns
	}
	if round == nil {
		if round, err = o.newRoundReserving(tx, l.cluster, l.instances, reserved); err != nil {
			return nil, err
		}
	}
	decisions, placeErr := round.Place(req, l.count)
	var noFit *placement.NoFitError
	if placeErr != nil && !errors.As(placeErr, &noFit) {
		return nil, placeErr
	}
	now := o.now()
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
		t, err := o.newTask(l, d, now, &tmpl)
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

// newTask builds the task of one placement decision. *tmpl holds the task
// the definition and overrides make, built on the first call of a launch
// and copied for the others: building one applies the overrides to a copy
// of the whole definition, which the tasks of a launch need only once. The
// copies share what no one changes in place (the overrides; stored tasks
// are read-only) and have containers of their own.
func (o *Orchestrator) newTask(l *launch, d placement.Decision, now time.Time, tmpl **task.Task) (*state.Task, error) {
	if *tmpl == nil {
		t, err := task.NewTask("", l.def, l.overrides, now)
		if err != nil {
			return nil, err
		}
		*tmpl = t
	}
	t := new(task.Task)
	*t = **tmpl
	t.Containers = slices.Clone(t.Containers)
	t.TaskARN = "arn:stevedore:ecs:local:task/" + l.cluster + "/" + randomHex(32)
	t.ClusterARN = l.cluster
	t.ContainerInstanceARN = d.Instance
	t.TaskDefinitionARN = l.def.Ref()
	t.Group = d.Group
	t.StartedBy = l.startedBy
	t.LaunchType = "EC2"
	t.CapacityProviderName = d.CapacityProvider
	t.SecurityGroups = l.securityGroups // shared: stored tasks are read-only
	checked := false
	for _, c := range l.def.ContainerDefinitions {
		if c.IsEssential() && c.HealthCheck != nil {
			checked = true
		}
	}
	st := &state.Task{
		Task:          t,
		ServiceName:   l.service,
		DeploymentID:  l.deployment,
		Reserved:      d.Resources,
		HealthChecked: checked,
		Ingress:       l.ingress,
		DNS:           l.dns,
	}
	if len(o.drainers) > 0 {
		st.Drain = &state.Drain{By: o.drainers} // shared: stored tasks are read-only
	}
	return st, nil
}
