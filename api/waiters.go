package api

import (
	"errors"
	"time"
)

// Errors of the waiters.
var (
	// ErrWaiterFailure means a waiter met a state from which what it waits
	// for cannot come (a task STOPPED while waiting for it to run, a
	// service missing or being deleted).
	ErrWaiterFailure = errors.New("stevedore: waiter state transitioned to failure")
	// ErrWaitTimeout means the wait lasted its maximum without success.
	ErrWaitTimeout = errors.New("stevedore: wait timed out")
)

// WaiterOptions are the delays between a waiter's attempts: the first is
// MinDelay, and each next one doubles, up to MaxDelay.
type WaiterOptions struct {
	MinDelay time.Duration
	MaxDelay time.Duration
}

// Default delays of the waiters (shorter than the SDK's, which poll a
// remote API).
const (
	DefaultWaiterMinDelay = time.Second
	DefaultWaiterMaxDelay = 15 * time.Second
)
