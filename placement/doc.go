// Package placement decides which container instance each task runs on,
// the way Amazon ECS does: instances that cannot take the task are filtered
// out (status, capacity provider, cpu, memory, network slots, host ports,
// then constraints), and strategies choose among the rest. The package is
// pure: it reads cluster values and returns decisions, with no clock, no
// goroutines and no I/O.
//
// # A round of placement
//
// A Scheduler holds the configuration (plug-ins, default strategies) and
// is safe for concurrent use. Each round starts from a snapshot of the
// instances:
//
//	s, err := placement.New()
//	r := s.NewRound(instances, seed) // []cluster.ContainerInstance, read in place
//	decisions, err := r.Place(&placement.Request{
//		Task: "web:3", Group: "service:web", CPU: 256, Memory: 512,
//		Ports:       []cluster.Port{cluster.TCPPort(0)}, // one dynamic host port
//		Constraints: []placement.Constraint{{Type: placement.ConstraintMemberOf, Expression: "attribute:ecs.instance-type =~ m5.*"}},
//		Strategies:  []placement.StrategySpec{placement.Spread("attribute:ecs.availability-zone"), placement.Binpack(placement.FieldMemory)},
//	}, 10)
//
// NewRound computes, once, what it needs of every instance: remaining
// resources, host ports in use, tasks per group. Place then places the
// tasks one after the other; each sees the ones before it (their cpu,
// memory, ports and network slots, distinctInstance, spread counts, task
// groups), and so does the next Place in the same round. A Decision names
// the instance and the exact resources the task takes, dynamic host ports
// resolved: the orchestrator passes them to cluster.ContainerInstance.AddTask.
// The round never changes the instances it was given. A Round is for one
// goroutine.
//
// # Requests
//
// A Request is what placement needs of a task: cpu units, MiB of memory,
// host ports (a port number 0 asks for a dynamic port, the lowest free one
// from 49153-65535), whether it takes an awsvpc network slot, its task group
// ("service:web" for a service's tasks, "family:web" by default), its
// constraints and strategies, and optionally a capacity provider or a
// capacity provider strategy. The orchestrator builds it from a task
// definition; this package does not know task definitions.
//
// # Strategies
//
// binpack(cpu|memory) takes the instance with the least remaining cpu or
// memory that fits; spread(instanceId|host|attribute:<name>) balances the
// group's tasks across instances or attribute values, counting the tasks
// already there (instances lacking the attribute count as one more value);
// random draws from the round's random source, seeded by NewRound, so the
// same seed gives the same decisions (the seed is in the decisions and in
// failure messages). Up to five are chained: each breaks the ties the
// previous left. Whatever ties remain go to the instance given first to
// NewRound. A request without strategies uses the scheduler's default chain
// (WithStrategies); with none either, the first instance that fits wins.
// Custom strategy types take part as the built-in ones do (see Custom
// schedulers).
// The orchestrator applies ECS's defaults (spread on
// attribute:ecs.availability-zone for services).
//
// # Constraints
//
// distinctInstance turns down instances holding a task of the same group
// whose desired status is RUNNING, including tasks placed earlier in the
// batch. memberOf keeps the instances that satisfy a cluster query
// expression (package placement/query), such as
// "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]" or
// "not(task:group == service:db)". An expression that reads neither
// task:group nor runningTasksCount depends only on the instance and is
// evaluated once per instance and round.
//
// # When nothing fits
//
// Place stops at the first task no instance can take and returns the
// decisions made so far with a *NoFitError (errors.Is(err, ErrNoFit)). It
// counts every instance under the first reason it turned the task down,
// in ECS's terms:
//
//	placement: no instance fits task web:3: 3 instances: RESOURCE:MEMORY; 2 instances: MemberOf; 1 instance: DRAINING
//
// Round.Explain gives the same account for a request without placing it.
// When no instance fits, the Explanation also names the closest instance
// (the one that failed the fewest checks, ties to the lowest ID) with
// every check it failed, and ClosestMatch says it in ECS's words: "The
// closest matching container-instance i-1 has insufficient memory
// available."
// Reasons are REGISTERING, DRAINING, INACTIVE, AGENT (disconnected agent),
// CapacityProvider, RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:ENI (no network
// slot), RESOURCE:PORTS, DistinctInstance, MemberOf, and the reasons of
// custom filters. A malformed request is an *errdefs.FieldError naming the field
// (errors.Is(err, ErrInvalid)), and places nothing; a memberOf expression
// that does not parse carries the query's *query.SyntaxError.
//
// # Capacity providers
//
// SplitCapacity shares a batch among the providers of a capacity provider
// strategy: the base first, then the rest in proportion to the weights,
// one task at a time, counting tasks already running per provider. With a
// CapacityProviderStrategy in the request, Place does the split and places
// each share on its provider's instances.
//
// # Custom schedulers
//
// Three plug-in interfaces, one per extension point, each with a Name:
// Filter (can this instance take the task? nil *Status for yes,
// Unfit(reason) for no, Broken(err) when the filter itself failed), Scorer
// (a score in [MinScore, MaxScore]; ScoreStrategy turns it into a
// strategy) and Strategy (narrow the candidates to the best ones).
//
// Plug-ins reach a scheduler in two ways. WithFilters adds filters that
// run on every request, and WithStrategies sets a default chain for the
// requests that name no strategy. WithStrategyType and WithConstraintType
// register custom types that requests name, as they name the built-in
// ones, in ECS's shape:
//
//	s, err := placement.New(
//		placement.WithStrategyType("prefer", func(field string) (placement.Strategy, error) {
//			return placement.ScoreStrategy(preferAttribute{name: field}), nil
//		}),
//		placement.WithConstraintType("avoid", func(expression string) (placement.Filter, error) {
//			return avoidAttribute{name: expression}, nil
//		}))
//	req.Strategies = []placement.StrategySpec{{Type: "prefer", Field: "gpu"}, placement.Binpack(placement.FieldMemory)}
//	req.Constraints = []placement.Constraint{{Type: "avoid", Expression: "maintenance"}}
//
// The builder makes the plug-in from the spec's field or the constraint's
// expression; a type the scheduler does not know, or a parameter its
// builder refuses, is an *errdefs.FieldError at placementStrategy[i].type
// (or .field, placementConstraints[i].type, .expression).
// Scheduler.CheckStrategies and CheckConstraints run the same checks
// without placing, for an API that stores them (a service). A custom
// filter's Unfit reason is counted by Explain like the built-in ones. A
// custom strategy may implement StopBalancer to say how a service's tasks
// are chosen to stop; the Orchestrator's controller otherwise leaves it
// out of that choice. See examples/customscheduler for a scheduler that
// prefers instances with a GPU, packs by memory and avoids instances under
// maintenance, through the Orchestrator. A plug-in that breaks stops
// placement with a *PluginError (errors.Is(err, ErrPlugin)).
//
// # Performance
//
// Chains of built-in strategies go through an index: the candidates are
// partitioned by the values of the attributes the chain spreads on, each
// partition is a heap ordered by the per-instance keys (remaining memory or
// cpu, the group's tasks on the instance), and the partitions are in a heap
// of their own. Placing a task costs O(log n) instead of a scan of every
// instance; instances that stop fitting are dropped for the rest of the
// batch once, lazily. Chains with custom strategies run the strategies over
// all candidates for each task. BENCHMARKS.md has the figures.
package placement
