package task

import (
	"encoding/json"
	"time"
)

// NetworkMode is a task definition's networkMode.
type NetworkMode string

// Network modes. An empty NetworkMode means NetworkBridge, as in ECS on EC2.
const (
	NetworkAWSVPC NetworkMode = "awsvpc"
	NetworkBridge NetworkMode = "bridge"
	NetworkHost   NetworkMode = "host"
	NetworkNone   NetworkMode = "none"
)

// Protocol is the transport protocol of a port mapping.
type Protocol string

// Port mapping protocols. An empty Protocol means ProtocolTCP.
const (
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// DependencyCondition is the condition of a dependsOn entry.
type DependencyCondition string

// Dependency conditions, as in ECS.
const (
	// ConditionStart waits until the dependency has started.
	ConditionStart DependencyCondition = "START"
	// ConditionComplete waits until the dependency has exited, whatever
	// its exit code. It cannot target an essential container.
	ConditionComplete DependencyCondition = "COMPLETE"
	// ConditionSuccess waits until the dependency has exited with code 0.
	// It cannot target an essential container.
	ConditionSuccess DependencyCondition = "SUCCESS"
	// ConditionHealthy waits until the dependency's health check passes.
	// The dependency must have a health check.
	ConditionHealthy DependencyCondition = "HEALTHY"
)

// DefinitionStatus is the status of a registered task definition revision.
type DefinitionStatus string

// Task definition statuses.
const (
	DefinitionActive   DefinitionStatus = "ACTIVE"
	DefinitionInactive DefinitionStatus = "INACTIVE"
)

// LogDriverStevedore is the log driver name of Stevedore's own local log
// store. It is accepted by Validate next to the ECS log drivers.
const LogDriverStevedore = "stevedore"

// TaskDefinition is an ECS task definition: the blueprint of a task. Its JSON
// form is the one of the ECS API (see ParseDefinition).
//
// The fields under "Set by the registry" are output-only: they are filled in
// when the definition is registered (Orchestrator.RegisterTaskDefinition),
// or kept from describe-task-definition output, and ignored by Validate.
type TaskDefinition struct {
	Family                  string                `json:"family,omitempty"`
	TaskRoleARN             string                `json:"taskRoleArn,omitempty"`
	ExecutionRoleARN        string                `json:"executionRoleArn,omitempty"`
	NetworkMode             NetworkMode           `json:"networkMode,omitempty"`
	ContainerDefinitions    []ContainerDefinition `json:"containerDefinitions,omitempty"`
	Volumes                 []Volume              `json:"volumes,omitempty"`
	PlacementConstraints    []PlacementConstraint `json:"placementConstraints,omitempty"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities,omitempty"`
	// CPU is the task-level cpu: "256", "1 vCPU" or a JSON number.
	CPU CPU `json:"cpu,omitempty"`
	// Memory is the task-level memory: "512", "1 GB" or a JSON number.
	Memory          Memory           `json:"memory,omitempty"`
	PIDMode         string           `json:"pidMode,omitempty"`
	IPCMode         string           `json:"ipcMode,omitempty"`
	Tags            []Tag            `json:"tags,omitempty"`
	RuntimePlatform *RuntimePlatform `json:"runtimePlatform,omitempty"`

	// Set by the registry.
	TaskDefinitionARN  string           `json:"taskDefinitionArn,omitempty"`
	Revision           int              `json:"revision,omitempty"`
	Status             DefinitionStatus `json:"status,omitempty"`
	RequiresAttributes []Attribute      `json:"requiresAttributes,omitempty"`
	Compatibilities    []string         `json:"compatibilities,omitempty"`
	RegisteredAt       time.Time        `json:"registeredAt,omitzero"`
	RegisteredBy       string           `json:"registeredBy,omitempty"`
	DeregisteredAt     time.Time        `json:"deregisteredAt,omitzero"`

	// Extra holds the JSON members this package does not model, raw and
	// keyed by name, so that they survive a parse and marshal round trip.
	// Every struct of the definition has such a field. When marshalling, a
	// member of Extra named like a field of the struct is left out: the
	// field wins.
	Extra map[string]json.RawMessage `json:"-"`
}

// ContainerDefinition describes one container of a task definition.
type ContainerDefinition struct {
	Name                  string                 `json:"name,omitempty"`
	Image                 string                 `json:"image,omitempty"`
	RepositoryCredentials *RepositoryCredentials `json:"repositoryCredentials,omitempty"`
	// CPU is the number of cpu units reserved for the container.
	CPU int `json:"cpu,omitempty"`
	// Memory is the hard memory limit in MiB; 0 means none.
	Memory int `json:"memory,omitempty"`
	// MemoryReservation is the soft memory limit in MiB; 0 means none.
	MemoryReservation int           `json:"memoryReservation,omitempty"`
	Links             []string      `json:"links,omitempty"`
	PortMappings      []PortMapping `json:"portMappings,omitempty"`
	// Essential is true when omitted; see IsEssential.
	Essential        *bool                 `json:"essential,omitempty"`
	EntryPoint       []string              `json:"entryPoint,omitempty"`
	Command          []string              `json:"command,omitempty"`
	Environment      []KeyValuePair        `json:"environment,omitempty"`
	EnvironmentFiles []EnvironmentFile     `json:"environmentFiles,omitempty"`
	MountPoints      []MountPoint          `json:"mountPoints,omitempty"`
	VolumesFrom      []VolumeFrom          `json:"volumesFrom,omitempty"`
	LinuxParameters  *LinuxParameters      `json:"linuxParameters,omitempty"`
	Secrets          []Secret              `json:"secrets,omitempty"`
	DependsOn        []ContainerDependency `json:"dependsOn,omitempty"`
	// StartTimeoutSeconds is how long to wait for dependencies to be met
	// before giving up on the container; see StartTimeout.
	StartTimeoutSeconds *int `json:"startTimeout,omitempty"`
	// StopTimeoutSeconds is the grace period between SIGTERM and SIGKILL;
	// see StopTimeout.
	StopTimeoutSeconds     *int                   `json:"stopTimeout,omitempty"`
	Hostname               string                 `json:"hostname,omitempty"`
	User                   string                 `json:"user,omitempty"`
	WorkingDirectory       string                 `json:"workingDirectory,omitempty"`
	DisableNetworking      bool                   `json:"disableNetworking,omitempty"`
	Privileged             bool                   `json:"privileged,omitempty"`
	ReadonlyRootFilesystem bool                   `json:"readonlyRootFilesystem,omitempty"`
	DNSServers             []string               `json:"dnsServers,omitempty"`
	DNSSearchDomains       []string               `json:"dnsSearchDomains,omitempty"`
	ExtraHosts             []HostEntry            `json:"extraHosts,omitempty"`
	DockerLabels           map[string]string      `json:"dockerLabels,omitempty"`
	Ulimits                []Ulimit               `json:"ulimits,omitempty"`
	LogConfiguration       *LogConfiguration      `json:"logConfiguration,omitempty"`
	HealthCheck            *HealthCheck           `json:"healthCheck,omitempty"`
	SystemControls         []SystemControl        `json:"systemControls,omitempty"`
	ResourceRequirements   []ResourceRequirement  `json:"resourceRequirements,omitempty"`
	FirelensConfiguration  *FirelensConfiguration `json:"firelensConfiguration,omitempty"`
	Interactive            bool                   `json:"interactive,omitempty"`
	PseudoTerminal         bool                   `json:"pseudoTerminal,omitempty"`

	// Extra holds unmodelled JSON members; see TaskDefinition.Extra.
	Extra map[string]json.RawMessage `json:"-"`
}

// RepositoryCredentials names the secret holding private registry
// credentials.
type RepositoryCredentials struct {
	CredentialsParameter string                     `json:"credentialsParameter,omitempty"`
	Extra                map[string]json.RawMessage `json:"-"`
}

// PortMapping publishes a container port.
type PortMapping struct {
	ContainerPort int `json:"containerPort,omitempty"`
	// HostPort 0 means: the same as ContainerPort in awsvpc and host mode,
	// a dynamic host port in bridge mode.
	HostPort    int                        `json:"hostPort,omitempty"`
	Protocol    Protocol                   `json:"protocol,omitempty"`
	Name        string                     `json:"name,omitempty"`
	AppProtocol string                     `json:"appProtocol,omitempty"`
	Extra       map[string]json.RawMessage `json:"-"`
}

// KeyValuePair is one environment variable.
type KeyValuePair struct {
	Name  string                     `json:"name,omitempty"`
	Value string                     `json:"value,omitempty"`
	Extra map[string]json.RawMessage `json:"-"`
}

// EnvironmentFile is a file of environment variables to load.
type EnvironmentFile struct {
	Value string                     `json:"value,omitempty"`
	Type  string                     `json:"type,omitempty"`
	Extra map[string]json.RawMessage `json:"-"`
}

// MountPoint mounts a task volume into a container.
type MountPoint struct {
	SourceVolume  string                     `json:"sourceVolume,omitempty"`
	ContainerPath string                     `json:"containerPath,omitempty"`
	ReadOnly      bool                       `json:"readOnly,omitempty"`
	Extra         map[string]json.RawMessage `json:"-"`
}

// VolumeFrom mounts all volumes of another container of the task.
type VolumeFrom struct {
	SourceContainer string                     `json:"sourceContainer,omitempty"`
	ReadOnly        bool                       `json:"readOnly,omitempty"`
	Extra           map[string]json.RawMessage `json:"-"`
}

// LinuxParameters are Linux-specific container settings.
type LinuxParameters struct {
	Capabilities       *KernelCapabilities `json:"capabilities,omitempty"`
	Devices            []Device            `json:"devices,omitempty"`
	InitProcessEnabled bool                `json:"initProcessEnabled,omitempty"`
	// SharedMemorySize is the size of /dev/shm in MiB.
	SharedMemorySize int     `json:"sharedMemorySize,omitempty"`
	Tmpfs            []Tmpfs `json:"tmpfs,omitempty"`
	// MaxSwap is the swap the container may use, in MiB; nil means the
	// instance default and 0 means no swap.
	MaxSwap *int `json:"maxSwap,omitempty"`
	// Swappiness is 0 to 100; nil means the default (60).
	Swappiness *int                       `json:"swappiness,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
}

// KernelCapabilities adds and drops Linux capabilities, named without the
// CAP_ prefix ("NET_ADMIN").
type KernelCapabilities struct {
	Add   []string                   `json:"add,omitempty"`
	Drop  []string                   `json:"drop,omitempty"`
	Extra map[string]json.RawMessage `json:"-"`
}

// Device exposes a host device to a container.
type Device struct {
	HostPath      string                     `json:"hostPath,omitempty"`
	ContainerPath string                     `json:"containerPath,omitempty"`
	Permissions   []string                   `json:"permissions,omitempty"`
	Extra         map[string]json.RawMessage `json:"-"`
}

// Tmpfs is a tmpfs mount. Size is in MiB.
type Tmpfs struct {
	ContainerPath string                     `json:"containerPath,omitempty"`
	Size          int                        `json:"size,omitempty"`
	MountOptions  []string                   `json:"mountOptions,omitempty"`
	Extra         map[string]json.RawMessage `json:"-"`
}

// Secret is an environment variable (or log option) whose value comes from
// the secrets provider.
type Secret struct {
	Name      string                     `json:"name,omitempty"`
	ValueFrom string                     `json:"valueFrom,omitempty"`
	Extra     map[string]json.RawMessage `json:"-"`
}

// ContainerDependency is one dependsOn entry.
type ContainerDependency struct {
	ContainerName string                     `json:"containerName,omitempty"`
	Condition     DependencyCondition        `json:"condition,omitempty"`
	Extra         map[string]json.RawMessage `json:"-"`
}

// HostEntry is one /etc/hosts line.
type HostEntry struct {
	Hostname  string                     `json:"hostname,omitempty"`
	IPAddress string                     `json:"ipAddress,omitempty"`
	Extra     map[string]json.RawMessage `json:"-"`
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name      string                     `json:"name,omitempty"`
	SoftLimit int                        `json:"softLimit"`
	HardLimit int                        `json:"hardLimit"`
	Extra     map[string]json.RawMessage `json:"-"`
}

// LogConfiguration selects a container's log driver.
type LogConfiguration struct {
	LogDriver     string                     `json:"logDriver,omitempty"`
	Options       map[string]string          `json:"options,omitempty"`
	SecretOptions []Secret                   `json:"secretOptions,omitempty"`
	Extra         map[string]json.RawMessage `json:"-"`
}

// HealthCheck is a container health check. A zero duration or count means
// the ECS default; see Interval, Timeout, Retries and StartPeriod.
type HealthCheck struct {
	// Command starts with "CMD" (exec form) or "CMD-SHELL" (one shell
	// string), run in the container, or with one of Stevedore's network
	// checks, run by the agent from inside the task's network namespace
	// (so that the image needs no curl): "HTTP" followed by a URL
	// (http://localhost:8080/healthz) and optionally the statuses that
	// pass ("200-399", the default), or "TCP" followed by "port" or
	// "host:port". Interval, timeout, retries and startPeriod apply alike.
	Command            []string                   `json:"command,omitempty"`
	IntervalSeconds    int                        `json:"interval,omitempty"`
	TimeoutSeconds     int                        `json:"timeout,omitempty"`
	RetryCount         int                        `json:"retries,omitempty"`
	StartPeriodSeconds int                        `json:"startPeriod,omitempty"`
	Extra              map[string]json.RawMessage `json:"-"`
}

// SystemControl is one namespaced kernel parameter (sysctl).
type SystemControl struct {
	Namespace string                     `json:"namespace,omitempty"`
	Value     string                     `json:"value,omitempty"`
	Extra     map[string]json.RawMessage `json:"-"`
}

// ResourceRequirement reserves a special resource (GPU) for a container.
type ResourceRequirement struct {
	Type  string                     `json:"type,omitempty"`
	Value string                     `json:"value,omitempty"`
	Extra map[string]json.RawMessage `json:"-"`
}

// FirelensConfiguration marks a container as the task's log router.
type FirelensConfiguration struct {
	Type    string                     `json:"type,omitempty"`
	Options map[string]string          `json:"options,omitempty"`
	Extra   map[string]json.RawMessage `json:"-"`
}

// Volume is a task-level volume that containers mount by name.
type Volume struct {
	Name                      string                     `json:"name,omitempty"`
	Host                      *HostVolumeProperties      `json:"host,omitempty"`
	DockerVolumeConfiguration *DockerVolumeConfiguration `json:"dockerVolumeConfiguration,omitempty"`
	Extra                     map[string]json.RawMessage `json:"-"`
}

// HostVolumeProperties bind-mounts a host path. An empty SourcePath gives
// a task-scoped scratch directory.
type HostVolumeProperties struct {
	SourcePath string                     `json:"sourcePath,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
}

// DockerVolumeConfiguration is a volume managed by a volume driver.
type DockerVolumeConfiguration struct {
	// Scope is "task" (default) or "shared".
	Scope         string                     `json:"scope,omitempty"`
	Autoprovision bool                       `json:"autoprovision,omitempty"`
	Driver        string                     `json:"driver,omitempty"`
	DriverOpts    map[string]string          `json:"driverOpts,omitempty"`
	Labels        map[string]string          `json:"labels,omitempty"`
	Extra         map[string]json.RawMessage `json:"-"`
}

// PlacementConstraint is a task definition's placement constraint. Only
// "memberOf" is allowed in a task definition; the expression uses the
// cluster query language, which the placement package parses.
type PlacementConstraint struct {
	Type       string                     `json:"type,omitempty"`
	Expression string                     `json:"expression,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
}

// Tag is a key and value pair attached to a task definition.
type Tag struct {
	Key   string                     `json:"key,omitempty"`
	Value string                     `json:"value,omitempty"`
	Extra map[string]json.RawMessage `json:"-"`
}

// RuntimePlatform names the operating system and architecture a task
// needs.
type RuntimePlatform struct {
	CPUArchitecture       string                     `json:"cpuArchitecture,omitempty"`
	OperatingSystemFamily string                     `json:"operatingSystemFamily,omitempty"`
	Extra                 map[string]json.RawMessage `json:"-"`
}

// Instance attributes a runtime platform implies, and their values, as ECS
// sets them on instances.
const (
	attributeCPUArchitecture = "ecs.cpu-architecture"
	attributeOSType          = "ecs.os-type"
)

// PlatformAttributes are the instance attributes the definition's
// runtimePlatform requires, name to value, as ECS places such a task only
// on a matching instance: ecs.cpu-architecture x86_64 or arm64 for
// cpuArchitecture X86_64 or ARM64, ecs.os-type linux for
// operatingSystemFamily LINUX. Nil without a runtime platform.
func (td *TaskDefinition) PlatformAttributes() map[string]string {
	rp := td.RuntimePlatform
	if rp == nil {
		return nil
	}
	out := map[string]string{}
	switch rp.CPUArchitecture {
	case "X86_64":
		out[attributeCPUArchitecture] = "x86_64"
	case "ARM64":
		out[attributeCPUArchitecture] = "arm64"
	}
	if rp.OperatingSystemFamily == "LINUX" {
		out[attributeOSType] = "linux"
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Attribute is an instance attribute a task definition requires
// (describe output's requiresAttributes).
type Attribute struct {
	Name       string                     `json:"name,omitempty"`
	Value      string                     `json:"value,omitempty"`
	TargetType string                     `json:"targetType,omitempty"`
	TargetID   string                     `json:"targetId,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
}
