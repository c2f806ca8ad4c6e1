// Command stevedore-chaos runs the chaos trials of package chaos: it
// builds cmd/stevedore, starts it on a new data directory against the
// containerd at $STEVEDORE_CONTAINERD_ADDRESS, kills it with SIGKILL at
// random moments along deployments, scaling, blue/green shifts and task
// bursts, restarts it, and checks each outcome. It prints one line per
// trial and ends with "chaos: N/M trials passed"; it exits 1 when a trial
// failed. As root, through scripts/with-containerd.sh:
//
//	./scripts/with-containerd.sh go run ./internal/chaos/cmd/stevedore-chaos -trials 20
//
// -seed (or STEVEDORE_CHAOS_SEED) replays a run; with -trial, one trial of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/stevedore-io/stevedore/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		if !errors.Is(err, chaos.ErrFailed) {
			fmt.Fprintln(os.Stderr, "stevedore-chaos:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	seed, _ := strconv.ParseUint(os.Getenv("STEVEDORE_CHAOS_SEED"), 10, 64)
	trials := flag.Int("trials", chaos.DefaultTrials, "how many trials")
	flag.Uint64Var(&seed, "seed", seed, "seed of the trials' choices (0: a new one, printed)")
	only := flag.Int("trial", 0, "run only this trial (from 1) of the seed's sequence")
	keep := flag.Bool("keep", false, "keep the work directory (the data directory and the server's log)")
	scenario := flag.String("scenario", chaos.ScenarioBolt, "bolt (one server on a data directory) or etcd (three servers on three etcd members)")
	flag.Parse()
	addr := os.Getenv("STEVEDORE_CONTAINERD_ADDRESS")
	if addr == "" {
		return errors.New("STEVEDORE_CONTAINERD_ADDRESS is not set: run through ./scripts/with-containerd.sh, as root")
	}
	work, err := os.MkdirTemp("", "stevedore-chaos-")
	if err != nil {
		return err
	}
	server, err := chaos.BuildServer(ctx, os.Getenv("GO"), work)
	if err != nil {
		return err
	}
	var member string
	if *scenario == chaos.ScenarioEtcd {
		if member, err = chaos.BuildEtcdMember(ctx, os.Getenv("GO"), work); err != nil {
			return err
		}
	}
	_, err = chaos.Run(ctx, chaos.Config{
		Server: server, ContainerdAddress: addr, WorkDir: work,
		Trials: *trials, Seed: seed, Only: *only, Out: os.Stdout,
		Scenario: *scenario, EtcdMember: member,
	})
	if err == nil && !*keep {
		return os.RemoveAll(work)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stevedore-chaos: the work directory is kept:", work)
	}
	return err
}
