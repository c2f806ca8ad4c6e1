// Command customscheduler runs services under a custom scheduler built
// from Stevedore's placement plug-ins, through the Orchestrator:
//
//   - the strategy type "prefer" (a Scorer made a Strategy): among the
//     instances that fit, keep those whose attribute named by the
//     strategy's field is "true", as in {"type": "prefer", "field": "gpu"};
//   - the constraint type "avoid" (a Filter): turn down the instances whose
//     attribute named by the constraint's expression is "true", as in
//     {"type": "avoid", "expression": "maintenance"}, for the reason
//     "avoid:maintenance", which RunTask's failures and the service's
//     events report;
//   - the default placement strategy of the tasks and services that name
//     none: prefer gpu, then binpack on memory (which breaks prefer's ties).
//
// The cluster's five instances run on the fake runtime (runtime/fake), so
// the example needs neither root nor containerd. To run real containers,
// give each instance a containerd runtime (runtime/containerd) and a
// network provider (network/netlinux) in RegisterContainerInstance
// instead, as examples/quickstart does: the scheduler is the same.
//
//	go run ./examples/customscheduler
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// preferAttribute scores instances whose attribute name is "true" highest.
type preferAttribute struct{ name string }

func (p preferAttribute) Name() string { return "prefer(" + p.name + ")" }

func (p preferAttribute) Score(_ *placement.Request, inst *placement.InstanceInfo) (int, *placement.Status) {
	if v, _ := inst.Attribute(p.name); v == "true" {
		return placement.MaxScore, nil
	}
	return placement.MinScore, nil
}

// avoidAttribute turns down instances whose attribute name is "true".
type avoidAttribute struct{ name string }

func (a avoidAttribute) Name() string { return "avoid(" + a.name + ")" }

func (a avoidAttribute) Filter(_ *placement.Request, inst *placement.InstanceInfo) *placement.Status {
	if v, _ := inst.Attribute(a.name); v == "true" {
		return placement.Unfit(placement.Reason("avoid:" + a.name))
	}
	return nil
}

// newScheduler returns the custom scheduler: the strategy type "prefer"
// and the constraint type "avoid", each taking an attribute name.
func newScheduler() (*placement.Scheduler, error) {
	return placement.New(
		placement.WithStrategyType("prefer", func(field string) (placement.Strategy, error) {
			if field == "" {
				return nil, errors.New("names no attribute")
			}
			return placement.ScoreStrategy(preferAttribute{name: field}), nil
		}),
		placement.WithConstraintType("avoid", func(expression string) (placement.Filter, error) {
			if expression == "" {
				return nil, errors.New("names no attribute")
			}
			return avoidAttribute{name: expression}, nil
		}),
	)
}

// gpuFirst is the default placement strategy: GPU instances first, the
// fullest first.
var gpuFirst = []placement.StrategySpec{{Type: "prefer", Field: "gpu"}, placement.Binpack(placement.FieldMemory)}

// instances of the cluster: two GPU instances of different sizes, a
// larger one under maintenance, and two plain ones.
var instances = []struct {
	id     string
	memory int
	attrs  map[string]string
}{
	{"i-plain-small", 2048, nil},
	{"i-gpu-large", 16384, map[string]string{"gpu": "true"}},
	{"i-gpu-small", 4096, map[string]string{"gpu": "true"}},
	{"i-gpu-maint", 32768, map[string]string{"gpu": "true", "maintenance": "true"}},
	{"i-plain-large", 16384, nil},
}

const trainDefinition = `{"family": "train", "containerDefinitions": [
  {"name": "train", "image": "train:1", "cpu": 512, "memory": 2048}]}`

const clusterName = "ml"

