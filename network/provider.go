package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Provider sets up and tears down the network of tasks on one container
// instance. The agent calls Setup while a task is PROVISIONING and Teardown
// while it is DEPROVISIONING, after its containers have stopped; at start-up
// it calls Reconcile to remove what a crash left behind. Implementations are
// safe for concurrent use by multiple goroutines (calls for different tasks
// run in parallel).
type Provider interface {
	// Setup creates the task's network as req describes and returns the
	// attachment the task's containers join. Errors wrap ErrInvalid,
	// ErrExists, ErrExhausted or ErrPortInUse, or come from the system. A
	// failed Setup leaves nothing behind.
	Setup(ctx context.Context, req Request) (*Attachment, error)
	// Teardown removes the task's network and gives its address and host
	// ports back. It is idempotent: tearing down a task without a network
	// is not an error.
	Teardown(ctx context.Context, taskID string) error
	// Attachment returns the attachment of a task set up earlier (also by
	// an earlier process, for providers that persist their state). Errors
	// wrap ErrNotFound.
	Attachment(ctx context.Context, taskID string) (*Attachment, error)
	// Reconcile tears down every task for which keep returns false, and
	// removes leftovers (namespaces, interfaces, firewall tables) that
	// belong to no task it knows of. Call it at start-up, before Setup.
	Reconcile(ctx context.Context, keep func(taskID string) bool) error
}

// IngressUpdater is implemented by providers that can change a running
// task's ingress policy in place, as AWS applies a security group's new
// rules to the interfaces already in the group. The agent uses it when a
// task's policy changes after Setup; without it a task keeps the policy it
// was set up with.
type IngressUpdater interface {
	// UpdateIngress replaces the ingress policy of a task set up earlier
	// in awsvpc or bridge mode, atomically: no packet sees a mix of the old
	// and the new rules. A nil policy removes the filtering. Errors wrap
	// ErrNotFound (no such task), ErrInvalid (bad policy or a mode without
	// an interface), or come from the system.
	UpdateIngress(ctx context.Context, taskID string, policy *IngressPolicy) error
}

// Request describes the network a task needs.
type Request struct {
	// TaskID identifies the task: 1 to 200 printable ASCII characters
	// without spaces (an ECS task ID or ARN).
	TaskID string `json:"taskId"`
	// Mode is the task definition's network mode.
	Mode Mode `json:"mode"`
	// Hostname is written to the task's /etc/hosts with its address (or
	// 127.0.1.1 when it has none). Optional.
	Hostname string `json:"hostname,omitempty"`
	// PortMappings are the containers' port mappings. In awsvpc and host
	// mode a host port is 0 or equal to the container port; in bridge mode
	// a host port of 0 is picked from the dynamic range; none mode allows
	// none.
	PortMappings []PortMapping `json:"portMappings,omitempty"`
	// Ingress filters inbound traffic (awsvpc and bridge mode only); nil
	// allows everything. See IngressPolicy.
	Ingress *IngressPolicy `json:"ingress,omitempty"`
	// DNS is written to the task's /etc/resolv.conf; when it names no
	// server the host's resolvers are used (minus loopback ones in modes
	// with a namespace, which are unreachable from it).
	DNS DNSConfig `json:"dns,omitzero"`
	// ExtraHosts are added to the task's /etc/hosts (ECS extraHosts).
	ExtraHosts []HostEntry `json:"extraHosts,omitempty"`
	// DeferReady lets a Readier return from Setup before the network
	// forwards traffic, so that the caller overlaps the rest with its own
	// work (creating containers); the caller must then call Ready before
	// the task's processes start. Providers that are not Readiers ignore
	// it; a wrapper of a Provider passes it on only if it passes Ready on.
	DeferReady bool `json:"-"`
}

// Readier is a Provider whose Setup can return before the task's network
// forwards traffic (see Request.DeferReady).
type Readier interface {
	// Ready waits until the network of a task set up with DeferReady
	// forwards traffic, or the provider gives up waiting (the network
	// works then, but its first packets may be lost: not an error). It
	// returns at once for any other task. Errors are ctx's.
	Ready(ctx context.Context, taskID string) error
}

