package agent

import (
	"context"

	"github.com/stevedore-io/stevedore/network"
)

// ingressState is what the runner knows of the ingress policy in force in
// its task's network.
type ingressState struct {
	policy *network.IngressPolicy
	// known is false until the runner set the policy up itself: a task
	// adopted after a restart may have missed a change while no agent ran.
	known bool
}

// syncIngress brings the ingress policy in the task's network up to date
// with the stored task's, which changes when a rule of one of the task's
// security groups does, if the network provider can change it in place
// (network.IngressUpdater). A task in no security group (nil policy) is
// never filtered and never changes. A failure is logged and retried at the
// runner's next turn.
func (r *runner) syncIngress(ctx context.Context) {
	want := r.current().Ingress
	if r.att == nil || want == nil || (r.ingress.known && want.Equal(r.ingress.policy)) {
		return
	}
	up, ok := r.a.cfg.Network.(network.IngressUpdater)
	if !ok {
		return
	}
	var err error
	offStack(func() { err = up.UpdateIngress(ctx, r.id, want) })
	if err != nil {
		r.log.Warn("agent: could not update the task's ingress rules", "err", err)
		return
	}
	r.ingress = ingressState{policy: want, known: true}
	r.log.Info("agent: ingress rules updated", "rules", len(want.Rules))
}
