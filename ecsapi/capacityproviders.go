package ecsapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
)

// Stevedore's capacity providers belong to a cluster, as ECS Managed
// Instances' providers do: on the wire they are MANAGED_INSTANCES
// providers whose instanceLaunchTemplate.capacityOptionType says ON_DEMAND
// or SPOT. The program registers their instances; the rest of
// managedInstancesProvider (roles, instance profile, subnets, instance
// requirements) is accepted and changes nothing.

// wireCapacityProvider is ECS's CapacityProvider.
type wireCapacityProvider struct {
	CapacityProviderArn      string                   `json:"capacityProviderArn"`
	Name                     string                   `json:"name"`
	Cluster                  string                   `json:"cluster"`
	Status                   string                   `json:"status"`
	Type                     string                   `json:"type"`
	ManagedInstancesProvider wireManagedInstancesKind `json:"managedInstancesProvider"`
}

// wireManagedInstancesKind is the part of ECS's ManagedInstancesProvider
// that Stevedore holds: the kind of capacity.
type wireManagedInstancesKind struct {
	InstanceLaunchTemplate struct {
		CapacityOptionType string `json:"capacityOptionType"`
	} `json:"instanceLaunchTemplate"`
}

func wireProvider(d stevedore.CapacityProviderDescription) wireCapacityProvider {
	out := wireCapacityProvider{
		CapacityProviderArn: d.CapacityProviderArn, Name: d.Name, Cluster: d.Cluster, Status: string(d.Status), Type: "MANAGED_INSTANCES",
	}
	out.ManagedInstancesProvider.InstanceLaunchTemplate.CapacityOptionType = string(d.Kind)
	return out
}

// createCapacityProviderInput is the request of CreateCapacityProvider.
type createCapacityProviderInput struct {
	Name                     string          `json:"name" ecs:"required"`
	Cluster                  string          `json:"cluster"`
	ManagedInstancesProvider json.RawMessage `json:"managedInstancesProvider"`
}

func createCapacityProvider(ctx context.Context, h *Handler, in *createCapacityProviderInput) (any, error) {
	if in.Cluster == "" {
		return nil, param("cluster is required: Stevedore's capacity providers belong to a cluster, as Managed Instances providers do.")
	}
	var kind wireManagedInstancesKind
	if len(in.ManagedInstancesProvider) > 0 {
		// Lenient: the members Stevedore does not hold change nothing.
		if err := json.Unmarshal(in.ManagedInstancesProvider, &kind); err != nil {
			return nil, clientError("SerializationException", "Cannot parse managedInstancesProvider: "+err.Error())
		}
	}
	switch option := kind.InstanceLaunchTemplate.CapacityOptionType; option {
	case "", string(cluster.OnDemand), string(cluster.Spot):
	case "RESERVED":
		return nil, param("managedInstancesProvider.instanceLaunchTemplate.capacityOptionType: RESERVED is not available: Stevedore has no capacity reservations (ON_DEMAND or SPOT).")
	default:
		return nil, param(fmt.Sprintf("managedInstancesProvider.instanceLaunchTemplate.capacityOptionType: %q is not ON_DEMAND, SPOT or RESERVED.", option))
	}
	out, err := h.o.CreateCapacityProvider(ctx, &stevedore.CreateCapacityProviderInput{
		Cluster: in.Cluster, Name: in.Name, Kind: cluster.CapacityKind(kind.InstanceLaunchTemplate.CapacityOptionType),
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"capacityProvider": wireProvider(out.CapacityProvider)}, nil
}

// putClusterCapacityProvidersInput is the request of PutClusterCapacityProviders.
type putClusterCapacityProvidersInput struct {
	Cluster                         string                 `json:"cluster" ecs:"required"`
	CapacityProviders               []string               `json:"capacityProviders"`
	DefaultCapacityProviderStrategy []wireProviderStrategy `json:"defaultCapacityProviderStrategy"`
}

func putClusterCapacityProviders(ctx context.Context, h *Handler, in *putClusterCapacityProvidersInput) (any, error) {
	out, err := h.o.PutClusterCapacityProviders(ctx, &stevedore.PutClusterCapacityProvidersInput{
		Cluster: in.Cluster, CapacityProviders: in.CapacityProviders, DefaultCapacityProviderStrategy: providersModel(in.DefaultCapacityProviderStrategy),
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"cluster": h.wireCluster(out.Cluster)}, nil
}

// describeCapacityProvidersInput is the request of DescribeCapacityProviders.
type describeCapacityProvidersInput struct {
	CapacityProviders []string `json:"capacityProviders"`
	Cluster           string   `json:"cluster"`
	MaxResults        int      `json:"maxResults"`
	NextToken         string   `json:"nextToken"`
}

func describeCapacityProviders(ctx context.Context, h *Handler, in *describeCapacityProvidersInput) (any, error) {
	out, err := h.o.DescribeCapacityProviders(ctx, &stevedore.DescribeCapacityProvidersInput{
		Cluster: in.Cluster, CapacityProviders: in.CapacityProviders, MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	res := described("capacityProviders", out.CapacityProviders, wireProvider, out.Failures)
	if out.NextToken != "" {
		res["nextToken"] = out.NextToken
	}
	return res, nil
}

// deleteCapacityProviderInput is the request of DeleteCapacityProvider.
type deleteCapacityProviderInput struct {
	CapacityProvider string `json:"capacityProvider" ecs:"required"`
	Cluster          string `json:"cluster"`
}

func deleteCapacityProvider(ctx context.Context, h *Handler, in *deleteCapacityProviderInput) (any, error) {
	out, err := h.o.DeleteCapacityProvider(ctx, &stevedore.DeleteCapacityProviderInput{Cluster: in.Cluster, CapacityProvider: in.CapacityProvider})
	if err != nil {
		return nil, err
	}
	return map[string]any{"capacityProvider": wireProvider(out.CapacityProvider)}, nil
}
