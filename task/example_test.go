package task_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
)

func ExampleParseDefinition() {
	data := []byte(`{
	  "taskDefinition": {
	    "family": "web",
	    "networkMode": "awsvpc",
	    "cpu": "0.5 vCPU",
	    "memory": "1 GB",
	    "containerDefinitions": [{
	      "name": "nginx",
	      "image": "nginx:1.27",
	      "portMappings": [{"containerPort": 80}],
	      "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/"]},
	      "fooBar": true
	    }],
	    "revision": 4
	  },
	  "tags": [{"key": "team", "value": "web"}]
	}`)
	td, warnings, err := task.ParseDefinition(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	fmt.Println(td.Ref(), td.EffectiveNetworkMode(), td.Tags[0].Key)
	cpu, mem := td.Requirements()
	fmt.Printf("reserves %d cpu units and %d MiB\n", cpu, mem)
	hc := td.ContainerDefinitions[0].HealthCheck
	fmt.Println("health check every", hc.Interval(), "timeout", hc.Timeout(), "retries", hc.Retries())
	fmt.Println("valid:", td.Validate() == nil)
	// Output:
	// warning: taskDefinition.containerDefinitions[0].fooBar: unknown field, kept as is
	// web:4 awsvpc team
	// reserves 512 cpu units and 1024 MiB
	// health check every 30s timeout 5s retries 3
	// valid: true
}

func ExampleTaskDefinition_Validate() {
	td, _, _ := task.ParseDefinition([]byte(`{
	  "family": "app",
	  "containerDefinitions": [
	    {"name": "app", "image": "example/app", "memory": 256,
	     "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
	     "healthCheck": {"command": ["CMD", "true"], "interval": 1}},
	    {"name": "db", "image": "postgres:17", "memory": 512,
	     "dependsOn": [{"containerName": "app", "condition": "START"}]}
	  ]
	}`))
	err := td.Validate()
	fmt.Println(errors.Is(err, task.ErrInvalid))
	for _, fe := range errdefs.FieldErrors(err) {
		fmt.Printf("%s: %s\n", fe.Path, fe.Reason)
	}
	// Output:
	// true
	// containerDefinitions[0].dependsOn[0].condition: HEALTHY needs a health check on container "db"
	// containerDefinitions[0].healthCheck.interval: must be between 5 and 300 seconds
	// containerDefinitions[0].dependsOn: dependency cycle: app -> db -> app
}

func ExampleTaskDefinition_StartOrder() {
	td, _, _ := task.ParseDefinition([]byte(`{
	  "family": "app",
	  "containerDefinitions": [
	    {"name": "app", "dependsOn": [{"containerName": "proxy", "condition": "HEALTHY"},
	                                  {"containerName": "migrate", "condition": "SUCCESS"}]},
	    {"name": "proxy"},
	    {"name": "migrate", "essential": false, "dependsOn": [{"containerName": "proxy", "condition": "START"}]}
	  ]
	}`))
	start, _ := td.StartOrder()
	stop, _ := td.StopOrder()
	fmt.Println("start:", start)
	fmt.Println("stop: ", stop)
	// Output:
	// start: [[proxy] [migrate] [app]]
	// stop:  [[app] [migrate] [proxy]]
}

func ExampleParseRef() {
	for _, ref := range []string{
		"web",
		"web:2",
		"arn:aws:ecs:eu-west-1:123456789012:task-definition/web:2",
		"web:latest",
	} {
		family, revision, err := task.ParseRef(ref)
		if err != nil {
			fmt.Println(errors.Is(err, task.ErrInvalid), err)
			continue
		}
		fmt.Println(family, revision)
	}
	// Output:
	// web 0
	// web 2
	// web 2
	// true taskDefinition: revision of "web:latest" must be a positive number
}

func ExampleTask() {
	td := &task.TaskDefinition{
		Family:   "web",
		Revision: 1,
		ContainerDefinitions: []task.ContainerDefinition{
			{Name: "nginx", Image: "nginx:1.27", Memory: 128,
				HealthCheck: &task.HealthCheck{Command: []string{"CMD", "true"}}},
		},
	}
	now := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	t, _ := task.NewTask("cluster/prod/8f2c", td, nil, now)

	_ = t.SetLastStatus(task.Pending, now.Add(time.Second))
	_ = t.SetContainerRunning("nginx")
	_ = t.SetLastStatus(task.Running, now.Add(3*time.Second))
	_ = t.SetContainerHealth("nginx", task.Healthy)
	fmt.Println(t.ID(), t.TaskDefinitionRef(), t.LastStatus, t.HealthStatus, "version", t.Version)

	err := t.SetLastStatus(task.Pending, now.Add(4*time.Second))
	fmt.Println(err)

	_ = t.SetContainerStopped("nginx", new(int), "exited", now.Add(time.Minute))
	fmt.Println(t.DesiredStatus, t.StopCode, t.StoppedReason)
	// Output:
	// 8f2c web:1 RUNNING HEALTHY version 5
	// task 8f2c: illegal status transition RUNNING -> PENDING
	// STOPPED EssentialContainerExited Essential container in task exited
}
