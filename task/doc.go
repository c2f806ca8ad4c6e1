// Package task models ECS task definitions and tasks: the JSON people
// already have, the rules ECS applies to it, a registry of revisions, and
// the lifecycle of a running task. It is pure Go: no containers, no
// network, no clock, and it builds on any OS.
//
// # Parsing
//
// ParseDefinition reads a task definition in the shapes people keep it
// in: a bare definition (register-task-definition input, with or without
// "tags") or the output of describe-task-definition
// ({"taskDefinition": {...}, "tags": [...]}):
//
//	td, warnings, err := task.ParseDefinition(data)
//	if err != nil {
//		return err // *task.ParseError: line and column, or the JSON path
//	}
//	for _, w := range warnings {
//		log.Printf("task definition: %s", w) // containerDefinitions[0].fooBar: unknown field, kept as is
//	}
//
// The JSON field names are those of the ECS API. Task-level cpu and
// memory are strings in ECS JSON ("256", "1 vCPU", "512", "0.5 GB"); the
// types CPU and Memory keep the text and accept a number too, and their
// Units and MiB methods convert it. Nothing is dropped silently: a member
// the package does not model, at any depth, is kept in the Extra field of
// its struct, written back by json.Marshal, and reported as a Warning
// with its path. Output-only members of describe output (revision,
// status, registeredAt, ...) are kept in their fields.
//
// # Validating
//
// Validate checks the rules of ECS task definitions for EC2 and external
// instances (and Fargate's when requiresCompatibilities names FARGATE)
// and reports every problem at once:
//
//	if err := td.Validate(); err != nil {
//		errors.Is(err, task.ErrInvalid) // true: it is errdefs.ErrInvalid
//		for _, fe := range errdefs.FieldErrors(err) {
//			fmt.Println(fe.Path, fe.Reason) // containerDefinitions[1].healthCheck.interval must be between 5 and 300 seconds
//		}
//	}
//
// The rules cover names, counts, cpu and memory (task level and per
// container, with what placement will reserve), network modes and port
// mappings (host ports per mode, duplicates across the task), health
// checks, dependsOn (unknown targets, conditions, cycles named like
// "a -> b -> a"), secrets, environment, ulimits, Linux capabilities,
// volumes and mount points, log drivers and placement constraints. The
// log driver "stevedore" (LogDriverStevedore) names Stevedore's local log
// store and is accepted next to the ECS drivers. Placement constraint
// expressions are checked for presence and length only; the placement
// package parses the query language.
//
// ECS's limits bound what one definition can cost: at most
// MaxDefinitionBytes (64 KiB) of JSON, refused by ParseDefinition before
// it decodes anything and by Validate for definitions built in Go (both
// errors match ErrTooLarge); MaxContainers containers, MaxEnvironmentFiles
// environment files per container, names of at most 255 characters, and
// numbers within the ECS API's 32-bit integers (MaxInteger), so that no
// conversion to bytes or to a time.Duration overflows. RunTask overrides
// are held to MaxOverrideBytes (8 KiB) and the same bounds by
// TaskOverride.Validate, which Apply calls. Errors quote at most 64 bytes
// of a value.
//
// # Defaults
//
// The helpers apply ECS defaults so that callers do not repeat them:
// ContainerDefinition.IsEssential (true unless essential is false),
// StopTimeout (30 s), HealthCheck.Interval, Timeout, Retries and
// StartPeriod (30 s, 5 s, 3, 0), TaskDefinition.EffectiveNetworkMode
// (bridge), PortMapping.EffectiveProtocol (tcp), and
// TaskDefinition.Requirements, the cpu units and MiB placement reserves.
// StartOrder gives the containers in the order they start (dependsOn,
// links and volumesFrom first), StopOrder the reverse.
//
// # References
//
// ParseRef reads a reference to a definition: "web" (the family's latest
// ACTIVE revision), "web:2", or an ARN ending in "task-definition/web:2";
// TaskDefinition.Ref gives a definition's own "family:revision". Revisions
// are numbered, stored and looked up by the orchestrator, in its store.
//
// # Tasks
//
// Task and Container are the runtime objects, with ECS field names in
// JSON. NewTask builds a task in PROVISIONING from a definition and
// optional overrides. SetLastStatus moves the task forward through
// PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING,
// DEPROVISIONING and STOPPED, skipping steps where ECS does; a move
// backwards or out of STOPPED is a *TransitionError matching
// ErrIllegalTransition. Stop sets desiredStatus STOPPED once, keeping the
// first stop code and reason; an essential container that stops stops
// the task. Task health is the worst health of the essential containers
// that have a health check. Every change increments Version, and every
// method that records a time takes it as an argument: the model never
// reads the clock.
//
// Values of this package are plain data and not safe for concurrent
// mutation. Clone makes deep copies.
package task
