package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
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
		return invalidValue("status", quote(string(c.Status)), "is not ACTIVE or INACTIVE")
	}
	for i, name := range c.CapacityProviders {
		field := fmt.Sprintf("capacityProviders[%d]", i)
		if err := validateName(field, name); err != nil {
			return err
		}
		if slices.Contains(c.CapacityProviders[:i], name) {
			return invalidValue(field, quote(name), "appears twice")
		}
	}
	if len(c.DefaultCapacityProviderStrategy) == 0 {
		return nil
	}
	if err := c.DefaultCapacityProviderStrategy.Validate(); err != nil {
		var fe *errdefs.FieldError
		if errors.As(err, &fe) {
			c := *fe
			c.Path = "default" + strings.ToUpper(c.Path[:1]) + c.Path[1:]
			return &c
		}
		return err
	}
	for i, item := range c.DefaultCapacityProviderStrategy {
		if !slices.Contains(c.CapacityProviders, item.CapacityProvider) {
			return invalidValue(fmt.Sprintf("defaultCapacityProviderStrategy[%d].capacityProvider", i), item.CapacityProvider, "is not associated with the cluster")
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
			return invalidValue("name", quote(p.Name), fmt.Sprintf("must not start with %q", prefix))
		}
	}
	if p.Kind != OnDemand && p.Kind != Spot {
		return invalidValue("kind", quote(string(p.Kind)), "is not ON_DEMAND or SPOT")
	}
	if p.Status != CapacityProviderActive && p.Status != CapacityProviderInactive {
		return invalidValue("status", quote(string(p.Status)), "is not ACTIVE or INACTIVE")
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
// least one above 0. Errors are *errdefs.FieldError naming the item and field, such
// as "capacityProviderStrategy[1].weight".
func (s CapacityProviderStrategy) Validate() error {
	const path = "capacityProviderStrategy"
	if len(s) == 0 {
		return &errdefs.FieldError{Path: path, Reason: "must name at least one capacity provider"}
	}
	if len(s) > MaxStrategyProviders {
		return invalidValue(path, len(s), fmt.Sprintf("providers named, at most %d are allowed", MaxStrategyProviders))
	}
	baseAt, weighted := -1, false
	for i, item := range s {
		field := fmt.Sprintf("%s[%d]", path, i)
		if err := validateName(field+".capacityProvider", item.CapacityProvider); err != nil {
			return err
		}
		for _, prev := range s[:i] {
			if prev.CapacityProvider == item.CapacityProvider {
				return invalidValue(field+".capacityProvider", quote(item.CapacityProvider), "appears twice")
			}
		}
		if item.Base < 0 || item.Base > MaxBase {
			return invalidValue(field+".base", item.Base, fmt.Sprintf("must be between 0 and %d", MaxBase))
		}
		if item.Base > 0 {
			if baseAt >= 0 {
				return invalidValue(field+".base", item.Base, fmt.Sprintf("is set, but only one provider may set a base and %s[%d] already does", path, baseAt))
			}
			baseAt = i
		}
		if item.Weight < 0 || item.Weight > MaxWeight {
			return invalidValue(field+".weight", item.Weight, fmt.Sprintf("must be between 0 and %d", MaxWeight))
		}
		weighted = weighted || item.Weight > 0
	}
	if !weighted {
		return &errdefs.FieldError{Path: path, Reason: "needs at least one provider with a weight above 0"}
	}
	return nil
}

// validateName applies ECS's naming rule for clusters and capacity
// providers: 1-255 letters, digits, hyphens and underscores.
func validateName(field, name string) error {
	if name == "" || len(name) > 255 {
		return invalidValue(field, quote(name), "must be 1-255 characters long")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return invalidValue(field, quote(name), "may contain only letters, digits, hyphens and underscores")
		}
	}
	return nil
}
