package api

import "github.com/stevedore-io/stevedore/cluster"

// Stevedore's capacity providers belong to a cluster, as ECS Managed
// Instances' providers do (CreateCapacityProvider with a cluster): a
// provider is a name and a kind (ON_DEMAND or SPOT) that the cluster's
// instances and strategies name. There are no Auto Scaling groups behind
// them: the program registers the instances (RegisterContainerInstance
// with a CapacityProvider).

// CapacityProviderDescription is a capacity provider as ECS
// DescribeCapacityProviders shows it.
type CapacityProviderDescription struct {
	cluster.CapacityProvider
	// Cluster is the name of the cluster the provider belongs to.
	Cluster string
	// CapacityProviderArn is the provider's ARN.
	CapacityProviderArn string
}

// CreateCapacityProviderInput adds a capacity provider to a cluster, as ECS
// CreateCapacityProvider does for a Managed Instances provider.
type CreateCapacityProviderInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Name is the provider's name (cluster.CapacityProvider's rules), unique
	// in the cluster.
	Name string
	// Kind is ON_DEMAND (when empty) or SPOT.
	Kind cluster.CapacityKind
}

// CreateCapacityProviderOutput is the provider created, ACTIVE and
// associated with its cluster.
type CreateCapacityProviderOutput struct {
	CapacityProvider CapacityProviderDescription
}

// PutClusterCapacityProvidersInput sets a cluster's capacity providers and
// its default capacity provider strategy, as ECS
// PutClusterCapacityProviders: both replace what the cluster had.
type PutClusterCapacityProvidersInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// CapacityProviders are the names of all the cluster's providers after
	// the call. A provider the cluster has keeps its kind; a new name is an
	// ON_DEMAND provider (CreateCapacityProvider declares a SPOT one); a
	// provider left out is removed, unless a service's strategy or an
	// instance names it (ErrInUse).
	CapacityProviders []string
	// DefaultCapacityProviderStrategy may only name providers of
	// CapacityProviders; empty means none.
	DefaultCapacityProviderStrategy cluster.CapacityProviderStrategy
}

// PutClusterCapacityProvidersOutput is the cluster as it is after the call.
type PutClusterCapacityProvidersOutput struct {
	Cluster ClusterDescription
}

// DescribeCapacityProvidersInput names the capacity providers to describe,
// as ECS DescribeCapacityProviders.
type DescribeCapacityProvidersInput struct {
	// Cluster is a name or ARN whose providers to describe; empty means
	// those of every ACTIVE cluster.
	Cluster string
	// CapacityProviders are up to MaxDescribeCapacityProviders names or
	// ARNs; none means all.
	CapacityProviders []string
	// MaxResults is 1 to 10 (0 means 10) when CapacityProviders names none.
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// DescribeCapacityProvidersOutput is the providers found, sorted by cluster
// and name, and a Failure (reason "MISSING") for each one named that does
// not exist.
type DescribeCapacityProvidersOutput struct {
	CapacityProviders []CapacityProviderDescription
	Failures          []Failure
	NextToken         string
}

// MaxDescribeCapacityProviders is the most providers one
// DescribeCapacityProviders names.
const MaxDescribeCapacityProviders = 100

// DeleteCapacityProviderInput removes a capacity provider from its cluster,
// as ECS DeleteCapacityProvider.
type DeleteCapacityProviderInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// CapacityProvider is the provider's name or ARN.
	CapacityProvider string
}

// DeleteCapacityProviderOutput is the provider as it was, INACTIVE.
type DeleteCapacityProviderOutput struct {
	CapacityProvider CapacityProviderDescription
}
