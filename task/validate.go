package task

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/healthcmd"
)

// ErrInvalid is matched (errors.Is) by the error of Validate for a
// definition that breaks an ECS rule, and by ParseRef's for a malformed
// reference. It is errdefs.ErrInvalid: every invalid input of Stevedore
// matches it.
var ErrInvalid = errdefs.ErrInvalid

// invalidDefinition lists every rule a task definition breaks, each an
// *errdefs.FieldError whose path is relative to the task definition
// ("containerDefinitions[1].healthCheck.interval"); errdefs.FieldErrors
// lists them.
type invalidDefinition struct {
	// family is the definition's family, for the message.
	family string
	// errs are in the order of the definition's fields.
	errs []*errdefs.FieldError
}

// newInvalid returns the error of errs, nil when there are none.
func newInvalid(family string, errs []*errdefs.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return &invalidDefinition{family: family, errs: errs}
}

// Error returns a message such as
// `invalid task definition "web": containerDefinitions[0].memory: must be at least 6 MiB`,
// with one line per problem when there are several.
func (e *invalidDefinition) Error() string {
	var b strings.Builder
	b.WriteString("invalid task definition")
	if e.family != "" {
		b.WriteString(" ")
		b.WriteString(quote(e.family))
	}
	line := func(fe *errdefs.FieldError) {
		b.WriteString(fe.Path)
		b.WriteString(": ")
		b.WriteString(fe.Reason)
		if fe.Err != nil && !errors.Is(fe.Err, ErrTooLarge) {
			b.WriteString(": ")
			b.WriteString(fe.Err.Error())
		}
	}
	if len(e.errs) == 1 {
		b.WriteString(": ")
		line(e.errs[0])
		return b.String()
	}
	fmt.Fprintf(&b, " (%d problems):", len(e.errs))
	for _, fe := range e.errs {
		b.WriteString("\n\t")
		line(fe)
	}
	return b.String()
}

// Unwrap returns the field errors, which match ErrInvalid.
func (e *invalidDefinition) Unwrap() []error {
	errs := make([]error, len(e.errs))
	for i, fe := range e.errs {
		errs[i] = fe
	}
	return errs
}

// Limits of ECS task definitions that Validate enforces.
const (
	MaxContainers           = 10
	MaxPlacementConstraints = 10
	MaxExpressionLength     = 2000
	MaxTags                 = 50
	MinTaskCPU              = 128    // cpu units, EC2 and external instances
	MaxTaskCPU              = 196608 // cpu units (192 vCPU)
	MinMemoryMiB            = 6      // the smallest memory a container runs with
	MaxStopTimeoutSeconds   = 120
)

