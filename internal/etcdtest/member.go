package etcdtest

import "os"

// memberEnv, set in a process's environment, makes MemberMain run an etcd
// member instead of the tests.
const memberEnv = "STEVEDORE_ETCD_MEMBER"

// IsMember reports whether this process was started as a cluster member
// by StartCluster. A test binary that uses StartCluster checks it first
// thing in TestMain and then calls MemberMain.
func IsMember() bool { return os.Getenv(memberEnv) != "" }

// MemberMain runs the member this process was started as, and exits.
func MemberMain() { os.Exit(1) }
