package network

import (
	"fmt"
	"strings"
)

// Mode is a task's network mode, as in an ECS task definition's networkMode.
type Mode string

// Network modes.
const (
	// ModeAWSVPC gives the task a namespace of its own with an address from
	// the cluster subnet, reachable from the host and from other tasks. Its
	// port mappings are not published on the host: the container port is
	// reached at the task's address.
	ModeAWSVPC Mode = "awsvpc"
	// ModeBridge gives the task a namespace of its own, like Docker's bridge
	// network, and publishes its port mappings on host ports (a host port of
	// 0 picks a dynamic one from the ephemeral range).
	ModeBridge Mode = "bridge"
	// ModeHost runs the task in the host's network namespace.
	ModeHost Mode = "host"
	// ModeNone gives the task a namespace with a loopback interface only.
	ModeNone Mode = "none"
)

// DefaultMode is the mode of a task definition that names none; ECS uses
// bridge on Linux container instances.
const DefaultMode = ModeBridge

// ParseMode parses an ECS networkMode value. It is case-insensitive and
// ignores surrounding spaces; the empty string yields DefaultMode.
func ParseMode(s string) (Mode, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return DefaultMode, nil
	}
	m := Mode(s)
	if !m.Valid() {
		return "", fieldErr("networkMode", "%q is not one of awsvpc, bridge, host, none", s)
	}
	return m, nil
}

// Valid reports whether m is one of the four modes.
func (m Mode) Valid() bool {
	switch m {
	case ModeAWSVPC, ModeBridge, ModeHost, ModeNone:
		return true
	}
	return false
}

// HasNamespace reports whether tasks in mode m get a network namespace of
// their own (every mode but host).
func (m Mode) HasNamespace() bool {
	return m == ModeAWSVPC || m == ModeBridge || m == ModeNone
}

// HasInterface reports whether tasks in mode m get an interface and an
// address on the cluster subnet (awsvpc and bridge).
func (m Mode) HasInterface() bool {
	return m == ModeAWSVPC || m == ModeBridge
}

// String returns the ECS spelling of m.
func (m Mode) String() string { return string(m) }

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) {
	if !m.Valid() {
		return nil, fieldErr("networkMode", "%q is not a network mode", string(m))
	}
	return []byte(m), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseMode.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Protocol is a transport protocol of a port mapping or an ingress rule.
type Protocol string

// Protocols. Port mappings use TCP and UDP; ingress rules also use ICMP and
// All (every protocol, AWS's "-1").
const (
	ProtocolTCP  Protocol = "tcp"
	ProtocolUDP  Protocol = "udp"
	ProtocolICMP Protocol = "icmp"
	ProtocolAll  Protocol = "all"
)

// ParseProtocol parses "tcp", "udp", "icmp" or "all" (case-insensitive; AWS's
// "-1" is accepted for all).
func ParseProtocol(s string) (Protocol, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "-1" {
		return ProtocolAll, nil
	}
	p := Protocol(s)
	switch p {
	case ProtocolTCP, ProtocolUDP, ProtocolICMP, ProtocolAll:
		return p, nil
	}
	return "", fieldErr("protocol", "%q is not one of tcp, udp, icmp, all", s)
}

// HasPorts reports whether p is a protocol with ports (tcp or udp).
func (p Protocol) HasPorts() bool { return p == ProtocolTCP || p == ProtocolUDP }

// String returns p's name.
func (p Protocol) String() string { return string(p) }

// orTCP returns p, or tcp when p is empty (ECS's default for port mappings).
func (p Protocol) orTCP() Protocol {
	if p == "" {
		return ProtocolTCP
	}
	return p
}

// checkPortProtocol validates the protocol of a port mapping.
func checkPortProtocol(field string, p Protocol) error {
	if p.orTCP().HasPorts() {
		return nil
	}
	return fieldErr(field, "%q: port mappings use tcp or udp", string(p))
}

func portString(from, to uint16) string {
	if to == 0 || to == from {
		return fmt.Sprint(from)
	}
	return fmt.Sprintf("%d-%d", from, to)
}
