package nldump

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// Retries bounds how often Retry calls a dump.
const Retries = 20

// Retry calls dump until it returns something other than
// netlink.ErrDumpInterrupted, at most Retries times, and returns what the
// last call returned.
func Retry[T any](dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range Retries {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}
