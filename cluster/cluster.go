package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ClusterStatus is the status of a cluster.
type ClusterStatus string

// Cluster statuses.
const (
	ClusterActive   ClusterStatus = "ACTIVE"
	ClusterInactive ClusterStatus = "INACTIVE"
)

// Cluster is a named group of container instances with the capacity
// providers it may use. Instances are stored apart from their cluster; a
// Cluster holds only its own settings.
type Cluster struct {
	// Name is 1-255 letters, digits, hyphens and underscores.
	Name string
	// Status is ACTIVE or INACTIVE.
	Status ClusterStatus
	// CapacityProviders are the names of the capacity providers associated
	// with the cluster.
	CapacityProviders []string
	// DefaultCapacityProviderStrategy is used for tasks and services that
	// name neither a launch type nor a strategy of their own.
	DefaultCapacityProviderStrategy CapacityProviderStrategy
}

// Clone returns a deep copy of c.
func (c *Cluster) Clone() Cluster {
	d := *c
	d.CapacityProviders = slices.Clone(c.CapacityProviders)
	d.DefaultCapacityProviderStrategy = slices.Clone(c.DefaultCapacityProviderStrategy)
	return d
}

// Validate checks the name, the status, that capacity providers appear once,
// and the default strategy, which may only name associated providers.
func (c *Cluster) Validate() error {
	if err := validateName("clusterName", c.Name); err != nil {
		return err
	}
	if c.Status != ClusterActive && c.Status != ClusterInactive {
		return &FieldError{Field: "status", Value: quote(string(c.Status)), Reason: "is not ACTIVE or INACTIVE"}
	}
	for i, name := range c.CapacityProviders {
		field := fmt.Sprintf("capacityProviders[%d]", i)
		if err := validateName(field, name); err != nil {
			return err
		}
		if slices.Contains(c.CapacityProviders[:i], name) {
			return &FieldError{Field: field, Value: quote(name), Reason: "appears twice"}
		}
	}
	if len(c.DefaultCapacityProviderStrategy) == 0 {
		return nil
	}
	if err := c.DefaultCapacityProviderStrategy.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			c := *fe
			c.Field = "default" + strings.ToUpper(c.Field[:1]) + c.Field[1:]
			return &c
		}
		return err
	}
	for i, item := range c.DefaultCapacityProviderStrategy {
		if !slices.Contains(c.CapacityProviders, item.CapacityProvider) {
			return &FieldError{Field: fmt.Sprintf("defaultCapacityProviderStrategy[%d].capacityProvider", i),
				Value: item.CapacityProvider, Reason: "is not associated with the cluster"}
		}
	}
	return nil
}

// CapacityKind is how a capacity provider's instances are bought.
type CapacityKind string

// Capacity kinds. Spot capacity can be taken back: its instances go
// DRAINING and their service tasks are replaced elsewhere.
const (
	OnDemand CapacityKind = "ON_DEMAND"
	Spot     CapacityKind = "SPOT"
)

// CapacityProviderStatus is the status of a capacity provider.
type CapacityProviderStatus string

// Capacity provider statuses.
const (
	CapacityProviderActive   CapacityProviderStatus = "ACTIVE"
	CapacityProviderInactive CapacityProviderStatus = "INACTIVE"
)

// CapacityProvider is a named source of container instances.
type CapacityProvider struct {
	// Name is 1-255 letters, digits, hyphens and underscores, not starting
	// with "aws", "ecs" or "fargate" (any case), as in ECS.
	Name string
	// Kind is ON_DEMAND or SPOT.
	Kind CapacityKind
	// Status is ACTIVE or INACTIVE.
	Status CapacityProviderStatus
}

