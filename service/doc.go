// Package service models ECS services and decides their deployments.
//
// A Service holds its desired state (desired count, task definition,
// deployment configuration, load balancers) and its Deployments, primary
// first. Compute is the deployment planner: a pure function of an Input
// (the service, its deployments and tasks, the time) that returns a Plan:
// the tasks to start and to stop, the deployments as they stand after the
// pass, service events in ECS's wording, and when time alone may change
// the plan. It keeps ECS's bounds (never more than maximumPercent of the
// desired count RUNNING or PENDING, never fewer healthy tasks than
// minimumHealthyPercent while it stops old ones), replaces unhealthy tasks,
// throttles tasks that keep failing to start (and says so once per
// episode), runs the circuit breaker and deployment alarms with their
// rollback, and steps blue/green, linear and canary deployments. The tasks
// it stops (scale-in, old deployments, draining instances) are chosen to
// keep the service balanced under its placement strategy
// (Input.StopBalance), random choices reproducible under Input.Seed. With
// availability-zone rebalancing (Input.AZRebalancing), a steady service
// whose zones' task counts differ by more than one gets a task started in
// the zone with the fewest (Start.Zone), then, once it is healthy, one
// stopped from the zone with the most, within the same bounds, until it is
// balanced (Plan.Rebalancing holds the episode).
//
// Validate checks a service's desired configuration as ECS's CreateService
// and UpdateService do, naming each bad field in an *errdefs.FieldError
// (errors.Is(err, ErrInvalid); errdefs.FieldErrors lists them); it quotes at most 64 bytes of any name it
// echoes. A DAEMON service takes no desiredCount, no placement strategy and
// a maximumPercent of 100 only (minimumHealthyPercent 0-100). Unset
// percentages take the defaults of the scheduling strategy; Effective
// returns a copy with them filled in, as DescribeServices shows a service.
//
// The planner takes numbers in and gives names out: a rollback it creates
// takes Input.DeploymentSeq+1, named by DeploymentID, and the Plan returns
// the new number. It reads no clock and calls nothing back, so a loop calls
// it, applies the plan and stores the result, and tests drive it with
// tables and property tests.
//
// The package is pure: it depends on task, cluster, placement and health's
// state machine, never on a runtime, a network, the store or net/http
// (internal/deps checks it).
package service
