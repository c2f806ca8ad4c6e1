// Command customscheduler builds a custom scheduler from Stevedore's
// placement plug-ins: it keeps instances out of placement while they are
// under maintenance (a Filter), prefers instances whose attribute gpu is
// "true" (a Scorer), and among those packs tasks by memory (the built-in
// binpack strategy, which breaks the scorer's ties).
//
//	go run ./examples/customscheduler
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/placement"
)

// preferAttribute scores instances carrying an attribute value highest.
type preferAttribute struct {
	name, value string
}

func (p preferAttribute) Name() string { return "prefer-" + p.name + "=" + p.value }

func (p preferAttribute) Score(_ *placement.Request, inst *placement.InstanceInfo) (int, *placement.Status) {
	if v, ok := inst.Attribute(p.name); ok && v == p.value {
		return placement.MaxScore, nil
	}
	return placement.MinScore, nil
}

// notInMaintenance turns down instances whose attribute maintenance is
// "true"; Explain counts them under the reason "Maintenance".
type notInMaintenance struct{}

func (notInMaintenance) Name() string { return "not-in-maintenance" }

func (notInMaintenance) Filter(_ *placement.Request, inst *placement.InstanceInfo) *placement.Status {
	if v, _ := inst.Attribute("maintenance"); v == "true" {
		return placement.Unfit("Maintenance")
	}
	return nil
}

// newScheduler returns the custom scheduler.
func newScheduler() (*placement.Scheduler, error) {
	binpack, err := placement.Binpack(placement.FieldMemory).Strategy()
	if err != nil {
		return nil, err
	}
	return placement.New(
		placement.WithFilters(notInMaintenance{}),
		placement.WithStrategies(placement.ScoreStrategy(preferAttribute{name: "gpu", value: "true"}), binpack),
	)
}

// instances returns a small cluster: two GPU instances of different sizes,
// one of them under maintenance, and two plain ones.
func instances() ([]cluster.ContainerInstance, error) {
	registeredAt := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	specs := []struct {
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
	var out []cluster.ContainerInstance
	for _, s := range specs {
		ci, err := cluster.NewContainerInstance(s.id, cluster.Resources{CPU: 8192, Memory: s.memory}, registeredAt)
		if err != nil {
			return nil, err
		}
		for k, v := range s.attrs {
			ci.SetAttribute(k, v)
		}
		out = append(out, ci)
	}
	return out, nil
}

// run places thirteen 2 GiB tasks and prints where they go, then shows
// why a 16 GiB task finds no room.
func run(w io.Writer) error {
	s, err := newScheduler()
	if err != nil {
		return err
	}
	insts, err := instances()
	if err != nil {
		return err
	}
	round := s.NewRound(insts, 1)
	decisions, err := round.Place(&placement.Request{Task: "train:1", Family: "train", CPU: 512, Memory: 2048}, 13)
	if err != nil {
		return err
	}
	for i, d := range decisions {
		fmt.Fprintf(w, "task %2d -> %s\n", i+1, d.Instance)
	}
	_, err = round.Place(&placement.Request{Task: "train-big:1", Family: "train-big", Memory: 16384}, 1)
	fmt.Fprintln(w, err)
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}
