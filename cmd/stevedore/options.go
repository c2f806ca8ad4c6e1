package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/secrets"
)

// wireFlags binds the flags of the ARNs, the secrets and the logs.
func wireFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.Partition, "partition", cfg.Partition, "partition of the ARNs the API gives out (aws when empty)")
	fs.StringVar(&cfg.Account, "account", cfg.Account, "account of the ARNs the API gives out ("+stevedore.DefaultARNAccount+" when empty); their region is -region's ("+stevedore.DefaultARNRegion+" when empty)")
	fs.StringVar(&cfg.SecretsDir, "secrets-dir", cfg.SecretsDir, "directory of the tasks' secrets, a file each (secrets.Dir); none when empty")
	fs.StringVar(&cfg.LogsDir, "logs-dir", cfg.LogsDir, "directory of the containers' output (<state-dir>/logs with -runtime containerd when empty; none keeps nothing)")
}

// wireOptions returns the Orchestrator's options for the ARNs and the
// logs, the secrets provider of this host's instance (nil without
// -secrets-dir), and a function that closes the log store.
func wireOptions(cfg config) ([]stevedore.Option, secrets.Provider, func(), error) {
	partition, region, account := cfg.Partition, cfg.Region, cfg.Account
	if partition == "" {
		partition = stevedore.DefaultARNPartition
	}
	if region == "" {
		region = stevedore.DefaultARNRegion
	}
	if account == "" {
		account = stevedore.DefaultARNAccount
	}
	opts := []stevedore.Option{stevedore.WithARNs(partition, region, account)}
	var provider secrets.Provider
	if cfg.SecretsDir != "" {
		dir, err := secrets.NewDir(cfg.SecretsDir)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("secrets-dir: %w", err)
		}
		provider = dir
	}
	dir := cfg.LogsDir
	if dir == "" && cfg.Runtime == "containerd" {
		dir = filepath.Join(cfg.StateDir, "logs")
	}
	if dir == "" || dir == "none" {
		return opts, provider, func() {}, nil
	}
	store, err := logs.Open(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("logs-dir: %w", err)
	}
	return append(opts, stevedore.WithLogSink(store)), provider, func() { _ = store.Close() }, nil
}
