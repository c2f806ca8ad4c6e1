// Package chaos runs crash trials of the control plane as a separate
// process: the test behind `make chaos` (20 trials) and its short version
// in `make test` (3).
//
// Run builds nothing itself: it is given a built cmd/stevedore
// (BuildServer), starts it on a new data directory (-data-dir, the bolt
// store) against a containerd (scripts/with-containerd.sh starts a private
// one), with this host registered as a container instance, and drives it
// only through the ECS API on the wire (aws-sdk-go-v2's ecs client). A
// cluster with two services is set up: "web", 4 tasks with rolling
// deployments, and "bg", 2 tasks with LINEAR blue/green deployments over
// two target groups and a listener rule (-target-group, -listener-rule).
// Then each trial, in turn:
//
//   - rolling: web rolls to a new revision;
//   - bluegreen: bg shifts to a new revision;
//   - burst: RunTask and StopTask calls in quick succession (standalone
//     tasks started, service and standalone tasks stopped);
//   - scale: web scales out and back in;
//
// and, at a moment drawn at random along the change, the server is killed
// with SIGKILL and started again on the same data directory, with the same
// instance ID, as an ECS agent coming back. Each trial then checks:
//
//   - the cluster converges to the intended state: each service at its
//     desired count, every task RUNNING on the intended revision, one
//     deployment, PRIMARY and COMPLETED; every task asked to stop STOPPED;
//     the standalone tasks RUNNING or STOPPED with a reason, none half-way;
//   - no task is listed twice, and no container belongs to two tasks;
//   - the host holds exactly the live tasks' containers, containerd tasks
//     and writable snapshots, network namespaces, veths and nftables tables,
//     found with internal/leakcheck scoped to the run's names: nothing
//     orphaned, nothing missing;
//   - the service the trial left alone kept its containers, each with the
//     same process: adopted across the crash, not restarted;
//   - no task's lastStatus went backwards (PROVISIONING ... RUNNING ...
//     STOPPED) and no desiredStatus went from STOPPED back to RUNNING, as
//     an observer polling ListTasks and DescribeTasks every 200 ms saw them
//     all along, across the crashes.
//
// At the end the services are deleted and the standalone tasks stopped;
// the server gets SIGTERM, and nothing of the run may remain: no
// container, snapshot, netns, veth, nftables table, FIFO directory or
// agent task directory (the task network's bridge and host table, which a
// server leaves for its next start, are then removed and checked gone).
// Last, the cgroups runc made for the run's containers are removed; a
// process still in one is killed and noted in driver.log: a server killed
// while containerd created a container can leave that container's "runc
// init" behind, which containerd no longer knows once its container is
// deleted (the server reports the task as failed to start and replaces
// it).
//
// Every choice of a trial (the moment of the crash, counts, the tasks
// stopped) is drawn from the seed, which is printed, and the trial's
// number: Config.Seed replays a run, and Config.Only one trial of it
// (STEVEDORE_CHAOS_SEED and STEVEDORE_CHAOS_TRIAL for the test). The
// moments are real time, so a replay crashes at the same delay, not
// necessarily in the same state. WorkDir keeps the server's log
// (server.log, every run appended) and the driver's (driver.log: the state
// of the services at each crash, and what each wait was waiting for).
//
// # Scenarios
//
// The trials run against a controlPlane. ScenarioBolt (above) is one
// server on a data directory. ScenarioEtcd is three etcd members
// (internal/etcdtest/etcdmember, BuildEtcdMember) and three servers sharing
// them (-etcd, one -etcd-prefix, -lease-ttl 2), each hosting an instance of
// its own (its own containerd namespace, bridge, subnet and name prefix),
// with a 6-task service; during a rolling deployment of it, each trial in
// turn:
//
//   - leader: kills the leading server with SIGKILL (another must lead
//     within 5 s), and starts it again;
//   - member: kills an etcd member, and starts it again on its data;
//   - pause: stops the leader with SIGSTOP past its lease (another must
//     lead within 5 s), then SIGCONT: the old one must say it no longer
//     leads within 5 s (its term ended, so its writes are fenced);
//
// then the same checks as above, over the three instances. The servers'
// logs (server-N.log) say who leads; the run ends with the p50 and max of
// the failovers.
package chaos
