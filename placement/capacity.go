package placement

import (
	"fmt"

	"github.com/stevedore-io/stevedore/cluster"
)

// ProviderShare is how many tasks of a batch go to one capacity provider.
type ProviderShare struct {
	CapacityProvider string
	Count            int
}

// SplitCapacity shares count new tasks among the providers of strategy, as
// ECS does: the provider with a base gets tasks until it runs base of
// them, then the tasks beyond the bases are shared in proportion to the
// weights. They are handed out one at a time, each to the provider whose
// share would be furthest below its weight: the one for which
// (2*tasks+1)/weight is smallest (the Sainte-Laguë rule), ties going to
// the provider listed first. Handing out one at a time makes the split
// consistent as a service grows: placing five tasks then one gives the
// same shares as placing six. Providers with weight 0 get only their base.
//
// running counts the tasks already running per provider (for a service);
// they count towards the base and the weights, so a scaled-up service
// converges to the strategy's proportions. Pass nil for a fresh batch.
//
// For example, with providerA base 1 weight 1 and providerB weight 4, six
// tasks go 2 to A and 4 to B: one for A's base, then five shared 1:4.
//
// The shares come back in strategy order, one per provider (zero counts
// included). An invalid strategy is an error wrapping errdefs.ErrInvalid
// (a *errdefs.FieldError naming the field); a negative count or running
// count wraps ErrInvalid.
func SplitCapacity(strategy cluster.CapacityProviderStrategy, count int, running map[string]int) ([]ProviderShare, error) {
	if err := strategy.Validate(); err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, invalidValue("count", count, "must not be negative")
	}
	shares := make([]ProviderShare, len(strategy))
	// weighted[i] counts the tasks of provider i beyond its base.
	weighted := make([]int, len(strategy))
	for i, item := range strategy {
		shares[i].CapacityProvider = item.CapacityProvider
		n := running[item.CapacityProvider]
		if n < 0 {
			return nil, invalidValue(fmt.Sprintf("running[%q]", item.CapacityProvider), n, "must not be negative")
		}
		if item.Base > 0 {
			toBase := min(max(item.Base-n, 0), count)
			shares[i].Count = toBase
			count -= toBase
			n = max(n+toBase-item.Base, 0)
		}
		weighted[i] = n
	}
	for ; count > 0; count-- {
		best := -1
		for i, item := range strategy {
			if item.Weight == 0 {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			// Compare (2*weighted+1)/weight in integers.
			mine := (2*weighted[i] + 1) * strategy[best].Weight
			theirs := (2*weighted[best] + 1) * item.Weight
			if mine < theirs {
				best = i
			}
		}
		weighted[best]++
		shares[best].Count++
	}
	return shares, nil
}
