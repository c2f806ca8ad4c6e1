// Package stevedore is an embeddable orchestration core modelled on Amazon
// ECS: clusters of container instances, task definitions, standalone tasks
// and services that keep a desired count through rolling or blue/green
// deployments.
//
// # Construction and closing
//
// New returns a running Orchestrator. By default it keeps its state in an
// in-memory store (package store/memory), for one process and for tests.
// WithDataDir keeps it in a durable store on disk (package store/bolt), the
// choice for any real deployment: state survives a crash or a restart.
// WithStore gives it any other store. Close stops its background loops and
// its agents; containers keep running, and an Orchestrator started later on
// the same store adopts them when the instances register again. So does one
// started after a kill -9: deployments, blue/green shifts and their bake
// times, circuit-breaker and throttling counts, cooldowns, Spot reclaim
// times, drains, security groups, target-group membership and DNS records
// resume from what was stored, and the tasks whose containers died
// meanwhile are stopped (and replaced, for services). Until an instance
// registers again, nothing new is placed on it (ARCHITECTURE.md, "What
// survives a restart").
//
//	o, err := stevedore.New(stevedore.WithDataDir("/var/lib/stevedore"), stevedore.WithLogger(logger))
//	if err != nil { ... }
//	defer o.Close()
//
// # Several replicas on etcd
//
// WithEtcd keeps the state in etcd (package store/etcd) and lets several
// Orchestrator processes, on one host or many, share it as replicas of one
// control plane. Each serves the whole API: reads and writes go to etcd,
// and Subscribe delivers the same events in the same order on every
// replica. The replicas elect a leader through etcd; only the leader runs
// the loops that must run once (the service controller, traffic shifts and
// alarms, target groups, security-group members, auto scaling, the reaper),
// and its writes are fenced by its election key: a leader that was paused
// or cut off and wakes up after another took over has every write refused
// (store/etcd.ErrFenced), so it cannot undo the new leader's work. The new
// leader's loops start from the stored state, as after a restart, and take
// deployments, shifts and timers up where they were. An instance's agent
// runs on the replica it was registered on, leader or not. A replica that
// loses etcd stops leading within its lease TTL, logs it, and says so in
// LeaderStatus and through EtcdConfig.Notify; Close hands the leadership
// over at once.
//
//	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsConfig})
//	o, err := stevedore.New(stevedore.WithEtcd(client, stevedore.EtcdConfig{
//		Prefix: "/stevedore/prod", Name: "cp-1", LeaseTTL: 5 * time.Second,
//		Notify: func(s stevedore.LeaderStatus) { log.Printf("leading=%v: %s", s.Leading, s.Reason) },
//	}))
//	defer o.Close()
//	if st := o.LeaderStatus(); !st.Leading {
//		log.Printf("following %s", st.Leader)
//	}
//
// # The model
//
// Every call writes desired state to the store and returns; loops make it so,
// meeting only in the store (ARCHITECTURE.md lists them and who writes what).
// RegisterContainerInstance adds a host to a cluster with the runtime and the
// network provider its agent uses (runtime/containerd and network/netlinux
// for real containers, runtime/fake and network/fake for tests). The agent
// of each instance drives the tasks placed there through ECS's lifecycle —
// PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING,
// DEPROVISIONING, STOPPED — and reports what it sees. The service controller
// compares each service with its tasks and applies the deployment planner of
// package service: minimumHealthyPercent and maximumPercent bound every
// rolling update, unhealthy tasks are replaced start-first when room allows,
// tasks that keep failing to start are throttled, and the circuit breaker
// fails a deployment and rolls back to the last one that completed. So do
// deployment alarms (DeploymentConfiguration.Alarms, alarms registered with
// WithAlarms: a predicate or a metric threshold): watched while the
// deployment is in progress and for a bake time once its tasks are all
// healthy, a firing alarm fails it and, with rollback, rolls it back.
//
//	td, warnings, err := task.ParseDefinition(ecsJSON)
//	reg, err := o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td}) // web:1
//	out, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: "prod", TaskDefinition: "web", Count: 2})
//	created, err := o.CreateService(ctx, &stevedore.CreateServiceInput{
//		Cluster: "prod", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
//	})
//
// Placement (package placement) filters instances by status, resources,
// ports and constraints, then applies up to five strategies; services spread
// over availability zones by default. When nothing fits, RunTask reports the
// tasks in Failures with ECS's reason ("RESOURCE:MEMORY") and the service
// records an event saying why.
//
// # Custom schedulers
//
// A placement.Scheduler given with WithPlacementScheduler places every
// task: RunTask's, StartTask's (its filters only) and the services'. Its
// filters (placement.WithFilters) apply to every task. Strategy and
// constraint types registered on it are named in placementStrategy and
// placementConstraints as ECS's built-in ones are, in Go and on the wire,
// and WithDefaultPlacementStrategy makes a chain of them the default of
// the tasks and services that name none (ECS's defaults otherwise: random
// for RunTask, DefaultServicePlacement for services). A type no one
// registered is a *FieldError at placementStrategy[i].type. The reason a
// custom filter turns an instance down with is RunTask's failure reason
// and is in the service's "unable to place" event. A custom strategy
// chooses which of a service's tasks to stop (scale-in, deployments) only
// through placement.StopBalancer; otherwise the rest of the chain does, or
// the service default. examples/customscheduler runs it end to end.
//
//	sched, err := placement.New(placement.WithStrategyType("prefer", func(field string) (placement.Strategy, error) {
//		return placement.ScoreStrategy(preferAttribute{name: field}), nil
//	}))
//	o, err := stevedore.New(stevedore.WithPlacementScheduler(sched))
//	_, err = o.CreateService(ctx, &stevedore.CreateServiceInput{ServiceName: "train", TaskDefinition: "train", DesiredCount: 12,
//		PlacementStrategy: []placement.StrategySpec{{Type: "prefer", Field: "gpu"}, placement.Binpack(placement.FieldMemory)}})
//
// Instances may belong to capacity providers, ON_DEMAND or SPOT, which
// tasks and services weigh with a capacity provider strategy.
// InterruptSpotInstance passes on a Spot interruption notice: the instance
// drains at once, so the services start replacements on the remaining
// capacity while the notice runs, and when it ends (a time kept in the
// store) the tasks still there stop with stop code SpotInterruption and the
// instance is deregistered.
//
// # Security groups
//
// A security group is a named set of inbound and outbound rules
// (network.IngressRule, network.EgressRule: tcp, udp, icmp or all, a port
// range, IPv4 prefixes or other security groups). Tasks of an awsvpc task
// definition join up to five groups through the networkConfiguration of
// RunTask, StartTask, CreateService and UpdateService; their network then
// accepts only the inbound connections that a rule of one of their groups
// allows (no rule: none), and opens only the outbound connections that an
// outbound rule allows, enforced with nftables inside the task's
// namespace. Tasks in no group are not filtered. As in AWS, a new group
// allows all outbound traffic through a default rule, until
// RevokeSecurityGroupEgress takes it away; a task whose outbound traffic is
// restricted can still reach the DNS server the Orchestrator gives it
// (service discovery's, udp and tcp port 53), as AWS exempts its resolver.
//
// A rule may name a group, by ID or name, instead of a prefix: it admits
// (or reaches) the group's members, the tasks in the group from the moment
// they have a network address until they reach DEPROVISIONING, and the
// policies of the tasks follow the members as they come and go.
// AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress,
// AuthorizeSecurityGroupEgress and RevokeSecurityGroupEgress apply to the
// group's running tasks as well; a new networkConfiguration of a service
// starts a deployment; DeleteSecurityGroup is refused while a task or a
// service uses the group, or a rule of another group names it.
//
//	g, err := o.CreateSecurityGroup(ctx, &stevedore.CreateSecurityGroupInput{
//		GroupName: "web", IngressRules: []network.IngressRule{rule}, // network.ParseIngressRule("tcp:443 from 0.0.0.0/0")
//	})
//	_, err = o.AuthorizeSecurityGroupIngress(ctx, &stevedore.AuthorizeSecurityGroupIngressInput{
//		GroupID: g.SecurityGroup.ID, Rules: []network.IngressRule{more},
//	})
//	created, err := o.CreateService(ctx, &stevedore.CreateServiceInput{..., NetworkConfiguration: &task.NetworkConfiguration{
//		AwsvpcConfiguration: &task.AwsvpcConfiguration{SecurityGroups: []string{g.SecurityGroup.ID}},
//	}})
//
// # Task policies
//
// A task policy (package task/policy) decides which task definitions may
// run: host paths (an allow-list of prefixes), added capabilities,
// privileged containers, devices, the host's network, PID and IPC
// namespaces, sysctls and running as root, at the levels privileged,
// baseline and restricted. A cluster has one (CreateClusterInput.TaskPolicy,
// PutClusterTaskPolicy); a cluster that sets none has the Orchestrator's,
// DefaultTaskPolicy (baseline) unless WithTaskPolicy says otherwise, so a
// new Orchestrator refuses the definitions that would take the host and
// runs ordinary images unchanged. RunTask, StartTask and CreateService
// refuse a violation with a *policy.ViolationError that names every field
// and the policy (it matches ErrInvalid), and create nothing. A tighter
// policy leaves what runs alone; a service's next deployment of a
// definition it refuses is refused, with an event on the service. An
// instance can have a policy of its own (RegisterContainerInstanceInput.TaskPolicy):
// placement keeps what it refuses off it (failure reason TaskPolicy).
//
//	o, err := stevedore.New(stevedore.WithTaskPolicy(policy.Policy{Level: policy.Restricted}))
//	_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "tools",
//		TaskPolicy: &policy.Policy{Level: policy.Baseline, HostPaths: []string{"/srv/tools"}}})
//
// # Health checks
//
// A container's healthCheck runs on the agent of its instance: ECS's CMD and
// CMD-SHELL commands in the container, and Stevedore's network checks from
// inside the task's network namespace, where localhost is the task's own
// loopback — ["HTTP", "http://localhost:8080/healthz"] (optionally with the
// statuses that pass, "200-399" by default, as a third element) and
// ["TCP", "8080"]. The network checks need an instance network provider that
// is a network.TaskDialer (network/netlinux and network/fake are); with
// another one the check fails and the container's reason says why. Services
// replace tasks that turn UNHEALTHY.
//
// # Blue/green deployments
//
// A service whose DeploymentConfiguration.Strategy is BLUE_GREEN, LINEAR or
// CANARY deploys as ECS's native blue/green deployments do. Each of its load
// balancers names, in AdvancedConfiguration, a second (alternate) target
// group, a production listener rule and optionally a test listener rule; the
// rules are registered with WithListenerRules (package lb's *ForwardAction
// is one: a weighted forward action, usable on a rule or as a listener's
// default). A new deployment goes through ECS's lifecycle stages, shown in
// DescribeServices (Deployment.LifecycleStage) and as service events:
// RECONCILE_SERVICE, PRE_SCALE_UP, SCALE_UP (a full set of green tasks,
// registered in the target groups the blue tasks do not use), POST_SCALE_UP,
// TEST_TRAFFIC_SHIFT (the test rule forwards to green), POST_TEST_TRAFFIC_SHIFT,
// PRODUCTION_TRAFFIC_SHIFT (all at once; in LinearConfiguration.StepPercent
// steps baking StepBakeTime each; or CanaryConfiguration.CanaryPercent, a
// CanaryBakeTime, then the rest), POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME
// (blue keeps running for BakeTime) and CLEAN_UP (blue stops; the next
// deployment uses blue's target groups). Service.Routing shows the weights
// last applied; the deployment moves on from a traffic stage only once they
// are applied, so blue stops only when no traffic goes to it.
//
// Before CLEAN_UP the deployment rolls back by itself when a green task fails
// its container health checks or those of its target group, when the circuit
// breaker trips (with its rollback) or
// when an alarm of DeploymentConfiguration.Alarms fires (with its rollback):
// traffic returns to blue, green stops, the deployment is FAILED with its
// reason, and its stage reads ROLLBACK_IN_PROGRESS then ROLLBACK_SUCCESSFUL.
// Alarms are registered with WithAlarms: a predicate or a metric with a
// threshold, evaluated every period from SCALE_UP through BAKE_TIME.
//
//	o, err := stevedore.New(
//		stevedore.WithTargetGroups(groupA, groupB),
//		stevedore.WithListenerRules(prodAction, testAction),
//		stevedore.WithAlarms(stevedore.Alarm{Name: "5xx", Predicate: tooManyErrors}),
//	)
//
// Green tasks need room for a full set beside blue. The DAEMON scheduling
// strategy supports ROLLING only.
//
// # Events
//
// Subscribe delivers task state changes, service events ("(service web) has
// reached a steady state."), deployment state changes and instance changes.
// Each event shows its object as the Describe calls do (a task with the
// API's ARNs, as DescribeTasks) and carries the time its change happened
// (a task's UpdatedAt, a deployment's, an instance's: when its status or
// agent connection changed; an agent's heartbeat is no change).
//
// # Load balancing
//
// WithTargetGroups gives services target groups (package lb) to name in
// their LoadBalancers. A task of such a service joins them once RUNNING and
// container-healthy, and counts as healthy for its deployment only while
// every group reports it healthy: a rolling update waits for the groups'
// health checks, and a task that fails them is replaced like a
// container-unhealthy one, once healthCheckGracePeriod has passed since it
// started. A task asked to stop leaves its groups (and service discovery)
// at once and stays DEACTIVATING, its containers running, until the groups
// have drained it (nothing in flight, or the deregistration delay over);
// only then do its containers get SIGTERM.
//
// # ECS's shape: one form of call, the default cluster, ARNs, Failures
//
// Every action is one method named as the ECS action, taking and giving
// ECS's members: RunTask(ctx, *RunTaskInput) (*RunTaskOutput, error),
// CreateService(ctx, *CreateServiceInput) (*CreateServiceOutput, error),
// and so on; Stevedore's extensions (security groups, log queries, auto
// scaling, Spot notices, task policies) have the same form. A nil input is
// an empty one: a call whose members are all optional runs with its
// defaults, and one that needs a member reports it missing (ErrInvalid).
// The inputs and outputs are package api's, which this package re-exports
// under the same names (stevedore.RunTaskInput is api.RunTaskInput).
//
// A call that names no cluster uses DefaultCluster ("default"), as ECS
// does: CreateCluster without a name and the first instance registered
// without a cluster create it. Objects are named by name or by ARN alike;
// the ARNs the API gives out are ECS's, in the partition, region and
// account of WithARNs. Describe calls take ECS's inputs and report each
// object they cannot find in Failures, with reason "MISSING", instead of
// failing; only a missing cluster is an error. List calls page with
// MaxResults and NextToken (NewListTasksPaginator walks the pages), and the
// waiters of aws-sdk-go-v2 have counterparts: NewServicesStableWaiter,
// NewTasksRunningWaiter and NewTasksStoppedWaiter. Package ecsapi serves
// the same API on the wire, for the aws CLI and the AWS SDKs.
//
//	out, err := o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: "prod", Tasks: ids})
//	for _, f := range out.Failures { ... } // f.Arn, f.Reason "MISSING"
//
// Stevedore's extensions to ECS keep their own calls and members, and the
// wire protocol does not carry them unless ECS has them: security groups
// (CreateSecurityGroup and NetworkConfiguration's security groups, enforced
// in the task's network namespace), task policies (PutClusterTaskPolicy),
// HTTP and TCP health checks (healthCheck.command ["HTTP", url] and
// ["TCP", port]), Spot interruption notices (InterruptSpotInstance), log
// queries (GetLogEvents, FilterLogEvents), service auto scaling
// (RegisterScalableTarget, PutScalingPolicy), and Describe calls that
// describe every service or instance of a cluster when none is named.
// Blue/green deployments and deployment alarms are ECS's, and travel on the
// wire in ECS's members and units (bakeTimeInMinutes, ...).
//
// # Errors
//
// Every error has one kind, the same through every entry point and
// whichever package found it (package errdefs defines them; these are the
// same values): ErrNotFound (a *NotFoundError names the kind and the
// object), ErrAlreadyExists, ErrInvalid, ErrConflict, ErrInUse (a deletion
// refused may be an *InUseError naming the users) or ErrClosed. A few
// errors have a meaning no kind has, and a sentinel of their own
// (ErrServiceNotActive, placement.ErrNoFit, network.ErrExhausted,
// network.ErrPortInUse, store.ErrCompacted, ...).
//
// Invalid input is reported field by field, as *FieldError values: the
// field's Path in the style of ECS's JSON ("containerDefinitions[0].memory",
// "placementConstraints[1].expression", "desiredCount") and the Reason, the
// rule it breaks. A request with several broken rules joins them;
// FieldErrors lists them. The same bad memberOf expression is the same
// error through RunTask, StartTask, CreateService and UpdateService. A
// rejected request changes nothing.
//
//	_, err := o.CreateService(ctx, in)
//	switch {
//	case errors.Is(err, stevedore.ErrInvalid):
//		for _, fe := range stevedore.FieldErrors(err) {
//			log.Printf("%s: %s", fe.Path, fe.Reason)
//		}
//	case errors.Is(err, stevedore.ErrNotFound):
//		...
//	}
//
// # Concurrency
//
// An Orchestrator is safe for concurrent use. Objects it returns are copies:
// changing them changes nothing.
//
// # Logs
//
// WithLogSink sends every container's output to a log sink; with a
// *logs.Store (or another LogStore) the Orchestrator answers queries over
// it, as CloudWatch Logs does for ECS: GetLogEvents reads one container of
// one task, newest or oldest first, with tokens to page on; FilterLogEvents
// searches the tasks of a cluster by task, service or family, time range and
// filter pattern. Logs outlive the tasks: a task forgotten after the task
// retention keeps its logs until they are removed from the store.
//
//	store, err := logs.Open(dir)
//	o, err := stevedore.New(stevedore.WithLogSink(store))
//	out, err := o.GetLogEvents(ctx, &stevedore.GetLogEventsInput{
//		Cluster: "prod", Task: id, Container: "web", Limit: 20,
//	})
//	found, err := o.FilterLogEvents(ctx, &stevedore.FilterLogEventsInput{
//		Cluster: "prod", ServiceName: "web", FilterPattern: "%5[0-9][0-9]%",
//	})
//
// # Service auto scaling
//
// Target tracking scaling, as Application Auto Scaling does for ECS
// services: RegisterScalableTarget bounds a REPLICA service's desired count,
// PutScalingPolicy adds a policy keeping a metric near a target value, and
// every evaluation period (WithScalingEvaluationPeriod, default one minute)
// the Orchestrator sets the desired count to ceil(count × metric / target),
// within the bounds, the cooldowns and the scale-in tolerance of package
// autoscaling, recording a service event. The metrics are
// ECSServiceAverageCPUUtilization and ECSServiceAverageMemoryUtilization
// (the average over the service's RUNNING tasks of their containers' use, in
// percent of what the task reserves, from the samples the agents take of
// the runtimes' Stats twice per period; CPU is a rate between the samples
// of two evaluations) or custom metrics registered with
// WithMetrics. With several policies the service scales out when any says so
// and in only when all do.
//
//	o, err := stevedore.New(stevedore.WithMetrics(map[string]stevedore.MetricFunc{
//		"queue": func(ctx context.Context, cluster, service string) (float64, error) { ... },
//	}))
//	_, err = o.RegisterScalableTarget(ctx, &stevedore.RegisterScalableTargetInput{
//		Cluster: "prod", Service: "web", MinCapacity: 2, MaxCapacity: 20,
//	})
//	_, err = o.PutScalingPolicy(ctx, &stevedore.PutScalingPolicyInput{
//		Cluster: "prod", Service: "web",
//		Policy: autoscaling.TargetTrackingPolicy{Name: "cpu70",
//			Metric: autoscaling.ECSServiceAverageCPUUtilization, TargetValue: 70},
//	})
//
// # Packages
//
// The pure packages — task, cluster, placement, service, health, store,
// autoscaling — import nothing Linux-specific and can be used on their own,
// for example to build a custom scheduler (placement's plug-ins) or to unit-test
// orchestration logic. See examples/unittest for tests with the fakes and
// testing/synctest, and examples/quickstart for real containers. Package
// metrics exports the Orchestrator's state and events to Prometheus, and
// package ecsapi serves the API as ECS's wire protocol.
package stevedore
