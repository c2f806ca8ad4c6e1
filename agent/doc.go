// Package agent runs the tasks of one container instance: it turns the tasks
// the control plane assigns to its instance into running containers, and
// writes back what it observes. The agent and the control plane never call
// each other; they meet in the store (DESIGN.md, "Principles").
//
// # Running an agent
//
// One agent runs per instance, with the instance's container runtime and
// network provider:
//
//	a, err := agent.New(agent.Config{
//		InstanceID: "i-1",
//		Store:      st,       // the orchestrator's store
//		Runtime:    rt,       // runtime/containerd, or runtime/fake in tests
//		Network:    nw,       // the Linux provider, or network/fake in tests
//		Secrets:    resolver, // optional: secrets and registry credentials
//		Logs:       sink,     // optional: where container output goes
//		Logger:     logger,   // optional
//	})
//	if err != nil {
//		return err // errors.Is(err, agent.ErrInvalidConfig)
//	}
//	err = a.Run(ctx) // until ctx is done
//
// Run returns nil once ctx is done and every goroutine it started has ended.
// It returns an error when it cannot go on (the store failed or closed, the
// runtime could not list containers at start-up); run it again to resume.
// Containers keep running when Run returns: the next Run, of this agent or of
// a new one for the same instance, adopts them. Run marks the instance's agent
// connected when it starts and disconnected when it returns (best effort).
// One Agent runs at most once at a time (ErrAlreadyRunning).
//
// # Task lifecycle
//
// The agent watches the store for the tasks of its instance and drives each
// with one goroutine, through the ECS statuses. It starts from a snapshot of
// every task, keeping its instance's; a store that can give the tasks of one
// instance itself (the store package stevedore gives each of its agents,
// served by one watch of every task for all of them) spares it that
// listing, which a thousand agents starting at once would each make:
//
//   - PROVISIONING: the task's network is set up (network.Provider.Setup with
//     the mode, hostname, port mappings, DNS servers, search domains and extra
//     hosts of the definition). The attachment is stored in the task, and each
//     container's networkBindings are filled from it. Then PENDING.
//   - PENDING: images are made available (with credentials from
//     repositoryCredentials, resolved through the SecretResolver), every
//     container is created and then started in dependsOn order: START waits
//     until the dependency started, COMPLETE until it exited, SUCCESS until it
//     exited with 0, HEALTHY until its health check passed. A dependency that
//     can never be met (SUCCESS of a container that failed, HEALTHY of one
//     that exited), or that is not met within the dependency's startTimeout
//     (Config.StartTimeout, default 3 minutes, when it sets none; counted from
//     the dependency's start), gives the waiting container up: an essential
//     one fails the task, a non-essential one is marked STOPPED with the reason.
//   - ACTIVATING, then RUNNING as soon as every essential container runs.
//     Non-essential containers may exit at any time; an essential container
//     that exits stops the task (stop code EssentialContainerExited).
//   - When the desired status is STOPPED: DEACTIVATING (for a task that was
//     activating or running; the containers keep running while the task's
//     drain holds: until the loops named in the stored drain, which take the
//     task out of its target groups and service discovery, mark it drained,
//     or the drain's deadline passes), STOPPING (each container gets SIGTERM, then
//     SIGKILL after its stopTimeout, 30 s by default; containers stop in
//     reverse dependency order), DEPROVISIONING (containers deleted, network
//     torn down, task volumes removed) and STOPPED. The exit code of every
//     container that ran is recorded.
//
// A failure before RUNNING stops the task with TaskFailedToStart and an
// ECS-like reason, and cleans up what was made:
// "CannotPullContainerError: ...", "CannotCreateContainerError: ...",
// "CannotStartContainerError: ...", "ResourceInitializationError: ..." (network
// set-up, secrets, registry credentials, missing task definition) or
// "DependencyError: ...". The container at fault carries the same reason.
//
// Each container with a healthCheck gets a probe.Monitor. CMD and CMD-SHELL
// commands run in the container; HTTP and TCP checks (["HTTP",
// "http://localhost:8080/healthz"], ["TCP", "8080"]) are dialled by the agent
// from inside the task's network namespace through the network provider's
// network.TaskDialer, so "localhost" is the task's loopback and the image
// needs no curl. With a provider that is no TaskDialer such a check fails
// every time, and the container's reason says why ("HealthCheckError: ...").
// Container health and task health (the worst of the essential containers
// that have a check) are written as they change. The agent does not stop
// unhealthy tasks: the service controller replaces them.
//
// # Containers
//
// Containers are created from their definition: entryPoint, command,
// environment plus resolved secrets, workingDirectory, user, hostname,
// dockerLabels, cpu (CPU shares), memory and memoryReservation (bytes),
// readonlyRootFilesystem, privileged (which the task policies decide: the
// cluster's and the instance's were checked when the task was placed),
// ulimits, linuxParameters capabilities and initProcessEnabled; they join the task's network namespace (or the host's
// in host mode) and get the attachment's hosts and resolv.conf files mounted
// over /etc/hosts and /etc/resolv.conf. Volumes with a host sourcePath are
// bind-mounted from it; other volumes are directories of the task under
// Config.StateDir (docker volumes of scope "shared" live under
// StateDir/volumes and outlive the task); mountPoints and volumesFrom mount
// them. Output goes to the LogSink's writers, whatever the log driver, but
// for "none", which keeps nothing. environmentFiles are not supported: a
// container that has them fails to start. Definition fields the runtime
// cannot express (devices, tmpfs, sysctls) are not applied.
//
// Container IDs are "<taskID>-<container>" when that is a valid containerd ID
// and a cleaned-up, hashed form otherwise (see ContainerID). Every container
// carries the labels LabelTask, LabelContainer, LabelCluster, LabelInstance
// and LabelFamily (family:revision), which the user's dockerLabels cannot
// override.
//
// # Images
//
// Images are pulled (Runtime.EnsureImage) before a task's containers are
// created. Like the ECS agent, the agent removes images its containers no
// longer use (Config.ImageCleanup, on by default with ECS's settings: every
// 30 minutes, at most 5 images, each unused for an hour), least recently
// used first, never the image of a task of the instance that is not
// STOPPED; ImageCleanup.Disabled turns it off. It only removes images it
// pulled or saw the instance's tasks use, and assumes the runtime serves
// this instance alone.
//
// # Secrets
//
// secrets[].valueFrom and repositoryCredentials.credentialsParameter are
// resolved with Config.Secrets when the containers are created. Values go
// into the container's environment (or the pull's credentials) only: they are
// never stored, logged or put in a stop reason. Registry credentials are JSON
// {"username": ..., "password": ...}, as in ECS, or "username:password". A
// container with secrets and no resolver fails to start (ErrNoSecretResolver).
// Every request names the task (cluster, family, executionRoleArn) and, for
// registry credentials, the registry host of the image, so that a resolver
// such as secrets.Scoped refuses a secret the task was not granted (the task
// stops with ResourceInitializationError) and hands credentials only to the
// registry they were issued for.
//
// # The state directory
//
// Volumes without a host sourcePath are directories of the agent:
// StateDir/tasks/<task>/volumes/<volume>, and StateDir/volumes/<volume> for
// docker volumes of scope "shared". Config.StateDir defaults to
// DefaultStateDir: RootStateDir/<instance> (/var/lib/stevedore/agent/...)
// when the agent runs as root, <user cache directory>/stevedore/agent/
// <instance> otherwise; never a world-writable directory such as /tmp, where
// another user could plant a directory or a link first. It persists, so that
// the agent that adopts a task finds its volumes.
//
// The agent uses no disk until a task needs a directory. It creates the
// state directory 0700 (and tightens an existing one to 0700), the
// directories below it 0700 and the volumes themselves 0755. It opens every
// component of every path it mounts from, from "/" down, without following
// symbolic links, and refuses (ErrUnsafeStateDir; the task fails to start
// with a ResourceInitializationError naming the path) a link at or below the
// state directory, a directory there that another user owns, and above it a
// link that another user owns (links of root or of the agent's user are
// followed, as Linux's protected_symlinks does) or a directory that is
// neither root's nor the agent's, or that others may write to without the
// sticky bit. A task's directory is removed
// when the task stops; when Run ends, the agent removes what it made that is
// left empty (empty shared volumes, "tasks", "volumes", and the state
// directory and the directories above it that it created). An agent whose
// tasks have all stopped leaves nothing behind; a task still running keeps
// its directory. A unit test that leaves tasks with volumes running sets
// StateDir to a directory of its own (t.TempDir()). Host sourcePath volumes
// are mounted as given: which host paths a task may name is the task
// policy's concern.
//
// # Who writes what
//
// The control plane creates tasks (PROVISIONING, desired RUNNING, resources
// reserved on the instance) and sets desired STOPPED with a stop code and
// reason. The agent writes everything it observes: lastStatus and its
// timestamps, pull times, containers (status, runtime ID, exit code, reason,
// health, network bindings), task health and the network attachment. When it
// decides itself that a task must stop (an essential container exited, the
// task failed to start) it sets desired STOPPED with its stop code too. In the
// transaction that moves a task to STOPPED it gives the task's reservation
// back to the instance (ContainerInstance.RemoveTask) and sets Released. It
// also keeps the instance's RunningTasksCount and PendingTasksCount (tasks not
// yet RUNNING and not stopping), AgentConnected and EngineOutage (below), and
// its heartbeat (below).
// Every write is a
// compare-and-swap on a copy of the latest stored version, changing only the
// agent's fields.
//
// # What the writes cost
//
// A thousand tasks starting at once are a thousand goroutines writing to the
// store, and every write wakes every watcher: the agent writes as little as
// it can without hiding a status.
//
//   - Every lastStatus a task reaches is written on its own, in order, so
//     that watchers see each one. Changes that need no write of their own go
//     in with the next one: the pull's start with PENDING; the pull's end,
//     the runtime IDs and the containers that started with ACTIVATING (or
//     with whatever the runner writes next, and before it waits for
//     anything). A task that comes up in one go costs three writes.
//   - The writes of an agent's tasks that come together (while one waits
//     for the store, the others queue) share a transaction; each task still
//     gets its own version and event. A batch that fails is written again
//     one task at a time.
//   - The instance's task counts are written once per burst of events, and
//     while tasks are starting at most every 500 ms; counts that settle
//     (no task starting) are written at once.
//
// # Adoption
//
// When Run starts, it lists the runtime's containers labelled with its
// instance. The containers of live tasks (in the store, on this instance, not
// STOPPED) are handed to their tasks: running ones are waited for again and
// their health checks resume from the stored health; exited ones have their
// exit recorded (an essential one stops the task); created ones start when
// their dependencies are met. Nothing is created twice and nothing is
// restarted. A container the store shows RUNNING that is gone from the
// runtime is recorded as STOPPED with the reason "Container <name> vanished
// from the runtime while the agent was away" (which stops the task when it is
// essential). Containers of no live task are removed, and
// network.Provider.Reconcile tears down the networks of tasks that are not
// live: neither on this instance nor, as the store has them when Reconcile
// asks, on another instance sharing the provider. A task half-way through
// starting or stopping carries on from where its stored status says it was.
// Output of adopted containers is not re-attached: the runtime interface has
// no attach.
//
// # Engine outages
//
// Every call to the runtime tells the agent whether its engine answers. A
// call failing with runtime.ErrUnavailable (containerd killed or
// restarting: the containers run on) begins an outage: the agent records
// it on the instance (AgentConnected false, so that placement keeps new
// tasks off it, and ContainerInstance.EngineOutage, since when and why),
// asks the engine every EngineProbeInterval whether it is back, and clears
// both once a call succeeds. Meanwhile nothing is held against the tasks:
// exec health checks that cannot run are inconclusive and leave the health
// as it was (package health), and what the agent has to do to containers
// (start, stop, delete, adopt) waits for the engine instead of failing, so
// that no task is reported STOPPED while its containers may be running. An
// outage is seen through the agent's calls: an instance whose tasks have
// no health checks shows it at its next call (or the next probe of an
// outage already seen).
//
// # Heartbeat
//
// Every write the agent makes to its instance (its task counts, its
// connection, its engine's state) carries its heartbeat
// (state.Instance.HeartbeatAt and HeartbeatInterval), and the agent writes
// one of its own every Config.HeartbeatInterval (DefaultHeartbeatInterval)
// when none did. The control plane's reaper takes an agent silent for
// state.HeartbeatMisses intervals for gone (a process killed with SIGKILL
// or paused says nothing): AgentConnected false and
// ContainerInstance.AgentLost. The agent's next write clears AgentLost and
// connects the instance again, or records its engine's outage again when
// the engine is away. An agent whose engine is away goes on with its
// heartbeat: AgentConnected false with an EngineOutage means "alive, no
// engine", with AgentLost "not heard from".
//
// # Time
//
// The agent uses the time package's clock and timers only, so tests run it
// deterministically inside testing/synctest with runtime/fake, network/fake
// and store/memory.
package agent