// run starts an Orchestrator with the custom scheduler and a cluster of
// fake instances whose agents keep their files under dir, runs the
// service "train" (12 tasks of 2 GiB) and a 16 GiB task, scales the
// service in, and prints where the tasks are.
func run(ctx context.Context, w io.Writer, dir string) error {
	sched, err := newScheduler()
	if err != nil {
		return err
	}
	o, err := stevedore.New(stevedore.WithPlacementScheduler(sched), stevedore.WithDefaultPlacementStrategy(gpuFirst...), stevedore.WithSeed(1))
	if err != nil {
		return err
	}
	defer o.Close()
	if _, err := o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: clusterName}); err != nil {
		return err
	}
	for _, in := range instances {
		rt := fake.New()
		defer rt.Close()
		_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
			Cluster: clusterName, InstanceID: in.id, Attributes: in.attrs,
			Resources: cluster.Resources{CPU: 8192, Memory: in.memory},
			Runtime:   rt, Network: netfake.New(), StateDir: dir + "/" + in.id,
		})
		if err != nil {
			return err
		}
	}
	td, _, err := task.ParseDefinition([]byte(trainDefinition))
	if err != nil {
		return err
	}
	if _, err := o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td}); err != nil {
		return err
	}

	// The service names no strategy: the default places it. It names the
	// custom constraint.
	avoid := []placement.Constraint{{Type: "avoid", Expression: "maintenance"}}
	created, err := o.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: clusterName, ServiceName: "train",
		TaskDefinition: "train", DesiredCount: 12, PlacementConstraints: avoid})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "service train: placementStrategy %v\n", created.Service.PlacementStrategy)
	stable := stevedore.NewServicesStableWaiter(o)
	if err := stable.Wait(ctx, &stevedore.DescribeServicesInput{Cluster: clusterName, Services: []string{"train"}}, 10*time.Minute); err != nil {
		return err
	}
	if err := printTasks(ctx, w, o); err != nil {
		return err
	}

	// A 16 GiB task: only the instance under maintenance has the room.
	big := task.TaskOverride{ContainerOverrides: []task.ContainerOverride{{Name: "train", Memory: new(16384)}}}
	out, err := o.RunTask(ctx, &stevedore.RunTaskInput{Cluster: clusterName, TaskDefinition: "train",
		Overrides: &big, PlacementConstraints: avoid})
	if err != nil {
		return err
	}
	for _, f := range out.Failures {
		fmt.Fprintf(w, "RunTask 16 GiB: %s: %s\n", f.Reason, f.Detail)
	}

	// Scaling in: "prefer" says nothing about which tasks to stop (it
	// implements no placement.StopBalancer), so binpack on memory, the
	// rest of the chain, chooses: it stops tasks from the instances left
	// with the most free memory first.
	desired := 6
	if _, err := o.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: clusterName, Service: "train", DesiredCount: &desired}); err != nil {
		return err
	}
	if err := stable.Wait(ctx, &stevedore.DescribeServicesInput{Cluster: clusterName, Services: []string{"train"}}, 10*time.Minute); err != nil {
		return err
	}
	fmt.Fprintln(w, "scaled in to 6:")
	if err := printTasks(ctx, w, o); err != nil {
		return err
	}
	return nil
}

// printTasks prints how many tasks of the service run on each instance.
func printTasks(ctx context.Context, w io.Writer, o *stevedore.Orchestrator) error {
	arns, err := o.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: clusterName, ServiceName: "train", DesiredStatus: task.Running})
	if err != nil {
		return err
	}
	perInstance := map[string]int{}
	for batch := range slices.Chunk(arns, stevedore.MaxDescribeTasks) {
		out, err := o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: clusterName, Tasks: batch})
		if err != nil {
			return err
		}
		for _, t := range out.Tasks {
			perInstance[t.ContainerInstanceID()]++
		}
	}
	for _, in := range instances {
		fmt.Fprintf(w, "%-14s %2d tasks\n", in.id, perInstance[in.id])
	}
	return nil
}

func main() {
	dir, err := os.MkdirTemp("", "customscheduler-")
	if err != nil {
		log.Fatal(err)
	}
	err = run(context.Background(), os.Stdout, dir)
	_ = os.RemoveAll(dir)
	if err != nil {
		log.Fatal(err)
	}
}
