package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/distribution/reference"
	"maps"
	"math"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/secrets"
	"github.com/stevedore-io/stevedore/task"
)

// Labels the agent puts on every container it creates. Adoption selects on
// LabelInstance and reads the others back.
const (
	LabelTask      = "stevedore.task"
	LabelContainer = "stevedore.container"
	LabelCluster   = "stevedore.cluster"
	LabelInstance  = "stevedore.instance"
	LabelFamily    = "stevedore.family"
)

// maxContainerIDLen is the longest container ID every runtime accepts
// (containerd's limit).
const maxContainerIDLen = 76

var (
	idUnsafe = regexp.MustCompile(`[^A-Za-z0-9]+`)
)

// ContainerID returns the runtime ID of container name of task taskID:
// "<taskID>-<name>" when that is a valid containerd identifier (letters and
// digits separated by single '.', '_' or '-', at most 76 characters), and
// otherwise a cleaned-up, shortened form followed by a hash of both, so that
// the ID is always valid, deterministic and unique per task and container.
func ContainerID(taskID, name string) string {
	id := taskID + "-" + name
	if len(id) <= maxContainerIDLen && validContainerID(id) {
		return id
	}
	sum := sha256.Sum256([]byte(taskID + "\x00" + name))
	suffix := hex.EncodeToString(sum[:6])
	clean := strings.Trim(idUnsafe.ReplaceAllString(taskID+"-"+name, "-"), "-")
	if room := maxContainerIDLen - len(suffix) - 1; len(clean) > room {
		clean = strings.TrimRight(clean[:room], "-")
	}
	if clean == "" {
		return suffix
	}
	return clean + "-" + suffix
}

// validContainerID reports whether id is a valid containerd identifier:
// runs of letters and digits separated by single '.', '_' or '-'
// (^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$, checked by hand: it runs for every
// container of every task).
func validContainerID(id string) bool {
	if id == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	prevSep := true // the first character must be a letter or digit
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case alnum(c):
			prevSep = false
		case c == '.' || c == '_' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep
}

// portOwner says which container a port mapping of a network request
// belongs to.
type portOwner struct {
	container string
	mapping   task.PortMapping
}

// networkRequest builds the network request of a task from its definition:
// mode, the first container hostname, every container's port mappings,
// DNS servers and search domains, and extra hosts. It also returns the
// container each port mapping came from, in request order.
func networkRequest(taskID string, def *task.TaskDefinition) (*network.Request, []portOwner, error) {
	mode, err := network.ParseMode(string(def.EffectiveNetworkMode()))
	if err != nil {
		return nil, nil, err
	}
	req := &network.Request{TaskID: taskID, Mode: mode}
	var owners []portOwner
	for i := range def.ContainerDefinitions {
		c := &def.ContainerDefinitions[i]
		if req.Hostname == "" {
			req.Hostname = c.Hostname
		}
		for j, pm := range c.PortMappings {
			if pm.ContainerPort < 1 || pm.ContainerPort > 65535 || pm.HostPort < 0 || pm.HostPort > 65535 {
				return nil, nil, fmt.Errorf("container %s: portMappings[%d]: port out of range", c.Name, j)
			}
			req.PortMappings = append(req.PortMappings, network.PortMapping{
				ContainerPort: uint16(pm.ContainerPort),
				HostPort:      uint16(pm.HostPort),
				Protocol:      network.Protocol(pm.EffectiveProtocol()),
			})
			owners = append(owners, portOwner{container: c.Name, mapping: pm})
		}
		for j, s := range c.DNSServers {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				return nil, nil, fmt.Errorf("container %s: dnsServers[%d]: %w", c.Name, j, err)
			}
			if !slices.Contains(req.DNS.Servers, addr) {
				req.DNS.Servers = append(req.DNS.Servers, addr)
			}
		}
		for _, d := range c.DNSSearchDomains {
			if !slices.Contains(req.DNS.Search, d) {
				req.DNS.Search = append(req.DNS.Search, d)
			}
		}
		for j, h := range c.ExtraHosts {
			addr, err := netip.ParseAddr(h.IPAddress)
			if err != nil {
				return nil, nil, fmt.Errorf("container %s: extraHosts[%d].ipAddress: %w", c.Name, j, err)
			}
			req.ExtraHosts = append(req.ExtraHosts, network.HostEntry{Hostname: h.Hostname, Address: addr})
		}
	}
	if req.Hostname == "" && mode != network.ModeHost {
		req.Hostname = TaskHostname(def, taskID)
	}
	return req, owners, nil
}

