package placement_test

import (
	"errors"
	"fmt"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
)

// Five tasks of a service spread over availability zones, packed by memory
// within a zone, on m5 instances only, each with a dynamic host port.
func Example() {
	instances := []cluster.ContainerInstance{
		testutil.Instance("i-a1").AZ("us-east-1a").InstanceType("m5.large").Memory(4096).Obj(),
		testutil.Instance("i-a2").AZ("us-east-1a").InstanceType("m5.large").Memory(2048).Obj(),
		testutil.Instance("i-b1").AZ("us-east-1b").InstanceType("m5.large").Memory(4096).Obj(),
		testutil.Instance("i-b2").AZ("us-east-1b").InstanceType("c5.large").Memory(1024).Obj(),
	}
	s, err := placement.New()
	if err != nil {
		panic(err)
	}
	r := s.NewRound(instances, 1)
	decisions, err := r.Place(&placement.Request{
		Task:   "web:3",
		Group:  "service:web",
		CPU:    256,
		Memory: 1024,
		Ports:  []cluster.Port{cluster.TCPPort(0)},
		Constraints: []placement.Constraint{
			{Type: placement.ConstraintMemberOf, Expression: "attribute:ecs.instance-type =~ m5.*"},
		},
		Strategies: []placement.StrategySpec{
			placement.Spread("attribute:ecs.availability-zone"),
			placement.Binpack(placement.FieldMemory),
		},
	}, 5)
	if err != nil {
		panic(err)
	}
	for _, d := range decisions {
		fmt.Println(d.Instance, d.Resources.Ports)
	}
	// Output:
	// i-a2 [49153/tcp]
	// i-b1 [49153/tcp]
	// i-a2 [49154/tcp]
	// i-b1 [49154/tcp]
	// i-b1 [49155/tcp]
}

// When nothing fits, the error counts the instances per reason.
func ExampleNoFitError() {
	instances := []cluster.ContainerInstance{
		testutil.Instance("i-1").Memory(256).Obj(),
		testutil.Instance("i-2").Memory(256).Obj(),
		testutil.Instance("i-3").Memory(8192).Draining().Obj(),
		testutil.Instance("i-4").Memory(8192).Tasks("service:web", 1).Obj(),
	}
	s, _ := placement.New()
	r := s.NewRound(instances, 1)
	_, err := r.Place(&placement.Request{
		Task: "web:3", Group: "service:web", Memory: 512,
		Constraints: []placement.Constraint{{Type: placement.ConstraintDistinctInstance}},
	}, 1)
	fmt.Println(err)
	var nf *placement.NoFitError
	fmt.Println(errors.Is(err, placement.ErrNoFit), errors.As(err, &nf), nf.Reasons[0])
	// Output:
	// placement: no instance fits task web:3: 2 instances: RESOURCE:MEMORY; 1 instance: DRAINING; 1 instance: DistinctInstance
	// true true {RESOURCE:MEMORY 2}
}

// ECS's example: providerA with base 1 and weight 1, providerB with weight
// 4; six tasks go two to A and four to B.
func ExampleSplitCapacity() {
	strategy := cluster.CapacityProviderStrategy{
		{CapacityProvider: "providerA", Base: 1, Weight: 1},
		{CapacityProvider: "providerB", Weight: 4},
	}
	shares, err := placement.SplitCapacity(strategy, 6, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(shares)

	// The service grows by five: the tasks already running count.
	shares, _ = placement.SplitCapacity(strategy, 5, map[string]int{"providerA": 2, "providerB": 4})
	fmt.Println(shares)
	// Output:
	// [{providerA 2} {providerB 4}]
	// [{providerA 1} {providerB 4}]
}

// Explain says why a task would not fit, without placing it.
func ExampleRound_Explain() {
	instances := []cluster.ContainerInstance{
		testutil.Instance("i-1").UsedPorts(cluster.TCPPort(80)).Obj(),
		testutil.Instance("i-2").Obj(),
		testutil.Instance("i-3").Disconnected().Obj(),
	}
	s, _ := placement.New()
	expl, err := s.NewRound(instances, 1).Explain(&placement.Request{Task: "web:3", Ports: []cluster.Port{cluster.TCPPort(80)}})
	if err != nil {
		panic(err)
	}
	fmt.Println(expl)
	// Output:
	// 1 instance: AGENT; 1 instance: RESOURCE:PORTS; 1 instance fits
}
