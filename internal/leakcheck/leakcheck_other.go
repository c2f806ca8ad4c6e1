//go:build !linux

package leakcheck

import "context"

func findContainerd(context.Context, Config) ([]Leak, error) { return nil, ErrUnsupported }

func findNetwork(Config) ([]Leak, error) { return nil, ErrUnsupported }