// networkBindings distributes an attachment's port bindings over the
// containers that asked for them.
func networkBindings(att *network.Attachment, owners []portOwner) map[string][]task.NetworkBinding {
	out := map[string][]task.NetworkBinding{}
	bindIP := "0.0.0.0"
	if att.Mode == network.ModeAWSVPC && att.Address.IsValid() {
		bindIP = att.Address.Addr().String()
	}
	used := make([]bool, len(att.PortBindings))
	for i, o := range owners {
		// Providers return the bindings in request order; match by port
		// and protocol when one does not.
		j := -1
		if i < len(att.PortBindings) && !used[i] && bindingMatches(att.PortBindings[i], o.mapping) {
			j = i
		} else {
			for k, b := range att.PortBindings {
				if !used[k] && bindingMatches(b, o.mapping) {
					j = k
					break
				}
			}
		}
		if j < 0 {
			continue
		}
		used[j] = true
		b := att.PortBindings[j]
		out[o.container] = append(out[o.container], task.NetworkBinding{
			BindIP:        bindIP,
			ContainerPort: int(b.ContainerPort),
			HostPort:      int(b.HostPort),
			Protocol:      task.Protocol(b.Protocol),
		})
	}
	return out
}

func bindingMatches(b network.PortBinding, m task.PortMapping) bool {
	return int(b.ContainerPort) == m.ContainerPort && string(b.Protocol) == string(m.EffectiveProtocol())
}

// specInput is what containerSpec needs besides the container definition.
type specInput struct {
	taskID, cluster, instance, family string
	att                               *network.Attachment
	// volumes maps a task volume name to its host path.
	volumes map[string]string
	// secretEnv holds the resolved secrets as KEY=VALUE. It is never stored
	// or logged.
	secretEnv []string
	def       *task.TaskDefinition
	logs      LogSink
}

// logDriverNone is the log driver that keeps no output.
const logDriverNone = "none"