var (
	namePattern     = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	envNamePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	portNamePattern = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]{0,63}$`)
)

// Validate checks td against the rules of ECS task definitions (for tasks
// on EC2 or external instances, plus the Fargate rules when
// requiresCompatibilities includes FARGATE) and returns a
// error listing every problem (errdefs.FieldErrors lists them), or nil. Output-only fields
// (revision, status, ...) are not checked, but count in the size.
//
// A definition whose JSON is larger than MaxDefinitionBytes gets one
// error, on the path "taskDefinition", that matches ErrTooLarge; nothing
// else of it is checked. Errors quote at most a short prefix of a value.
//
// Besides the ECS log drivers, logDriver may be LogDriverStevedore.
func (td *TaskDefinition) Validate() error {
	if n, ok := jsonSize(td, MaxDefinitionBytes); !ok {
		return newInvalid(td.Family, []*errdefs.FieldError{{Path: "taskDefinition", Reason: tooLarge(n, MaxDefinitionBytes), Err: ErrTooLarge}})
	}
	if rp := td.RuntimePlatform; rp != nil && strings.HasPrefix(rp.OperatingSystemFamily, "WINDOWS") {
		// Its paths and settings follow Windows' rules: one clear refusal
		// says more than a problem for each of them.
		return newInvalid(td.Family, []*errdefs.FieldError{errWindows()})
	}
	v := &validator{
		td:         td,
		mode:       td.EffectiveNetworkMode(),
		containers: map[string]int{},
		hostPorts:  map[string]string{},
		portNames:  map[string]string{},
	}
	for i, c := range td.ContainerDefinitions {
		if _, dup := v.containers[c.Name]; !dup && c.Name != "" {
			v.containers[c.Name] = i
		}
	}
	v.task()
	for i := range td.ContainerDefinitions {
		v.container(i)
	}
	v.taskTotals()
	v.cycles()
	return newInvalid(td.Family, v.errs)
}

type validator struct {
	td         *TaskDefinition
	mode       NetworkMode
	containers map[string]int    // name -> index of its first definition
	hostPorts  map[string]string // "80/tcp" -> path of the mapping that takes it
	portNames  map[string]string // port mapping name -> path of its mapping
	errs       []*errdefs.FieldError
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &errdefs.FieldError{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// oneOf checks that value is one of allowed.
func (v *validator) oneOf(path, value string, allowed ...string) {
	switch {
	case slices.Contains(allowed, value):
	case len(allowed) == 1:
		v.add(path, "must be %q", allowed[0])
	default:
		v.add(path, "must be one of %s", strings.Join(allowed, ", "))
	}
}

// inRange checks that lo <= n <= hi, and reports whether it is.
func (v *validator) inRange(path string, n, lo, hi int, unit string) bool {
	if n < lo || n > hi {
		v.add(path, "must be between %d and %d%s", lo, hi, unit)
		return false
	}
	return true
}

// unique checks that no earlier element of list has the same non-empty
// key in field; seen maps the keys met so far to their element's index.
func (v *validator) unique(seen map[string]int, key string, i int, path, list, field string) {
	if key == "" {
		return
	}
	if j, dup := seen[key]; dup {
		v.add(path, "duplicates %s[%d].%s", list, j, field)
		return
	}
	seen[key] = i
}

// name checks an ECS name: 1 to 255 letters, numbers, hyphens and
// underscores.
func (v *validator) name(path, s string) {
	switch {
	case s == "":
		v.add(path, "is required")
	case len(s) > 255:
		v.add(path, "must be at most 255 characters")
	case !namePattern.MatchString(s):
		v.add(path, "may contain only letters, numbers, hyphens and underscores")
	}
}

func (v *validator) required(path, s string) bool {
	if s == "" {
		v.add(path, "is required")
		return false
	}
	return true
}

func (v *validator) absolutePath(p, s string) {
	switch {
	case !v.required(p, s), path.IsAbs(s):
	case windowsPath.MatchString(s):
		v.add(p, "%q is a Windows path: Windows containers are not supported", s)
	default:
		v.add(p, "must be an absolute path")
	}
}

// windowsPath matches a path with a drive letter, "C:/data" or `C:\data`.
var windowsPath = regexp.MustCompile(`^[A-Za-z]:[/\\]`)

// errWindows is the one problem Validate reports for a definition for
// Windows containers, which Stevedore (containerd with runc) cannot run.
func errWindows() *errdefs.FieldError {
	return &errdefs.FieldError{Path: "runtimePlatform.operatingSystemFamily",
		Reason: "Windows containers are not supported: Stevedore runs Linux containers (containerd and runc)"}
}

func (v *validator) task() {
	td := v.td
	v.name("family", td.Family)
	if td.NetworkMode != "" {
		v.oneOf("networkMode", string(td.NetworkMode), "awsvpc", "bridge", "host", "none")
	}
	switch n := len(td.ContainerDefinitions); {
	case n == 0:
		v.add("containerDefinitions", "must have at least one container")
	case n > MaxContainers:
		v.add("containerDefinitions", "must have at most %d containers, has %d", MaxContainers, n)
	}
	for i, c := range td.RequiresCompatibilities {
		v.oneOf(indexPath("requiresCompatibilities", i), c, "EC2", "EXTERNAL", "FARGATE", "MANAGED_INSTANCES")
	}
	if td.CPU != "" {
		if n, err := td.CPU.Units(); err != nil {
			v.add("cpu", "%v", err)
		} else if n < MinTaskCPU || n > MaxTaskCPU {
			v.add("cpu", "must be between %d and %d cpu units (0.125 to 192 vCPU)", MinTaskCPU, MaxTaskCPU)
		}
	}
	if td.Memory != "" {
		if n, err := td.Memory.MiB(); err != nil {
			v.add("memory", "%v", err)
		} else if n < MinMemoryMiB {
			v.add("memory", "must be at least %d MiB", MinMemoryMiB)
		}
	}
	if td.PIDMode != "" {
		v.oneOf("pidMode", td.PIDMode, "host", "task")
	}
	if td.IPCMode != "" {
		v.oneOf("ipcMode", td.IPCMode, "host", "task", "none")
	}
	v.volumes()
	v.placementConstraints()
	v.tags()
	if rp := td.RuntimePlatform; rp != nil {
		if rp.CPUArchitecture != "" {
			v.oneOf("runtimePlatform.cpuArchitecture", rp.CPUArchitecture, "X86_64", "ARM64")
		}
		if rp.OperatingSystemFamily != "" {
			v.oneOf("runtimePlatform.operatingSystemFamily", rp.OperatingSystemFamily, operatingSystemFamilies...)
		}
	}
	if slices.Contains(td.RequiresCompatibilities, "FARGATE") {
		v.fargate()
	}
}

var operatingSystemFamilies = []string{
	"LINUX",
	"WINDOWS_SERVER_2016_FULL", "WINDOWS_SERVER_2019_CORE", "WINDOWS_SERVER_2019_FULL",
	"WINDOWS_SERVER_2004_CORE", "WINDOWS_SERVER_20H2_CORE", "WINDOWS_SERVER_2022_CORE",
	"WINDOWS_SERVER_2022_FULL", "WINDOWS_SERVER_2025_CORE", "WINDOWS_SERVER_2025_FULL",
}

func (v *validator) volumes() {
	seen := map[string]int{}
	for i, vol := range v.td.Volumes {
		p := indexPath("volumes", i)
		v.name(p+".name", vol.Name)
		v.unique(seen, vol.Name, i, p+".name", "volumes", "name")
		if vol.Host != nil && vol.DockerVolumeConfiguration != nil {
			v.add(p, "cannot have both host and dockerVolumeConfiguration")
		}
		if dv := vol.DockerVolumeConfiguration; dv != nil {
			if dv.Scope != "" {
				v.oneOf(p+".dockerVolumeConfiguration.scope", dv.Scope, "task", "shared")
			}
			if dv.Autoprovision && dv.Scope != "shared" {
				v.add(p+".dockerVolumeConfiguration.autoprovision", "is only allowed with scope shared")
			}
		}
	}
}

func (v *validator) placementConstraints() {
	pcs := v.td.PlacementConstraints
	if len(pcs) > MaxPlacementConstraints {
		v.add("placementConstraints", "must have at most %d constraints", MaxPlacementConstraints)
	}
	for i, pc := range pcs {
		p := indexPath("placementConstraints", i)
		switch pc.Type {
		case "memberOf":
		case "distinctInstance":
			v.add(p+".type", "must be memberOf: distinctInstance is only allowed when running a task or in a service")
			continue
		default:
			v.add(p+".type", "must be memberOf")
		}
		if v.required(p+".expression", pc.Expression) && len(pc.Expression) > MaxExpressionLength {
			v.add(p+".expression", "must be at most %d characters", MaxExpressionLength)
		}
	}
}

func (v *validator) tags() {
	tags := v.td.Tags
	if len(tags) > MaxTags {
		v.add("tags", "must have at most %d tags", MaxTags)
	}
	seen := map[string]int{}
	for i, t := range tags {
		p := indexPath("tags", i)
		switch {
		case t.Key == "":
			v.add(p+".key", "is required")
		case len(t.Key) > 128:
			v.add(p+".key", "must be at most 128 characters")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			v.add(p+".key", "must not start with the reserved prefix aws:")
		}
		v.unique(seen, t.Key, i, p+".key", "tags", "key")
		if len(t.Value) > 256 {
			v.add(p+".value", "must be at most 256 characters")
		}
	}
}

// fargateMemory lists, per task cpu, the memory sizes in MiB that Fargate
// accepts; cpu 256 also takes 512 MiB.
var fargateMemory = map[int]struct{ from, to, step int }{
	256:   {1024, 2048, 1024},
	512:   {1024, 4096, 1024},
	1024:  {2048, 8192, 1024},
	2048:  {4096, 16384, 1024},
	4096:  {8192, 30720, 1024},
	8192:  {16384, 61440, 4096},
	16384: {32768, 122880, 8192},
}

func (v *validator) fargate() {
	td := v.td
	if v.mode != NetworkAWSVPC {
		v.add("networkMode", "must be awsvpc when requiresCompatibilities includes FARGATE")
	}
	for i, c := range td.ContainerDefinitions {
		if c.Privileged {
			v.add(indexPath("containerDefinitions", i)+".privileged", "is not supported on Fargate")
		}
	}
	if td.CPU == "" {
		v.add("cpu", "is required when requiresCompatibilities includes FARGATE")
	}
	if td.Memory == "" {
		v.add("memory", "is required when requiresCompatibilities includes FARGATE")
	}
	cpu, cpuErr := td.CPU.Units()
	mem, memErr := td.Memory.MiB()
	if td.CPU == "" || td.Memory == "" || cpuErr != nil || memErr != nil {
		return // reported above or by task()
	}
	r, ok := fargateMemory[cpu]
	switch {
	case !ok:
		v.add("cpu", "must be 256, 512, 1024, 2048, 4096, 8192 or 16384 on Fargate")
	case cpu == 256 && mem == 512:
	case cpu == 256 && mem != 1024 && mem != 2048:
		v.add("memory", "must be 512, 1024 or 2048 MiB on Fargate with cpu 256")
	case mem < r.from || mem > r.to || (mem-r.from)%r.step != 0:
		v.add("memory", "must be %d to %d MiB in steps of %d on Fargate with cpu %d", r.from, r.to, r.step, cpu)
	}
}

func (v *validator) container(i int) {
	td, c := v.td, &v.td.ContainerDefinitions[i]
	p := indexPath("containerDefinitions", i)

	v.name(p+".name", c.Name)
	if j := v.containers[c.Name]; j != i && c.Name != "" {
		v.add(p+".name", "duplicates containerDefinitions[%d].name", j)
	}
	switch {
	case !v.required(p+".image", c.Image):
	case len(c.Image) > MaxImageLength:
		v.add(p+".image", "must be at most %d characters", MaxImageLength)
	case strings.ContainsAny(c.Image, " \t\r\n"):
		v.add(p+".image", "must not contain whitespace")
	}
	if rc := c.RepositoryCredentials; rc != nil {
		v.required(p+".repositoryCredentials.credentialsParameter", rc.CredentialsParameter)
	}
	v.memory(p, c)
	v.links(p, i, c)
	v.portMappings(p, c)
	v.environment(p, c)
	if len(c.Hostname) > MaxHostnameLength {
		v.add(p+".hostname", "must be at most %d characters", MaxHostnameLength)
	}
	for j, m := range c.MountPoints {
		mp := indexPath(p+".mountPoints", j)
		if v.required(mp+".sourceVolume", m.SourceVolume) && !slices.ContainsFunc(td.Volumes, func(vol Volume) bool { return vol.Name == m.SourceVolume }) {
			v.add(mp+".sourceVolume", "names no volume of the task (%s)", quote(m.SourceVolume))
		}
		v.absolutePath(mp+".containerPath", m.ContainerPath)
	}
	for j, vf := range c.VolumesFrom {
		v.containerRef(indexPath(p+".volumesFrom", j)+".sourceContainer", vf.SourceContainer, i)
	}
	if lp := c.LinuxParameters; lp != nil {
		v.linuxParameters(p+".linuxParameters", lp)
	}
	v.dependsOn(p, i, c)
	if c.StartTimeoutSeconds != nil {
		v.inRange(p+".startTimeout", *c.StartTimeoutSeconds, 0, MaxInteger, " seconds")
	}
	if c.StopTimeoutSeconds != nil {
		v.inRange(p+".stopTimeout", *c.StopTimeoutSeconds, 0, MaxStopTimeoutSeconds, " seconds")
	}
	v.hostSettings(p, c)
	for k := range c.DockerLabels {
		if k == "" {
			v.add(p+".dockerLabels", "keys must not be empty")
		}
	}
	v.ulimits(p, c)
	if lc := c.LogConfiguration; lc != nil {
		v.logConfiguration(p+".logConfiguration", lc)
	}
	if hc := c.HealthCheck; hc != nil {
		v.healthCheck(p+".healthCheck", hc)
	}
	v.systemControls(p, c)
	for j, r := range c.ResourceRequirements {
		rp := indexPath(p+".resourceRequirements", j)
		v.oneOf(rp+".type", r.Type, "GPU", "InferenceAccelerator")
		if v.required(rp+".value", r.Value) && r.Type == "GPU" {
			if n, err := strconv.Atoi(r.Value); err != nil || n < 1 {
				v.add(rp+".value", "must be a positive number of GPUs")
			}
		}
	}
	if fc := c.FirelensConfiguration; fc != nil {
		v.oneOf(p+".firelensConfiguration.type", fc.Type, "fluentd", "fluentbit")
	}
}

func (v *validator) memory(p string, c *ContainerDefinition) {
	v.inRange(p+".cpu", c.CPU, 0, MaxContainerCPU, " cpu units")
	if c.Memory != 0 {
		v.inRange(p+".memory", c.Memory, MinMemoryMiB, MaxInteger, " MiB")
	}
	if c.MemoryReservation != 0 {
		v.inRange(p+".memoryReservation", c.MemoryReservation, MinMemoryMiB, MaxInteger, " MiB")
	}
	if c.Memory > 0 && c.MemoryReservation > c.Memory {
		v.add(p+".memoryReservation", "must not exceed memory (%d MiB)", c.Memory)
	}
	taskMem, err := v.td.Memory.MiB()
	switch {
	case v.td.Memory == "":
		if c.Memory == 0 && c.MemoryReservation == 0 {
			v.add(p+".memory", "is required, or memoryReservation, when the task sets no memory")
		}
	case err == nil && c.Memory > taskMem:
		v.add(p+".memory", "must not exceed the task memory (%d MiB)", taskMem)
	}
}

func (v *validator) links(p string, i int, c *ContainerDefinition) {
	if len(c.Links) > 0 && v.mode != NetworkBridge {
		v.add(p+".links", "are only supported in bridge network mode")
	}
	for j, l := range c.Links {
		lp := indexPath(p+".links", j)
		name, alias, hasAlias := strings.Cut(l, ":")
		v.containerRef(lp, name, i)
		if hasAlias && (alias == "" || len(alias) > 255 || !namePattern.MatchString(alias)) {
			v.add(lp, "alias %s may contain only letters, numbers, hyphens and underscores", quote(alias))
		}
	}
}

// containerRef checks that name is another container of the task.
func (v *validator) containerRef(p, name string, self int) {
	if !v.required(p, name) {
		return
	}
	j, ok := v.containers[name]
	switch {
	case !ok:
		v.add(p, "names no container of the task (%s)", quote(name))
	case j == self:
		v.add(p, "must name another container, not itself")
	}
}

func (v *validator) portMappings(p string, c *ContainerDefinition) {
	if len(c.PortMappings) > 0 && v.mode == NetworkNone {
		v.add(p+".portMappings", "are not allowed in none network mode")
		return
	}
	for j, pm := range c.PortMappings {
		pp := indexPath(p+".portMappings", j)
		validPorts := v.inRange(pp+".containerPort", pm.ContainerPort, 1, 65535, "")
		validPorts = v.inRange(pp+".hostPort", pm.HostPort, 0, 65535, "") && validPorts
		if pm.Protocol != "" {
			v.oneOf(pp+".protocol", string(pm.Protocol), "tcp", "udp")
		}
		if pm.AppProtocol != "" {
			v.oneOf(pp+".appProtocol", pm.AppProtocol, "http", "http2", "grpc")
		}
		if pm.Name != "" {
			if !portNamePattern.MatchString(pm.Name) {
				v.add(pp+".name", "must be 1 to 64 lowercase letters, numbers, underscores and hyphens, not starting with a hyphen")
			} else if other, dup := v.portNames[pm.Name]; dup {
				v.add(pp+".name", "duplicates %s.name", other)
			} else {
				v.portNames[pm.Name] = pp
			}
		}

		if !validPorts {
			continue
		}
		// The host port the mapping takes: the container port itself
		// where containers share the host's or the task's namespace.
		hostPort, field := pm.HostPort, ".hostPort"
		if v.mode == NetworkAWSVPC || v.mode == NetworkHost {
			if pm.HostPort != 0 && pm.HostPort != pm.ContainerPort {
				v.add(pp+".hostPort", "must be 0 or equal to containerPort (%d) in %s network mode", pm.ContainerPort, v.mode)
				continue
			}
			hostPort, field = pm.ContainerPort, ".containerPort"
		}
		if hostPort == 0 {
			continue // dynamic
		}
		key := fmt.Sprintf("%d/%s", hostPort, pm.EffectiveProtocol())
		if other, dup := v.hostPorts[key]; dup {
			v.add(pp+field, "host port %s is already used by %s", key, other)
		} else {
			v.hostPorts[key] = pp
		}
	}
}

func (v *validator) environment(p string, c *ContainerDefinition) {
	seen := map[string]int{}
	for j, e := range c.Environment {
		ep := indexPath(p+".environment", j)
		if v.required(ep+".name", e.Name) {
			v.unique(seen, e.Name, j, ep+".name", "environment", "name")
		}
	}
	if n := len(c.EnvironmentFiles); n > MaxEnvironmentFiles {
		v.add(p+".environmentFiles", "must have at most %d files, has %d", MaxEnvironmentFiles, n)
	}
	for j, f := range c.EnvironmentFiles {
		fp := indexPath(p+".environmentFiles", j)
		v.required(fp+".value", f.Value)
		v.oneOf(fp+".type", f.Type, "s3")
	}
	seen = map[string]int{}
	for j, s := range c.Secrets {
		sp := indexPath(p+".secrets", j)
		if v.required(sp+".name", s.Name) {
			if !envNamePattern.MatchString(s.Name) {
				v.add(sp+".name", "must be a valid environment variable name (letters, digits and underscores, not starting with a digit)")
			}
			v.unique(seen, s.Name, j, sp+".name", "secrets", "name")
		}
		v.required(sp+".valueFrom", s.ValueFrom)
	}
}

func (v *validator) linuxParameters(p string, lp *LinuxParameters) {
	if caps := lp.Capabilities; caps != nil {
		v.capabilities(p+".capabilities.add", caps.Add)
		v.capabilities(p+".capabilities.drop", caps.Drop)
	}
	for j, d := range lp.Devices {
		dp := indexPath(p+".devices", j)
		v.absolutePath(dp+".hostPath", d.HostPath)
		for k, perm := range d.Permissions {
			v.oneOf(indexPath(dp+".permissions", k), perm, "read", "write", "mknod")
		}
	}
	v.inRange(p+".sharedMemorySize", lp.SharedMemorySize, 0, MaxInteger, " MiB")
	for j, t := range lp.Tmpfs {
		tp := indexPath(p+".tmpfs", j)
		v.absolutePath(tp+".containerPath", t.ContainerPath)
		v.inRange(tp+".size", t.Size, 1, MaxInteger, " MiB")
		for k, o := range t.MountOptions {
			name, _, _ := strings.Cut(o, "=")
			if !slices.Contains(tmpfsMountOptions, name) {
				v.add(indexPath(tp+".mountOptions", k), "unknown tmpfs mount option %s", quote(o))
			}
		}
	}
	if lp.MaxSwap != nil {
		v.inRange(p+".maxSwap", *lp.MaxSwap, 0, MaxInteger, " MiB")
	}
	if lp.Swappiness != nil {
		v.inRange(p+".swappiness", *lp.Swappiness, 0, 100, "")
	}
}

var tmpfsMountOptions = []string{
	"defaults", "ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync",
	"async", "dirsync", "remount", "mand", "nomand", "atime", "noatime", "diratime",
	"nodiratime", "bind", "rbind", "unbindable", "runbindable", "private", "rprivate",
	"shared", "rshared", "slave", "rslave", "relatime", "norelatime", "strictatime",
	"nostrictatime", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol",
}

// linuxCapabilities are the capability names ECS accepts (without the
// CAP_ prefix), plus the newer ones of the Linux kernel.
var linuxCapabilities = []string{
	"ALL", "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF",
	"CHECKPOINT_RESTORE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID",
	"IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN",
	"MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW",
	"PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT",
	"SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
}

func (v *validator) capabilities(p string, caps []string) {
	for j, c := range caps {
		if slices.Contains(linuxCapabilities, c) {
			continue
		}
		if bare, ok := strings.CutPrefix(c, "CAP_"); ok && slices.Contains(linuxCapabilities, bare) {
			v.add(indexPath(p, j), "must be written without the CAP_ prefix: %s", quote(bare))
			continue
		}
		v.add(indexPath(p, j), "unknown Linux capability %s", quote(c))
	}
}

func (v *validator) dependsOn(p string, i int, c *ContainerDefinition) {
	for j, d := range c.DependsOn {
		dp := indexPath(p+".dependsOn", j)
		v.containerRef(dp+".containerName", d.ContainerName, i)
		if !v.required(dp+".condition", string(d.Condition)) {
			continue
		}
		v.oneOf(dp+".condition", string(d.Condition), "START", "COMPLETE", "SUCCESS", "HEALTHY")
		k, ok := v.containers[d.ContainerName]
		if !ok || k == i {
			continue
		}
		target := &v.td.ContainerDefinitions[k]
		switch d.Condition {
		case ConditionHealthy:
			if target.HealthCheck == nil {
				v.add(dp+".condition", "HEALTHY needs a health check on container %s", quote(target.Name))
			}
		case ConditionComplete, ConditionSuccess:
			if target.IsEssential() {
				v.add(dp+".condition", "%s cannot target essential container %s", d.Condition, quote(target.Name))
			}
		}
	}
}

// hostSettings checks the settings of the container's network namespace
// that awsvpc mode does not allow per container.
func (v *validator) hostSettings(p string, c *ContainerDefinition) {
	awsvpc := v.mode == NetworkAWSVPC
	if c.Hostname != "" && awsvpc {
		v.add(p+".hostname", "is not supported in awsvpc network mode")
	}
	if len(c.DNSServers) > 0 && awsvpc {
		v.add(p+".dnsServers", "are not supported in awsvpc network mode")
	}
	for j, s := range c.DNSServers {
		if _, err := netip.ParseAddr(s); err != nil {
			v.add(indexPath(p+".dnsServers", j), "must be an IP address")
		}
	}
	if len(c.DNSSearchDomains) > 0 && awsvpc {
		v.add(p+".dnsSearchDomains", "are not supported in awsvpc network mode")
	}
	for j, s := range c.DNSSearchDomains {
		v.required(indexPath(p+".dnsSearchDomains", j), s)
	}
	if len(c.ExtraHosts) > 0 && awsvpc {
		v.add(p+".extraHosts", "are not supported in awsvpc network mode")
	}
	for j, h := range c.ExtraHosts {
		hp := indexPath(p+".extraHosts", j)
		v.required(hp+".hostname", h.Hostname)
		if _, err := netip.ParseAddr(h.IPAddress); err != nil {
			v.add(hp+".ipAddress", "must be an IP address")
		}
	}
}

var ulimitNames = []string{
	"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
	"nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}

func (v *validator) ulimits(p string, c *ContainerDefinition) {
	seen := map[string]int{}
	for j, u := range c.Ulimits {
		up := indexPath(p+".ulimits", j)
		v.oneOf(up+".name", u.Name, ulimitNames...)
		v.unique(seen, u.Name, j, up+".name", "ulimits", "name")
		if u.SoftLimit > u.HardLimit {
			v.add(up+".softLimit", "must not exceed hardLimit (%d)", u.HardLimit)
		}
	}
}

var logDrivers = []string{
	"awsfirelens", "awslogs", "fluentd", "gelf", "journald", "json-file", "logentries",
	"none", "splunk", "syslog", LogDriverStevedore,
}

func (v *validator) logConfiguration(p string, lc *LogConfiguration) {
	if v.required(p+".logDriver", lc.LogDriver) {
		v.oneOf(p+".logDriver", lc.LogDriver, logDrivers...)
	}
	if lc.LogDriver == "awsfirelens" && !slices.ContainsFunc(v.td.ContainerDefinitions, func(c ContainerDefinition) bool {
		return c.FirelensConfiguration != nil
	}) {
		v.add(p+".logDriver", "awsfirelens needs a container with firelensConfiguration in the task")
	}
	for j, s := range lc.SecretOptions {
		sp := indexPath(p+".secretOptions", j)
		v.required(sp+".name", s.Name)
		v.required(sp+".valueFrom", s.ValueFrom)
	}
}

func (v *validator) healthCheck(p string, hc *HealthCheck) {
	switch cmd := hc.Command; {
	case len(cmd) == 0:
		v.add(p+".command", "is required")
	case cmd[0] == "CMD":
		if len(cmd) < 2 {
			v.add(p+".command", `"CMD" must be followed by the command to run`)
		}
	case cmd[0] == "CMD-SHELL":
		if len(cmd) != 2 {
			v.add(p+".command", `"CMD-SHELL" must be followed by exactly one shell command string`)
		}
	case cmd[0] == "HTTP" || cmd[0] == "TCP":
		// Stevedore's network checks, run by the agent from inside the
		// task's network namespace.
		var e *healthcmd.Error
		if _, err := healthcmd.Parse(cmd); errors.As(err, &e) {
			path := p + ".command"
			if e.Element >= 0 {
				path = indexPath(path, e.Element)
			}
			v.add(path, "%s", e.Rule)
		}
	default:
		v.add(p+".command[0]", "must be %s", healthcmd.Kinds)
	}
	if hc.IntervalSeconds != 0 {
		v.inRange(p+".interval", hc.IntervalSeconds, 5, 300, " seconds")
	}
	if hc.TimeoutSeconds != 0 {
		v.inRange(p+".timeout", hc.TimeoutSeconds, 2, 60, " seconds")
	}
	if hc.RetryCount != 0 {
		v.inRange(p+".retries", hc.RetryCount, 1, 10, "")
	}
	v.inRange(p+".startPeriod", hc.StartPeriodSeconds, 0, 300, " seconds")
}

// ipcSysctls are the IPC-namespaced kernel parameters, besides fs.mqueue.*.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
	"kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

func (v *validator) systemControls(p string, c *ContainerDefinition) {
	for j, sc := range c.SystemControls {
		sp := indexPath(p+".systemControls", j)
		v.required(sp+".value", sc.Value)
		if !v.required(sp+".namespace", sc.Namespace) {
			continue
		}
		ipc := slices.Contains(ipcSysctls, sc.Namespace) || strings.HasPrefix(sc.Namespace, "fs.mqueue.")
		network := strings.HasPrefix(sc.Namespace, "net.")
		switch {
		case !ipc && !network:
			v.add(sp+".namespace", "must be a namespaced kernel parameter (net.*, fs.mqueue.* or an IPC kernel.* parameter)")
		case network && v.mode == NetworkHost:
			v.add(sp+".namespace", "network kernel parameters are not supported in host network mode")
		case ipc && v.td.IPCMode == "host":
			v.add(sp+".namespace", "IPC kernel parameters are not supported with ipcMode host")
		}
	}
}

// taskTotals checks what involves all containers together.
func (v *validator) taskTotals() {
	td := v.td
	if len(td.ContainerDefinitions) == 0 {
		return
	}
	if !slices.ContainsFunc(td.ContainerDefinitions, func(c ContainerDefinition) bool { return c.IsEssential() }) {
		v.add("containerDefinitions", "must have at least one essential container")
	}
	var cpu, mem int
	for i := range td.ContainerDefinitions {
		cpu += max(td.ContainerDefinitions[i].CPU, 0)
		mem += max(td.ContainerDefinitions[i].reservedMemory(), 0)
	}
	if n, err := td.CPU.Units(); td.CPU != "" && err == nil && cpu > n {
		v.add("cpu", "must be at least the sum of the containers' cpu (%d units)", cpu)
	}
	if n, err := td.Memory.MiB(); td.Memory != "" && err == nil && mem > n {
		v.add("memory", "must be at least the memory the containers reserve (%d MiB)", mem)
	}
}

// cycles reports each dependency cycle among the containers.
func (v *validator) cycles() {
	v.errs = append(v.errs, newDependencyGraph(v.td).cycleErrors(v.td)...)
}
