// Package stevedore is an embeddable orchestration core modelled on Amazon
// ECS: clusters of container instances, task definitions, standalone tasks
// and services that keep a desired count through rolling deployments.
//
// # Construction and closing
//
// New returns a running Orchestrator. By default it keeps its state in an
// in-memory store (package store/memory), for one process; WithStore gives
// it another store. Close stops its background loops and its agents;
// containers keep running, and an Orchestrator started later on the same
// store adopts them when the instances register again.
//
//	o, err := stevedore.New(stevedore.WithLogger(logger))
//	if err != nil { ... }
//	defer o.Close()
//
// # The model
//
// Every call writes desired state to the store and returns; loops make it so.
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
// fails a deployment and rolls back to the last one that completed.
//
//	td, warnings, err := task.ParseDefinition(ecsJSON)
//	td, err = o.RegisterTaskDefinition(ctx, td) // web:1
//	out, err := o.RunTask(ctx, stevedore.RunTaskInput{Cluster: "prod", TaskDefinition: "web", Count: 2})
//	svc, err := o.CreateService(ctx, stevedore.CreateServiceInput{
//		Cluster: "prod", ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
//	})
//
// Placement (package placement) filters instances by status, resources,
// ports and constraints, then applies up to five strategies; services spread
// over availability zones by default. When nothing fits, RunTask reports the
// tasks in Failures with ECS's reason ("RESOURCE:MEMORY") and the service
// records an event saying why.
//
// # Events
//
// Subscribe delivers task state changes, service events ("(service web) has
// reached a steady state."), deployment state changes and instance changes.
//
// # Errors
//
// Errors wrap ErrNotFound, ErrAlreadyExists, ErrInvalid, ErrInUse or
// ErrClosed, or a package's own kinds: an invalid task definition is a
// *task.ValidationError listing every problem with its field path; an invalid
// service request is a *service.ValidationError or a *FieldError. A rejected
// request changes nothing.
//
//	if errors.Is(err, stevedore.ErrNotFound) { ... }
//	var verr *task.ValidationError
//	if errors.As(err, &verr) { for _, fe := range verr.Errors { ... } }
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
//	out, err := o.GetLogEvents(ctx, stevedore.GetLogEventsInput{
//		Cluster: "prod", Task: id, Container: "web", Limit: 20,
//	})
//	found, err := o.FilterLogEvents(ctx, stevedore.FilterLogEventsInput{
//		Cluster: "prod", ServiceName: "web", FilterPattern: "%5[0-9][0-9]%",
//	})
//
// # Packages
//
// The pure packages — task, cluster, placement, service, health, store —
// import nothing Linux-specific and can be used on their own, for example to
// build a custom scheduler (placement's plug-ins) or to unit-test
// orchestration logic. See examples/unittest for tests with the fakes and
// testing/synctest, and examples/quickstart for real containers.
package stevedore