// containerSpec builds the runtime spec of one container.
func containerSpec(c *task.ContainerDefinition, in *specInput) (*runtime.ContainerSpec, error) {
	spec := &runtime.ContainerSpec{
		ID:             ContainerID(in.taskID, c.Name),
		Image:          c.Image,
		EntryPoint:     slices.Clone(c.EntryPoint),
		Command:        slices.Clone(c.Command),
		WorkingDir:     c.WorkingDirectory,
		User:           c.User,
		Hostname:       c.Hostname,
		CPUShares:      uint64(max(c.CPU, 0)),
		ReadonlyRootfs: c.ReadonlyRootFilesystem,
		// The task policies of the cluster and the instance, checked
		// when the task was placed, decide whether it may.
		Privileged: c.Privileged,
	}
	var err error
	if spec.MemoryLimit, err = mibToBytes(c.Memory); err != nil {
		return nil, fmt.Errorf("container %s: memory: %w", c.Name, err)
	}
	if c.MemoryReservation > 0 {
		if spec.MemoryReservation, err = mibToBytes(c.MemoryReservation); err != nil {
			return nil, fmt.Errorf("container %s: memoryReservation: %w", c.Name, err)
		}
	}
	for _, kv := range c.Environment {
		spec.Env = append(spec.Env, kv.Name+"="+kv.Value)
	}
	spec.Env = append(spec.Env, in.secretEnv...)

	spec.Labels = maps.Clone(c.DockerLabels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[LabelTask] = in.taskID
	spec.Labels[LabelContainer] = c.Name
	spec.Labels[LabelCluster] = in.cluster
	spec.Labels[LabelInstance] = in.instance
	spec.Labels[LabelFamily] = in.family

	if in.att != nil {
		if in.att.Mode == network.ModeHost {
			spec.HostNetwork = true
		} else {
			spec.NetNSPath = in.att.NetNSPath
			if spec.Hostname == "" {
				spec.Hostname = TaskHostname(in.def, in.taskID)
			}
		}
		if in.att.HostsPath != "" {
			spec.Mounts = append(spec.Mounts, runtime.Mount{Source: in.att.HostsPath, Destination: "/etc/hosts", ReadOnly: true})
		}
		if in.att.ResolvConfPath != "" {
			spec.Mounts = append(spec.Mounts, runtime.Mount{Source: in.att.ResolvConfPath, Destination: "/etc/resolv.conf", ReadOnly: true})
		}
	}
	mounts, err := volumeMounts(c, in.def, in.volumes)
	if err != nil {
		return nil, err
	}
	spec.Mounts = append(spec.Mounts, mounts...)

	for _, u := range c.Ulimits {
		spec.Ulimits = append(spec.Ulimits, runtime.Ulimit{Name: u.Name, Soft: int64(u.SoftLimit), Hard: int64(u.HardLimit)})
	}
	if lp := c.LinuxParameters; lp != nil {
		spec.Init = lp.InitProcessEnabled
		if lp.Capabilities != nil {
			spec.CapAdd = slices.Clone(lp.Capabilities.Add)
			spec.CapDrop = slices.Clone(lp.Capabilities.Drop)
		}
	}
	// With the "none" log driver nothing is captured, as Docker's driver
	// of that name keeps nothing (the sink is never asked for writers).
	if in.logs != nil && (c.LogConfiguration == nil || c.LogConfiguration.LogDriver != logDriverNone) {
		spec.Stdout, spec.Stderr = in.logs.Writers(in.taskID, c.Name)
	}
	return spec, nil
}

// mibToBytes converts n MiB to bytes. An amount whose bytes do not fit an
// int64 is an error: shifted, 2^44 MiB and more would wrap (2^44+1 MiB to
// a limit of 1 MiB). Validate refuses such amounts; this guards
// definitions that never went through it.
func mibToBytes(n int) (int64, error) {
	if n < 0 || int64(n) > math.MaxInt64>>20 {
		return 0, fmt.Errorf("%d MiB is not an amount of memory this host can limit", n)
	}
	return int64(n) << 20, nil
}

// volumeMounts returns the bind mounts of a container's mountPoints and
// volumesFrom.
func volumeMounts(c *task.ContainerDefinition, def *task.TaskDefinition, volumes map[string]string) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for i, mp := range c.MountPoints {
		src, ok := volumes[mp.SourceVolume]
		if !ok {
			return nil, fmt.Errorf("container %s: mountPoints[%d]: no volume named %q", c.Name, i, mp.SourceVolume)
		}
		out = append(out, runtime.Mount{Source: src, Destination: mp.ContainerPath, ReadOnly: mp.ReadOnly})
	}
	for _, vf := range c.VolumesFrom {
		from := def.Container(vf.SourceContainer)
		if from == nil {
			return nil, fmt.Errorf("container %s: volumesFrom: no container named %q", c.Name, vf.SourceContainer)
		}
		mounts, err := volumeMounts(&task.ContainerDefinition{Name: from.Name, MountPoints: from.MountPoints}, def, volumes)
		if err != nil {
			return nil, err
		}
		for _, m := range mounts {
			m.ReadOnly = m.ReadOnly || vf.ReadOnly
			out = append(out, m)
		}
	}
	return out, nil
}

// taskVolumes maps each volume of def to a host path: the host source path
// when one is given, otherwise a directory of the task under taskDir, or,
// for a docker volume with scope "shared", a directory under sharedDir.
// It also returns the directories the agent must create.
func taskVolumes(def *task.TaskDefinition, taskDir, sharedDir string) (paths map[string]string, create []string) {
	paths = map[string]string{}
	for _, v := range def.Volumes {
		switch {
		case v.Host != nil && v.Host.SourcePath != "":
			paths[v.Name] = v.Host.SourcePath
		case v.DockerVolumeConfiguration != nil && v.DockerVolumeConfiguration.Scope == "shared":
			p := filepath.Join(sharedDir, safeName(v.Name))
			paths[v.Name] = p
			create = append(create, p)
		default:
			p := filepath.Join(taskDir, "volumes", safeName(v.Name))
			paths[v.Name] = p
			create = append(create, p)
		}
	}
	return paths, create
}

