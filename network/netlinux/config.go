package netlinux

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/network"
)

// Config configures a Provider. Start from DefaultConfig; New fills zero
// fields with the defaults.
type Config struct {
	// BridgeName is the Linux bridge standing for the cluster subnet
	// (default "stvd0"); created on first use, 1 to 15 characters.
	BridgeName string
	// Subnet is where task addresses come from (default 10.88.0.0/16); the
	// first address belongs to the bridge and is the tasks' gateway.
	Subnet netip.Prefix
	// NamePrefix starts the name of every namespace, veth and nftables table
	// the provider creates (default "stvd-"), 1 to 7 letters, digits, '-' or
	// '_'. The prefix identifies what the provider owns: Reconcile removes
	// whatever carries it and belongs to no live task, so two providers on
	// one host must use different prefixes.
	NamePrefix string
	// StateDir holds the IPAM state, one directory per task with its
	// attachment record and its hosts and resolv.conf files (default
	// /var/lib/stevedore/network).
	StateDir string
	// NetNSDir is where named namespaces are bind-mounted (default
	// /var/run/netns, where `ip netns` looks).
	NetNSDir string
	// MTU of the bridge and veths; 0 keeps the kernel's default (1500).
	MTU int
	// DynamicPorts is the range bridge-mode dynamic host ports come from
	// (default 49153-65535).
	DynamicPorts network.PortRange
	// EnableIPForward sets net.ipv4.ip_forward=1 when the bridge is set up.
	// Tasks reach the host and each other without it; they need it to reach
	// anything beyond the host, and published bridge-mode ports need it to
	// be reached from other hosts (from this host, 127.0.0.1 and the
	// host's own addresses work without it). It is off by default because
	// it turns the host into a router for every interface; the provider
	// never turns it off again.
	EnableIPForward bool
	// HostResolvConf is the host's resolver configuration, copied into
	// tasks that name no DNS server (default /etc/resolv.conf).
	HostResolvConf string
	// Logger receives what the provider does (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{
		BridgeName:     "stvd0",
		Subnet:         netip.MustParsePrefix("10.88.0.0/16"),
		NamePrefix:     "stvd-",
		StateDir:       "/var/lib/stevedore/network",
		NetNSDir:       "/var/run/netns",
		DynamicPorts:   network.DefaultDynamicPorts,
		HostResolvConf: "/etc/resolv.conf",
	}
}

// withDefaults returns c with zero fields set to the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BridgeName == "" {
		c.BridgeName = d.BridgeName
	}
	if !c.Subnet.IsValid() {
		c.Subnet = d.Subnet
	}
	if c.NamePrefix == "" {
		c.NamePrefix = d.NamePrefix
	}
	if c.StateDir == "" {
		c.StateDir = d.StateDir
	}
	if c.NetNSDir == "" {
		c.NetNSDir = d.NetNSDir
	}
	if c.DynamicPorts == (network.PortRange{}) {
		c.DynamicPorts = d.DynamicPorts
	}
	if c.HostResolvConf == "" {
		c.HostResolvConf = d.HostResolvConf
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// maxPrefixLen keeps at least 8 hex digits of task hash in a 15-character
// interface name.
const maxPrefixLen = 7

// Validate checks a configuration whose defaults are filled in.
func (c Config) Validate() error {
	if n := len(c.BridgeName); n == 0 || n > 15 || !validIfaceChars(c.BridgeName) {
		return &errdefs.FieldError{Path: "bridgeName", Reason: fmt.Sprintf("%q: want 1 to 15 letters, digits, '-', '_' or '.'", c.BridgeName)}
	}
	if n := len(c.NamePrefix); n == 0 || n > maxPrefixLen || !validIfaceChars(c.NamePrefix) {
		return &errdefs.FieldError{Path: "namePrefix", Reason: fmt.Sprintf("%q: want 1 to %d letters, digits, '-', '_' or '.'", c.NamePrefix, maxPrefixLen)}
	}
	if _, err := network.NewIPAM(c.Subnet, nil); err != nil {
		return err
	}
	if err := c.DynamicPorts.Validate(); err != nil {
		return err
	}
	if !filepath.IsAbs(c.StateDir) {
		return &errdefs.FieldError{Path: "stateDir", Reason: fmt.Sprintf("%q is not an absolute path", c.StateDir)}
	}
	if !filepath.IsAbs(c.NetNSDir) {
		return &errdefs.FieldError{Path: "netnsDir", Reason: fmt.Sprintf("%q is not an absolute path", c.NetNSDir)}
	}
	if c.MTU != 0 && (c.MTU < 576 || c.MTU > 65535) {
		return &errdefs.FieldError{Path: "mtu", Reason: fmt.Sprintf("%d is not between 576 and 65535", c.MTU)}
	}
	return nil
}

func validIfaceChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// objectName is the name of a task's namespace, host veth and host nftables
// table: the prefix and the leading hex digits of SHA-256(taskID), 15
// characters in all so that it fits an interface name.
func objectName(prefix, taskID string) string {
	sum := sha256.Sum256([]byte(taskID))
	return prefix + hex.EncodeToString(sum[:])[:15-len(prefix)]
}

// isObjectName reports whether name has the shape objectName gives with
// prefix (so that the provider's own host table never matches).
func isObjectName(prefix, name string) bool {
	if len(name) != 15 || len(name) <= len(prefix) || name[:len(prefix)] != prefix {
		return false
	}
	for _, c := range name[len(prefix):] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hostTableName is the provider's table in the host namespace; being
// shorter than 15 characters, it never passes isObjectName.
func hostTableName(prefix string) string { return prefix + "host" }

// labelPrefix starts the alias set on a task namespace's loopback (and on
// the host end of its veth): the label that maps kernel objects back to a
// task ID when the provider's state is lost.
const labelPrefix = "stevedore-task="

func label(taskID string) string { return labelPrefix + taskID }

func taskFromLabel(alias string) (string, bool) {
	if len(alias) <= len(labelPrefix) || alias[:len(labelPrefix)] != labelPrefix {
		return "", false
	}
	return alias[len(labelPrefix):], true
}
