package stevedore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/logs"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// Example runs a service of two tasks on one instance and reads a task's
// output. The fake runtime and network stand in for runtime/containerd and
// network/netlinux: the same calls run real containers.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "stevedore-example-")
	defer os.RemoveAll(dir)
	logStore, _ := logs.Open(dir)
	defer logStore.Close()
	o, err := stevedore.New(stevedore.WithLogSink(logStore))
	if err != nil {
		panic(err)
	}
	defer o.Close()

	o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "prod"})
	rt := fake.New(fake.WithImage("web:1", fake.Behavior{RunFor: fake.Forever, Stdout: []string{"listening on :8080"}}))
	defer rt.Close()
	_, err = o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster:    "prod",
		Resources:  cluster.Resources{CPU: 2048, Memory: 4096, NetworkSlots: 8},
		Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-a"},
		Runtime:    rt, Network: netfake.New(),
	})
	if err != nil {
		panic(err)
	}

	// The ECS JSON people already have.
	td, _, err := task.ParseDefinition([]byte(`{
		"family": "web", "networkMode": "awsvpc",
		"containerDefinitions": [{"name": "app", "image": "web:1", "memory": 128,
			"portMappings": [{"containerPort": 8080}]}]
	}`))
	if err != nil {
		panic(err)
	}
	reg, _ := o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	if _, err := o.CreateService(ctx, &stevedore.CreateServiceInput{
		Cluster: "prod", ServiceName: "web", TaskDefinition: reg.TaskDefinition.Ref(), DesiredCount: 2,
	}); err != nil {
		panic(err)
	}

	// The service controller and the instance's agent take it from here.
	for range 250 { // bounded: the fake runtime starts tasks at once
		out, err := o.DescribeServices(ctx, &stevedore.DescribeServicesInput{Cluster: "prod", Services: []string{"web"}})
		if err != nil {
			panic(err)
		}
		if svc := out.Services[0]; svc.RunningCount == 2 {
			fmt.Printf("service web: %d tasks running %s\n", svc.RunningCount, svc.TaskDefinition)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	ids, _ := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: "prod", ServiceName: "web"})
	out, err := o.GetLogEvents(ctx, &stevedore.GetLogEventsInput{Cluster: "prod", Task: ids[0], Container: "app"})
	if err != nil {
		panic(err)
	}
	for _, e := range out.Events {
		fmt.Println(e.Stream, e.Message)
	}
	// Output:
	// service web: 2 tasks running web:1
	// stdout listening on :8080
}
