// Package policy decides which task definitions may run where: a task
// policy, set on a cluster or a container instance, in the spirit of
// Kubernetes' Pod Security Standards and of the ECS agent's switches
// (ECS_DISABLE_PRIVILEGED and its limits on host volumes and
// capabilities).
//
// A Policy has a Level:
//
//   - Privileged checks nothing. A task may mount the host's root
//     filesystem, run privileged, add any capability and share the host's
//     network, PID and IPC namespaces: it owns the host. Use it only for
//     trusted, system-level tasks.
//   - Baseline stops the known ways of taking the host while ordinary
//     images run unchanged: no privileged containers, no devices, no host
//     network, PID or IPC namespace, capabilities added only from Docker's
//     default set, only namespaced sysctls known to be safe, and host
//     volumes only under the policy's HostPaths. Containers may run as
//     root (inside their own namespaces, without the capabilities above).
//   - Restricted is Baseline, and every container names a numeric user
//     other than 0 and adds no capability but NET_BIND_SERVICE.
//
// Check is pure: it looks at the definition alone, so RunTask and
// CreateService refuse a violation before anything is stored, and a
// service's next deployment is refused when its policy tightened.
package policy

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
)

// Level is how much a policy allows.
type Level string

// Levels, from the most to the least allowing.
const (
	Privileged Level = "privileged"
	Baseline   Level = "baseline"
	Restricted Level = "restricted"
)

// ErrViolation is matched (errors.Is) by Check's error. The error also
// matches errdefs.ErrInvalid (and task.ErrInvalid, the same): a definition
// that breaks the policy is an invalid request where the policy applies.
var ErrViolation = errors.New("task policy violation")

// DefaultCapabilities are the capabilities a container holds without
// adding any (Docker's and containerd's default set, which Stevedore's
// runtime grants too). Baseline lets a container add these back after
// dropping them, and nothing else.
var DefaultCapabilities = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// SafeSysctls are the namespaced kernel parameters Baseline allows in
// systemControls (Kubernetes' safe set): they affect the task's own
// namespaces only, and cannot starve the host.
var SafeSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ping_group_range",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_syncookies",
}

// Policy is a task policy.
type Policy struct {
	// Name names the policy in errors and events, like "cluster prod".
	// Empty means the level's name.
	Name string
	// Level is what the policy allows; empty means Baseline.
	Level Level
	// HostPaths are the host directories under which Baseline and
	// Restricted allow host volumes (volumes[].host.sourcePath): absolute,
	// and matched on whole path elements ("/srv/data" allows
	// "/srv/data/web", not "/srv/database"). Empty allows none; a task's
	// scratch volume (no sourcePath) is always allowed.
	HostPaths []string
	// Capabilities are capabilities Baseline and Restricted allow a
	// container to add beyond the level's own (such as "SYS_PTRACE" on a
	// cluster for debugging), named without CAP_.
	Capabilities []string
}

// Clone returns a deep copy of p (nil for nil).
func (p *Policy) Clone() *Policy {
	if p == nil {
		return nil
	}
	out := *p
	out.HostPaths = slices.Clone(p.HostPaths)
	out.Capabilities = slices.Clone(p.Capabilities)
	return &out
}

// Validate checks the policy itself.
func (p Policy) Validate() error {
	switch p.Level {
	case "", Privileged, Baseline, Restricted:
	default:
		return fmt.Errorf("%w: level %q: must be privileged, baseline or restricted", ErrInvalidPolicy, p.Level)
	}
	for i, hp := range p.HostPaths {
		if !path.IsAbs(hp) || path.Clean(hp) != hp {
			return fmt.Errorf("%w: hostPaths[%d] %q: must be an absolute, clean path", ErrInvalidPolicy, i, hp)
		}
		if hp == "/" {
			return fmt.Errorf("%w: hostPaths[%d]: \"/\" allows the whole host; use level privileged instead", ErrInvalidPolicy, i)
		}
	}
	for i, c := range p.Capabilities {
		if c == "" || c == "ALL" || strings.HasPrefix(c, "CAP_") || strings.ToUpper(c) != c {
			return fmt.Errorf("%w: capabilities[%d] %q: must be one capability in capitals, without CAP_", ErrInvalidPolicy, i, c)
		}
	}
	return nil
}

// ErrInvalidPolicy is matched by Validate's error.
var ErrInvalidPolicy = errdefs.New(errdefs.ErrInvalid, "invalid task policy")

// String names the policy: its Name, or its level.
func (p Policy) String() string {
	if p.Name != "" {
		return p.Name
	}
	return string(p.level())
}

func (p Policy) level() Level {
	if p.Level == "" {
		return Baseline
	}
	return p.Level
}

// ViolationError lists what a task definition does that its policy
// forbids, field by field.
type ViolationError struct {
	// Policy names the policy (see Policy.String), Level its level.
	Policy string
	Level  Level
	// Family is the definition's family.
	Family string
	// Violations are in the order of the definition's fields; Path is the
	// field's JSON path and Reason the rule.
	Violations []*errdefs.FieldError
}

func (e *ViolationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "task definition %q breaks task policy %q (%s)", e.Family, e.Policy, e.Level)
	if len(e.Violations) == 1 {
		b.WriteString(": ")
		b.WriteString(e.Violations[0].Path + ": " + e.Violations[0].Reason)
		return b.String()
	}
	for _, v := range e.Violations {
		b.WriteString("\n\t")
		b.WriteString(v.Path + ": " + v.Reason)
	}
	return b.String()
}

