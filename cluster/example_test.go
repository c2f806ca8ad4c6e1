package cluster_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
)

func ExampleContainerInstance_AddTask() {
	registeredAt := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ci, err := cluster.NewContainerInstance("i-1", cluster.Resources{
		CPU: 2048, Memory: 4096, Ports: []cluster.Port{cluster.TCPPort(22)},
	}, registeredAt)
	if err != nil {
		panic(err)
	}
	web := cluster.Resources{CPU: 1024, Memory: 3072, Ports: []cluster.Port{cluster.TCPPort(80)}}
	fmt.Println(ci.AddTask("service:web", web))
	fmt.Println(ci.Remaining.CPU, ci.Remaining.Memory, ci.Remaining.Ports)

	// A second copy of the task does not fit: nothing is taken.
	err = ci.AddTask("service:web", web)
	var short *cluster.InsufficientResourcesError
	fmt.Println(errors.As(err, &short), short.Resource, errors.Is(err, cluster.ErrInsufficientResources))
	fmt.Println(err)
	fmt.Println(ci.Remaining.CPU, ci.Remaining.Memory, ci.TaskGroups)
	// Output:
	// <nil>
	// 1024 1024 [22/tcp 80/tcp]
	// true MEMORY true
	// cluster: instance i-1: MEMORY: 3072 requested, 1024 available
	// 1024 1024 map[service:web:1]
}

func ExampleCapacityProviderStrategy_Validate() {
	strategy := cluster.CapacityProviderStrategy{
		{CapacityProvider: "on-demand", Base: 2, Weight: 1},
		{CapacityProvider: "spot", Weight: 1001},
	}
	err := strategy.Validate()
	var fe *errdefs.FieldError
	fmt.Println(errors.As(err, &fe), fe.Path)
	fmt.Println(err)
	// Output:
	// true capacityProviderStrategy[1].weight
	// capacityProviderStrategy[1].weight: 1001 must be between 0 and 1000
}
