package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg := defaultConfig()
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the service running after the roll-out, until Ctrl-C")
	verbose := flag.Bool("v", false, "log what Stevedore does (to stderr)")
	subnet := flag.String("subnet", cfg.Subnet.String(), "IPv4 subnet the tasks' addresses come from")
	flag.StringVar(&cfg.Bridge, "bridge", cfg.Bridge, "name of the Linux bridge standing for the subnet")
	flag.StringVar(&cfg.NamePrefix, "prefix", cfg.NamePrefix, "prefix of the tasks' namespaces, veths and nftables tables (1-7 characters)")
	flag.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the load balancer's HTTP listener (port 0: any free port)")
	flag.IntVar(&cfg.Requests, "requests", cfg.Requests, "HTTP requests sent to each task per round of traffic")
	flag.Parse()

	var err error
	if cfg.Subnet, err = netip.ParsePrefix(*subnet); err != nil {
		fmt.Fprintf(os.Stderr, "quickstart: -subnet: %v\n", err)
		os.Exit(2)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		cfg.Terminal = true
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// From now on a second Ctrl-C ends the process at once, clean-up
		// or not.
		stop()
	}()
	err = run(ctx, cfg, os.Stdout)
	switch {
	case err == nil:
		fmt.Println("\nQuickstart finished.")
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(os.Stderr, "\nquickstart: interrupted: %v\n", err)
		os.Exit(130)
	default:
		fmt.Fprintf(os.Stderr, "\nquickstart FAILED: %v\n", err)
		os.Exit(1)
	}
}
