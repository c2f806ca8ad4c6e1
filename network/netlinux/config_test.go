package netlinux

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	require.NoError(t, c.Validate())
	assert.Equal(t, "stvd0", c.BridgeName)
	assert.Equal(t, "stvd-", c.NamePrefix)
	assert.Equal(t, netip.MustParsePrefix("10.88.0.0/16"), c.Subnet)
	assert.Equal(t, network.DefaultDynamicPorts, c.DynamicPorts)
	assert.NotNil(t, c.Logger)

	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"bridge too long", func(c *Config) { c.BridgeName = strings.Repeat("b", 16) }, "bridgeName"},
		{"bridge with slash", func(c *Config) { c.BridgeName = "a/b" }, "bridgeName"},
		{"prefix too long", func(c *Config) { c.NamePrefix = "stevedor" }, "namePrefix"},
		{"prefix with space", func(c *Config) { c.NamePrefix = "a b" }, "namePrefix"},
		{"subnet", func(c *Config) { c.Subnet = netip.MustParsePrefix("10.0.0.0/31") }, "subnet"},
		{"ports", func(c *Config) { c.DynamicPorts = network.PortRange{First: 9, Last: 1} }, "dynamicPorts"},
		{"state dir", func(c *Config) { c.StateDir = "relative" }, "stateDir"},
		{"netns dir", func(c *Config) { c.NetNSDir = "relative" }, "netnsDir"},
		{"mtu", func(c *Config) { c.MTU = 100 }, "mtu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			require.ErrorIs(t, err, network.ErrInvalid)
			assert.ErrorContains(t, err, tt.field)
		})
	}
}

func TestObjectNames(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"s", "stvd-", "t1234-", "abcdefg"} {
		name := objectName(prefix, "arn:aws:ecs:us-east-1:123:task/c/abc")
		assert.Len(t, name, 15, "fits an interface name")
		assert.True(t, strings.HasPrefix(name, prefix))
		assert.True(t, isObjectName(prefix, name))
		assert.Equal(t, name, objectName(prefix, "arn:aws:ecs:us-east-1:123:task/c/abc"), "deterministic")
		assert.NotEqual(t, name, objectName(prefix, "other"))
		assert.False(t, isObjectName(prefix, hostTableName(prefix)), "the host table is never taken for a task's")
	}
	assert.False(t, isObjectName("stvd-", "stvd-XYZ0123456"))
	assert.False(t, isObjectName("stvd-", "stvd0"))
	assert.False(t, isObjectName("stvd-", "other-012345678"))
}

func TestLabels(t *testing.T) {
	t.Parallel()
	id, ok := taskFromLabel(label("task/1"))
	assert.True(t, ok)
	assert.Equal(t, "task/1", id)
	_, ok = taskFromLabel("something else")
	assert.False(t, ok)
	_, ok = taskFromLabel(labelPrefix)
	assert.False(t, ok)
}