// safeName turns s into one path element.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}

// resolveSecrets resolves the container's secrets into KEY=VALUE pairs.
// Errors name the secret and its reference, never a value.
func resolveSecrets(ctx context.Context, r SecretResolver, who secrets.Request, c *task.ContainerDefinition) ([]string, error) {
	if len(c.Secrets) == 0 {
		return nil, nil
	}
	if r == nil {
		return nil, fmt.Errorf("container %s: secrets[0] (%s): %w", c.Name, c.Secrets[0].Name, ErrNoSecretResolver)
	}
	out := make([]string, 0, len(c.Secrets))
	for i, s := range c.Secrets {
		req := who
		req.ValueFrom, req.Registry = s.ValueFrom, ""
		v, err := r.Resolve(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("container %s: secrets[%d] (%s from %s): %w", c.Name, i, s.Name, s.ValueFrom, err)
		}
		out = append(out, s.Name+"="+v)
	}
	return out, nil
}

// registryAuth resolves a container's repositoryCredentials, asking for
// them as credentials for the registry of the container's image. The
// secret holds JSON {"username": ..., "password": ...}, as in ECS, or
// "username:password".
func registryAuth(ctx context.Context, r SecretResolver, who secrets.Request, c *task.ContainerDefinition) (*runtime.Auth, error) {
	if c.RepositoryCredentials == nil || c.RepositoryCredentials.CredentialsParameter == "" {
		return nil, nil
	}
	ref := c.RepositoryCredentials.CredentialsParameter
	if r == nil {
		return nil, fmt.Errorf("container %s: repositoryCredentials (%s): %w", c.Name, ref, ErrNoSecretResolver)
	}
	host, err := registryHost(c.Image)
	if err != nil {
		return nil, fmt.Errorf("container %s: repositoryCredentials (%s): %w", c.Name, ref, err)
	}
	req := who
	req.ValueFrom, req.Registry = ref, host
	v, err := r.Resolve(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("container %s: repositoryCredentials (%s): %w", c.Name, ref, err)
	}
	var cred struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		if err := json.Unmarshal([]byte(v), &cred); err != nil {
			// The JSON error could quote the value: leave it out.
			return nil, fmt.Errorf("container %s: repositoryCredentials (%s): %w", c.Name, ref, errMalformedCredentials)
		}
	} else {
		var ok bool
		cred.Username, cred.Password, ok = strings.Cut(v, ":")
		if !ok {
			return nil, fmt.Errorf("container %s: repositoryCredentials (%s): %w", c.Name, ref, errMalformedCredentials)
		}
	}
	if cred.Username == "" {
		return nil, fmt.Errorf("container %s: repositoryCredentials (%s): %w", c.Name, ref, errMalformedCredentials)
	}
	return &runtime.Auth{Username: cred.Username, Password: cred.Password}, nil
}

// registryHost returns the registry host an image reference pulls from,
// as containerd normalises it (a reference without a host pulls from the
// default registry).
func registryHost(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	return reference.Domain(named), nil
}

var errMalformedCredentials = errors.New(`credentials are neither JSON {"username","password"} nor "username:password"`)

// TaskHostname is the hostname of a task's containers outside host mode:
// the first hostname a container definition sets, or else, as Docker does,
// the first 12 characters of the task ID, so that every task has a name of
// its own that resolves to its address in /etc/hosts.
func TaskHostname(def *task.TaskDefinition, taskID string) string {
	for i := range def.ContainerDefinitions {
		if h := def.ContainerDefinitions[i].Hostname; h != "" {
			return h
		}
	}
	return taskID[:min(12, len(taskID))]
}