// PortMapping is one container port mapping of a task definition.
type PortMapping struct {
	ContainerPort uint16 `json:"containerPort"`
	// HostPort 0 means "the container port" in awsvpc and host mode and
	// "pick a dynamic port" in bridge mode.
	HostPort uint16 `json:"hostPort,omitempty"`
	// Protocol is tcp (the default when empty) or udp.
	Protocol Protocol `json:"protocol,omitempty"`
}

// String formats m as ParsePortMapping reads it: "hostPort:containerPort/protocol".
func (m PortMapping) String() string {
	return fmt.Sprintf("%d:%d/%s", m.HostPort, m.ContainerPort, m.Protocol.orTCP())
}

// ParsePortMapping parses "[hostPort:]containerPort[/protocol]", as in
// "80", "8080:80" or "0:53/udp". A missing host port is 0 and a missing
// protocol tcp.
func ParsePortMapping(s string) (PortMapping, error) {
	var m PortMapping
	rest, proto, hasProto := strings.Cut(strings.TrimSpace(s), "/")
	m.Protocol = ProtocolTCP
	if hasProto {
		p, err := ParseProtocol(proto)
		if err != nil {
			return PortMapping{}, err
		}
		if err := checkPortProtocol("protocol", p); err != nil {
			return PortMapping{}, err
		}
		m.Protocol = p
	}
	host, container, hasHost := strings.Cut(rest, ":")
	if !hasHost {
		host, container = "0", host
	}
	hp, err := parsePort("hostPort", host)
	if err != nil {
		return PortMapping{}, err
	}
	cp, err := parsePort("containerPort", container)
	if err != nil {
		return PortMapping{}, err
	}
	if cp == 0 {
		return PortMapping{}, fieldErr("containerPort", "must be between 1 and 65535")
	}
	m.HostPort, m.ContainerPort = hp, cp
	return m, nil
}

// PortBinding is a port mapping as set up: the host port actually used.
type PortBinding struct {
	ContainerPort uint16   `json:"containerPort"`
	HostPort      uint16   `json:"hostPort"`
	Protocol      Protocol `json:"protocol"`
}

// DNSConfig is the content of a task's /etc/resolv.conf.
type DNSConfig struct {
	Servers []netip.Addr `json:"servers,omitempty"`
	Search  []string     `json:"search,omitempty"`
	Options []string     `json:"options,omitempty"`
}

// HostEntry is one /etc/hosts line.
type HostEntry struct {
	Hostname string     `json:"hostname"`
	Address  netip.Addr `json:"ipAddress"`
}

// Attachment is a task's network as set up by a Provider.
type Attachment struct {
	TaskID string `json:"taskId"`
	Mode   Mode   `json:"mode"`
	// NetNSPath is the namespace the task's containers join
	// (runtime.ContainerSpec.NetNSPath); empty in host mode, where they
	// use the host's network (runtime.ContainerSpec.HostNetwork).
	NetNSPath string `json:"netnsPath,omitempty"`
	// HostInterface is the host end of the task's veth pair (awsvpc and
	// bridge mode); the task end is eth0.
	HostInterface string `json:"hostInterface,omitempty"`
	// Address is the task's IPv4 address with the subnet's prefix length
	// (awsvpc and bridge mode).
	Address netip.Prefix `json:"address,omitzero"`
	// Gateway is the default route's next hop, the bridge's address.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// MAC is eth0's hardware address.
	MAC string `json:"mac,omitempty"`
	// PortBindings are the port mappings with the host ports allocated. In
	// awsvpc mode the host port equals the container port and is reached at
	// Address, not on the host.
	PortBindings []PortBinding `json:"portBindings,omitempty"`
	// HostsPath and ResolvConfPath are generated files to bind-mount over
	// /etc/hosts and /etc/resolv.conf in every container of the task.
	HostsPath      string `json:"hostsPath,omitempty"`
	ResolvConfPath string `json:"resolvConfPath,omitempty"`
}

// Clone returns a deep copy of a.
func (a *Attachment) Clone() *Attachment {
	if a == nil {
		return nil
	}
	c := *a
	c.PortBindings = append([]PortBinding(nil), a.PortBindings...)
	return &c
}