// Is makes errors.Is true for ErrViolation.
func (e *ViolationError) Is(target error) bool { return target == ErrViolation }

// Unwrap returns the violations, so that the error matches ErrInvalid and
// errdefs.FieldErrors lists them.
func (e *ViolationError) Unwrap() []error {
	errs := make([]error, len(e.Violations))
	for i, v := range e.Violations {
		errs[i] = v
	}
	return errs
}

// Check returns a *ViolationError listing what def does that p forbids, or
// nil.
func (p Policy) Check(def *task.TaskDefinition) error {
	lvl := p.level()
	if lvl == Privileged {
		return nil
	}
	c := checker{p: p, lvl: lvl}
	switch def.NetworkMode {
	case task.NetworkHost:
		c.add("networkMode", "host shares the host's network namespace")
	}
	if def.PIDMode == "host" {
		c.add("pidMode", "host shares the host's process namespace")
	}
	if def.IPCMode == "host" {
		c.add("ipcMode", "host shares the host's IPC namespace")
	}
	for i, v := range def.Volumes {
		if v.Host == nil || v.Host.SourcePath == "" {
			continue
		}
		if !p.hostPathAllowed(v.Host.SourcePath) {
			c.add(fmt.Sprintf("volumes[%d].host.sourcePath", i), p.hostPathRule(v.Host.SourcePath))
		}
	}
	for i := range def.ContainerDefinitions {
		c.container(fmt.Sprintf("containerDefinitions[%d]", i), &def.ContainerDefinitions[i])
	}
	if len(c.violations) == 0 {
		return nil
	}
	return &ViolationError{Policy: p.String(), Level: lvl, Family: def.Family, Violations: c.violations}
}

type checker struct {
	p          Policy
	lvl        Level
	violations []*errdefs.FieldError
}

func (c *checker) add(path, rule string) {
	c.violations = append(c.violations, &errdefs.FieldError{Path: path, Reason: rule})
}

func (c *checker) container(at string, cd *task.ContainerDefinition) {
	if cd.Privileged {
		c.add(at+".privileged", "privileged containers are not allowed")
	}
	if lp := cd.LinuxParameters; lp != nil {
		if lp.Capabilities != nil {
			for i, capName := range lp.Capabilities.Add {
				name := strings.TrimPrefix(strings.ToUpper(capName), "CAP_")
				if !c.capabilityAllowed(name) {
					c.add(fmt.Sprintf("%s.linuxParameters.capabilities.add[%d]", at, i), c.capabilityRule(capName))
				}
			}
		}
		if len(lp.Devices) > 0 {
			c.add(at+".linuxParameters.devices", "host devices are not allowed")
		}
	}
	for i, sc := range cd.SystemControls {
		if !slices.Contains(SafeSysctls, sc.Namespace) {
			c.add(fmt.Sprintf("%s.systemControls[%d].namespace", at, i),
				fmt.Sprintf("%q is not one of the safe namespaced sysctls (%s)", sc.Namespace, strings.Join(SafeSysctls, ", ")))
		}
	}
	if c.lvl == Restricted {
		if rule := nonRootRule(cd.User); rule != "" {
			c.add(at+".user", rule)
		}
	}
}

func (c *checker) capabilityAllowed(name string) bool {
	if slices.Contains(c.p.Capabilities, name) {
		return true
	}
	if c.lvl == Restricted {
		return name == "NET_BIND_SERVICE"
	}
	return slices.Contains(DefaultCapabilities, name)
}

func (c *checker) capabilityRule(name string) string {
	allowed := "NET_BIND_SERVICE"
	if c.lvl == Baseline {
		allowed = "Docker's default set (" + strings.Join(DefaultCapabilities, ", ") + ")"
	}
	if len(c.p.Capabilities) > 0 {
		allowed += " and the policy's " + strings.Join(c.p.Capabilities, ", ")
	}
	return fmt.Sprintf("%q may not be added; allowed: %s", name, allowed)
}

// hostPathAllowed reports whether a host volume's source path lies under
// one of the policy's HostPaths. The path is cleaned first, so "/srv/data/../../etc"
// is "/etc".
func (p Policy) hostPathAllowed(src string) bool {
	if !path.IsAbs(src) {
		return false
	}
	clean := path.Clean(src)
	for _, hp := range p.HostPaths {
		if clean == hp || strings.HasPrefix(clean, hp+"/") {
			return true
		}
	}
	return false
}

func (p Policy) hostPathRule(src string) string {
	if len(p.HostPaths) == 0 {
		return fmt.Sprintf("host path %q is not allowed: the policy allows no host paths", src)
	}
	return fmt.Sprintf("host path %q is not under an allowed prefix (%s)", src, strings.Join(p.HostPaths, ", "))
}

// nonRootRule returns why user does not name a non-root user Restricted
// can verify, or "" when it does: a numeric UID other than 0, with an
// optional group. A user name could map to root in the image's
// /etc/passwd, so names are refused.
func nonRootRule(user string) string {
	if user == "" {
		return "must name a non-root numeric user (such as \"1000\" or \"1000:1000\"): restricted tasks do not run as root"
	}
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.ParseUint(uid, 10, 32)
	switch {
	case err != nil:
		return fmt.Sprintf("%q must be a numeric UID: a name could be root in the image", user)
	case n == 0:
		return "UID 0 is root: restricted tasks do not run as root"
	}
	return ""
}
