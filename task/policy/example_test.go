package policy_test

import (
	"fmt"

	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// A baseline policy that allows host volumes under /srv refuses a
// privileged container and a mount of /etc, naming each field.
func ExamplePolicy_Check() {
	td, _, _ := task.ParseDefinition([]byte(`{"family":"tools",
	  "volumes":[{"name":"etc","host":{"sourcePath":"/etc"}}],
	  "containerDefinitions":[{"name":"shell","image":"busybox","memory":32,"privileged":true}]}`))
	p := policy.Policy{Name: "cluster prod", Level: policy.Baseline, HostPaths: []string{"/srv"}}
	fmt.Println(p.Check(td))
	// Output:
	// task definition "tools" breaks task policy "cluster prod" (baseline)
	// 	volumes[0].host.sourcePath: host path "/etc" is not under an allowed prefix (/srv)
	// 	containerDefinitions[0].privileged: privileged containers are not allowed
}
