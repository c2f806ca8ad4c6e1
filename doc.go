// Package stevedore is an embeddable orchestration core modelled on Amazon ECS.
//
// A Go program imports Stevedore, registers hosts as container instances of a
// cluster, registers task definitions (the ECS task-definition JSON people
// already have), and asks for standalone tasks and long-running services.
// Stevedore places the tasks on instances, runs their containers through
// containerd with a network namespace per task, checks their health, and keeps
// services at their desired count through rolling deployments.
//
// The library is built from small packages that can be used on their own:
//
//   - task: task definitions (ECS JSON), validation with typed field errors,
//     the definition registry, and the task and container lifecycle;
//   - cluster: clusters, container instances, resources and capacity providers;
//   - placement: filters, strategies (binpack, spread, random), constraints with
//     the cluster query language, capacity-provider splits, and Explain for
//     "why nothing fits" — the building blocks of a custom scheduler;
//   - runtime: the container-engine interface, with runtime/fake for tests.
//
// Pure packages (task, cluster, placement) import nothing Linux-specific and
// build and test on any OS.
package stevedore
