// Package cluster models what Stevedore places tasks on: clusters, their
// container instances, the resources of those instances, and capacity
// providers.
//
// # Container instances
//
// A ContainerInstance is a host registered in a cluster. It carries its
// capacity (Registered), what is left of it (Remaining), attributes such as
// ecs.availability-zone and ecs.instance-type that constraints and
// strategies read, a status (only ACTIVE instances take new tasks), the
// state of its agent, the capacity provider it belongs to, and how many
// tasks of each task group it holds.
//
//	ci, err := cluster.NewContainerInstance("i-1", cluster.Resources{
//		CPU: 2048, Memory: 4096, NetworkSlots: 3,
//		Ports: []cluster.Port{cluster.TCPPort(22)}, // reserved for the host
//	}, registeredAt)
//	ci.SetAttribute(cluster.AttributeAvailabilityZone, "eu-west-1a")
//
// # Reserving resources
//
// Reserve takes resources from an instance and Release gives them back. A
// reservation is all or nothing, and never takes an instance over its
// capacity: when one resource is short, Reserve changes nothing and returns
// an *InsufficientResourcesError that names it (CPU, MEMORY, ENI for
// network slots, PORTS). AddTask and RemoveTask do the same and also count
// the task in its task group.
//
//	err := ci.AddTask("service:web", cluster.Resources{CPU: 256, Memory: 512,
//		Ports: []cluster.Port{cluster.TCPPort(80)}})
//	var short *cluster.InsufficientResourcesError
//	if errors.As(err, &short) {
//		fmt.Println("short of", short.Resource)
//	}
//
// # Values, not objects
//
// Clusters and instances are plain values with no locks and no clock: the
// orchestrator keeps them in its store, copies them with Clone, changes the
// copies and writes them back. Times (RegisteredAt) come from the caller.
// Nothing here is safe for concurrent mutation; concurrent reads are fine.
//
// # Capacity providers
//
// A CapacityProvider is a named source of instances, ON_DEMAND or SPOT. A
// CapacityProviderStrategy shares tasks among providers: up to six, one of
// which may run a base number of tasks first, the rest shared by weight.
// Validate checks ECS's limits; the placement package computes the split.
//
// # Errors
//
// Every error wraps one sentinel: ErrInvalid (a *errdefs.FieldError naming the
// field, such as "capacityProviderStrategy[1].weight"),
// ErrInsufficientResources (an *InsufficientResourcesError) or
// ErrNotReserved (releasing what was not reserved).
package cluster