// Validate checks the name, the kind and the status.
func (p *CapacityProvider) Validate() error {
	if err := validateName("name", p.Name); err != nil {
		return err
	}
	lower := strings.ToLower(p.Name)
	for _, prefix := range []string{"aws", "ecs", "fargate"} {
		if strings.HasPrefix(lower, prefix) {
			return &FieldError{Field: "name", Value: quote(p.Name), Reason: fmt.Sprintf("must not start with %q", prefix)}
		}
	}
	if p.Kind != OnDemand && p.Kind != Spot {
		return &FieldError{Field: "kind", Value: quote(string(p.Kind)), Reason: "is not ON_DEMAND or SPOT"}
	}
	if p.Status != CapacityProviderActive && p.Status != CapacityProviderInactive {
		return &FieldError{Field: "status", Value: quote(string(p.Status)), Reason: "is not ACTIVE or INACTIVE"}
	}
	return nil
}

// Limits of a capacity provider strategy.
const (
	// MaxStrategyProviders is the most providers a strategy may name.
	MaxStrategyProviders = 6
	// MaxBase is the largest base.
	MaxBase = 100000
	// MaxWeight is the largest weight.
	MaxWeight = 1000
)

// CapacityProviderStrategyItem is one provider of a capacity provider
// strategy.
type CapacityProviderStrategyItem struct {
	// CapacityProvider is the provider's name.
	CapacityProvider string
	// Base is how many tasks, at least, run on this provider before the
	// weights apply, 0-100000. Only one item of a strategy may set it.
	Base int
	// Weight is this provider's relative share of the tasks beyond the
	// base, 0-1000.
	Weight int
}

// CapacityProviderStrategy says how tasks are shared among capacity
// providers: bases first, the rest by weight. placement.SplitCapacity
// computes the shares.
type CapacityProviderStrategy []CapacityProviderStrategyItem

// Validate checks ECS's rules: 1-6 items naming distinct providers, bases
// in 0-100000 with at most one item setting one, weights in 0-1000 with at
// least one above 0. Errors are *FieldError naming the item and field, such
// as "capacityProviderStrategy[1].weight".
func (s CapacityProviderStrategy) Validate() error {
	const path = "capacityProviderStrategy"
	if len(s) == 0 {
		return &FieldError{Field: path, Reason: "must name at least one capacity provider"}
	}
	if len(s) > MaxStrategyProviders {
		return &FieldError{Field: path, Value: len(s), Reason: fmt.Sprintf("providers named, at most %d are allowed", MaxStrategyProviders)}
	}
	baseAt, weighted := -1, false
	for i, item := range s {
		field := fmt.Sprintf("%s[%d]", path, i)
		if err := validateName(field+".capacityProvider", item.CapacityProvider); err != nil {
			return err
		}
		for _, prev := range s[:i] {
			if prev.CapacityProvider == item.CapacityProvider {
				return &FieldError{Field: field + ".capacityProvider", Value: quote(item.CapacityProvider), Reason: "appears twice"}
			}
		}
		if item.Base < 0 || item.Base > MaxBase {
			return &FieldError{Field: field + ".base", Value: item.Base, Reason: fmt.Sprintf("must be between 0 and %d", MaxBase)}
		}
		if item.Base > 0 {
			if baseAt >= 0 {
				return &FieldError{Field: field + ".base", Value: item.Base,
					Reason: fmt.Sprintf("is set, but only one provider may set a base and %s[%d] already does", path, baseAt)}
			}
			baseAt = i
		}
		if item.Weight < 0 || item.Weight > MaxWeight {
			return &FieldError{Field: field + ".weight", Value: item.Weight, Reason: fmt.Sprintf("must be between 0 and %d", MaxWeight)}
		}
		weighted = weighted || item.Weight > 0
	}
	if !weighted {
		return &FieldError{Field: path, Reason: "needs at least one provider with a weight above 0"}
	}
	return nil
}

// validateName applies ECS's naming rule for clusters and capacity
// providers: 1-255 letters, digits, hyphens and underscores.
func validateName(field, name string) error {
	if name == "" || len(name) > 255 {
		return &FieldError{Field: field, Value: quote(name), Reason: "must be 1-255 characters long"}
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return &FieldError{Field: field, Value: quote(name), Reason: "may contain only letters, digits, hyphens and underscores"}
		}
	}
	return nil
}
