package cluster_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
)

func TestCapacityProviderStrategyValidate(t *testing.T) {
	t.Parallel()
	item := func(name string, base, weight int) cluster.CapacityProviderStrategyItem {
		return cluster.CapacityProviderStrategyItem{CapacityProvider: name, Base: base, Weight: weight}
	}
	tests := []struct {
		name     string
		strategy cluster.CapacityProviderStrategy
		field    string
	}{
		{name: "valid", strategy: cluster.CapacityProviderStrategy{item("a", 1, 1), item("b", 0, 4)}},
		{name: "weight only on second", strategy: cluster.CapacityProviderStrategy{item("a", 100000, 0), item("b", 0, 1000)}},
		{name: "empty", strategy: nil, field: "capacityProviderStrategy"},
		{name: "seven providers", strategy: cluster.CapacityProviderStrategy{
			item("a", 0, 1), item("b", 0, 1), item("c", 0, 1), item("d", 0, 1), item("e", 0, 1), item("f", 0, 1), item("g", 0, 1),
		}, field: "capacityProviderStrategy"},
		{name: "no name", strategy: cluster.CapacityProviderStrategy{item("", 0, 1)}, field: "capacityProviderStrategy[0].capacityProvider"},
		{name: "duplicate", strategy: cluster.CapacityProviderStrategy{item("a", 0, 1), item("a", 0, 1)}, field: "capacityProviderStrategy[1].capacityProvider"},
		{name: "negative base", strategy: cluster.CapacityProviderStrategy{item("a", -1, 1)}, field: "capacityProviderStrategy[0].base"},
		{name: "base too large", strategy: cluster.CapacityProviderStrategy{item("a", 100001, 1)}, field: "capacityProviderStrategy[0].base"},
		{name: "two bases", strategy: cluster.CapacityProviderStrategy{item("a", 1, 1), item("b", 2, 1)}, field: "capacityProviderStrategy[1].base"},
		{name: "weight too large", strategy: cluster.CapacityProviderStrategy{item("a", 0, 1001)}, field: "capacityProviderStrategy[0].weight"},
		{name: "negative weight", strategy: cluster.CapacityProviderStrategy{item("a", 0, -1)}, field: "capacityProviderStrategy[0].weight"},
		{name: "all weights zero", strategy: cluster.CapacityProviderStrategy{item("a", 3, 0), item("b", 0, 0)}, field: "capacityProviderStrategy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.strategy.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
			assert.ErrorIs(t, err, cluster.ErrInvalid)
		})
	}
}

func TestClusterValidate(t *testing.T) {
	t.Parallel()
	valid := func() cluster.Cluster {
		return cluster.Cluster{Name: "prod-1", Status: cluster.ClusterActive, CapacityProviders: []string{"od", "spot"},
			DefaultCapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}}
	}
	tests := []struct {
		name   string
		mutate func(*cluster.Cluster)
		field  string
	}{
		{name: "valid", mutate: func(*cluster.Cluster) {}},
		{name: "no default strategy", mutate: func(c *cluster.Cluster) { c.DefaultCapacityProviderStrategy = nil }},
		{name: "bad name", mutate: func(c *cluster.Cluster) { c.Name = "prod 1" }, field: "clusterName"},
		{name: "long name", mutate: func(c *cluster.Cluster) { c.Name = strings.Repeat("a", 256) }, field: "clusterName"},
		{name: "bad status", mutate: func(c *cluster.Cluster) { c.Status = "" }, field: "status"},
		{name: "duplicate provider", mutate: func(c *cluster.Cluster) { c.CapacityProviders = []string{"a", "a"} }, field: "capacityProviders[1]"},
		{name: "strategy names unknown provider", mutate: func(c *cluster.Cluster) {
			c.DefaultCapacityProviderStrategy[0].CapacityProvider = "other"
		}, field: "defaultCapacityProviderStrategy[0].capacityProvider"},
		{name: "invalid strategy", mutate: func(c *cluster.Cluster) {
			c.DefaultCapacityProviderStrategy[0].Weight = 0
		}, field: "defaultCapacityProviderStrategy"},
		{name: "invalid strategy item", mutate: func(c *cluster.Cluster) {
			c.DefaultCapacityProviderStrategy[0].Base = -1
		}, field: "defaultCapacityProviderStrategy[0].base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
		})
	}
}

func TestCapacityProviderValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		p     cluster.CapacityProvider
		field string
	}{
		{name: "valid spot", p: cluster.CapacityProvider{Name: "spot-1", Kind: cluster.Spot, Status: cluster.CapacityProviderActive}},
		{name: "reserved prefix", p: cluster.CapacityProvider{Name: "ECS-mine", Kind: cluster.Spot, Status: cluster.CapacityProviderActive}, field: "name"},
		{name: "fargate prefix", p: cluster.CapacityProvider{Name: "fargate_x", Kind: cluster.Spot, Status: cluster.CapacityProviderActive}, field: "name"},
		{name: "bad kind", p: cluster.CapacityProvider{Name: "p", Kind: "CHEAP", Status: cluster.CapacityProviderActive}, field: "kind"},
		{name: "bad status", p: cluster.CapacityProvider{Name: "p", Kind: cluster.OnDemand}, field: "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
		})
	}
}