// Validate checks the request and returns every problem found, each a
// *errdefs.FieldError wrapping ErrInvalid.
func (r Request) Validate() error {
	var errs []error
	if err := ValidateTaskID(r.TaskID); err != nil {
		errs = append(errs, err)
	}
	if !r.Mode.Valid() {
		errs = append(errs, fieldErr("mode", "%q is not one of awsvpc, bridge, host, none", string(r.Mode)))
	}
	if r.Hostname != "" && !validHostname(r.Hostname) {
		errs = append(errs, fieldErr("hostname", "%q is not a valid host name", r.Hostname))
	}
	errs = append(errs, r.validatePorts()...)
	if r.Ingress != nil && !r.Mode.HasInterface() {
		errs = append(errs, fieldErr("ingress", "filtering needs an interface on the subnet (awsvpc or bridge mode), not %s", r.Mode))
	}
	errs = append(errs, prefixField("ingress", r.Ingress.Validate()))
	for i, s := range r.DNS.Servers {
		if !s.IsValid() {
			errs = append(errs, fieldErr(fmt.Sprintf("dns.servers[%d]", i), "not an IP address"))
		}
	}
	for i, d := range r.DNS.Search {
		if !validHostname(strings.TrimSuffix(d, ".")) {
			errs = append(errs, fieldErr(fmt.Sprintf("dns.search[%d]", i), "%q is not a domain name", d))
		}
	}
	for i, o := range r.DNS.Options {
		if o == "" || strings.ContainsAny(o, " \t\r\n") {
			errs = append(errs, fieldErr(fmt.Sprintf("dns.options[%d]", i), "%q is not a resolver option", o))
		}
	}
	for i, h := range r.ExtraHosts {
		if !validHostname(h.Hostname) {
			errs = append(errs, fieldErr(fmt.Sprintf("extraHosts[%d].hostname", i), "%q is not a valid host name", h.Hostname))
		}
		if !h.Address.IsValid() {
			errs = append(errs, fieldErr(fmt.Sprintf("extraHosts[%d].ipAddress", i), "not an IP address"))
		}
	}
	return errors.Join(errs...)
}

func (r Request) validatePorts() []error {
	var errs []error
	if r.Mode == ModeNone && len(r.PortMappings) > 0 {
		return []error{fieldErr("portMappings", "none mode has no network to map ports on")}
	}
	seen := map[portKey]int{}
	for i, m := range r.PortMappings {
		f := fmt.Sprintf("portMappings[%d]", i)
		if err := checkPortProtocol(f+".protocol", m.Protocol); err != nil {
			errs = append(errs, err)
			continue
		}
		if m.ContainerPort == 0 {
			errs = append(errs, fieldErr(f+".containerPort", "must be between 1 and 65535"))
			continue
		}
		host := m.HostPort
		if r.Mode == ModeAWSVPC || r.Mode == ModeHost {
			if host != 0 && host != m.ContainerPort {
				errs = append(errs, fieldErr(f+".hostPort", "%d: in %s mode the host port is empty or equal to the container port (%d)", host, r.Mode, m.ContainerPort))
				continue
			}
			host = m.ContainerPort
		}
		if host == 0 {
			continue // dynamic
		}
		k := portKey{m.Protocol.orTCP(), host}
		if j, dup := seen[k]; dup {
			errs = append(errs, fieldErr(f+".hostPort", "%s/%d is already used by portMappings[%d]", k.proto, host, j))
			continue
		}
		seen[k] = i
	}
	return errs
}

// MaxTaskIDLen is the longest task ID a Provider accepts.
const MaxTaskIDLen = 200

// ValidateTaskID checks that id is 1 to MaxTaskIDLen printable ASCII
// characters without spaces.
func ValidateTaskID(id string) error {
	if id == "" {
		return fieldErr("taskID", "must not be empty")
	}
	if len(id) > MaxTaskIDLen {
		return fieldErr("taskID", "%d characters, at most %d allowed", len(id), MaxTaskIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fieldErr("taskID", "%q: only printable ASCII characters without spaces are allowed", id)
		}
	}
	return nil
}

// validHostname reports whether s is an RFC 1123 host name: dot-separated
// labels of letters, digits and hyphens, 1-63 characters each, not starting
// or ending with a hyphen, 253 characters in all. Underscores are accepted as
// in many real names.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 || !utf8.ValidString(s) {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
