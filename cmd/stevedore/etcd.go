package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore"
)

// etcdDialTimeout bounds the first connection to etcd.
const etcdDialTimeout = 5 * time.Second

// storeOptions returns the Orchestrator's options for where it keeps its
// state (memory without -etcd or -data-dir), and a function that closes
// what they use, to call once the Orchestrator is closed.
func storeOptions(cfg config, log *slog.Logger) ([]stevedore.Option, func(), error) {
	switch {
	case cfg.Etcd != "" && cfg.DataDir != "":
		return nil, nil, errors.New("data-dir and etcd: give one of them (a data directory is one host's store, etcd the store of several replicas)")
	case cfg.DataDir != "":
		return []stevedore.Option{stevedore.WithDataDir(cfg.DataDir)}, func() {}, nil
	case cfg.Etcd == "":
		return nil, func() {}, nil
	}
	var endpoints []string
	for e := range strings.SplitSeq(cfg.Etcd, ",") {
		if e = strings.TrimSpace(e); e != "" {
			endpoints = append(endpoints, e)
		}
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: etcdDialTimeout, Logger: zap.NewNop()})
	if err != nil {
		return nil, nil, fmt.Errorf("etcd: %w", err)
	}
	opt := stevedore.WithEtcd(client, stevedore.EtcdConfig{
		Prefix: cfg.EtcdPrefix, Name: cfg.ReplicaName, LeaseTTL: time.Duration(cfg.LeaseTTL) * time.Second,
		Notify: func(s stevedore.LeaderStatus) {
			log.Info("leader election", "leading", s.Leading, "leader", s.Leader, "reason", s.Reason)
		},
	})
	return []stevedore.Option{opt}, func() { client.Close() }, nil
}
