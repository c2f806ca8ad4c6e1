package agent

import "github.com/stevedore-io/stevedore/network"

// networkReady waits, once the containers are created and before any
// starts, until the task's network forwards traffic. The runner sets up
// the network with Request.DeferReady when the provider is a
// network.Readier, so that this wait overlaps the pull check and the
// creation of the containers instead of coming before them.
func (r *runner) networkReady() error {
	rd, ok := r.a.cfg.Network.(network.Readier)
	if !ok || r.att == nil {
		return nil
	}
	if err := rd.Ready(r.startCtx, r.id); err != nil {
		return failure("", "ResourceInitializationError: waiting for the task network: %v", err)
	}
	return nil
}
