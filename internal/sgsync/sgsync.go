// Package sgsync keeps the security-group policies of tasks (state.Task.Ingress)
// in step with the members of the groups their rules name.
//
// A rule may name a group instead of a prefix ("tcp:5432 from sg-0a1b":
// the tasks in sg-0a1b). A task's policy holds addresses only, so such a
// rule is resolved to the addresses of the group's members when the policy
// is made (Policy, TaskPolicy), and must be made again whenever a member
// comes or goes. A task is a member of its groups from the moment its
// agent reports its network address until it reaches DEPROVISIONING
// (MemberAddr), when its network is torn down and the address goes back to
// the pool: a later task may get it, and must not inherit the access.
//
// Three writers make policies, all with the functions of this package, so
// that they agree: the launch (a new task's policy, in its transaction),
// the API (the tasks of a group whose rules change, in the same
// transaction as the change: Refresh), and the loop Sync, which follows
// the tasks and, when one joins or leaves its groups' members, refreshes
// the tasks whose groups name one of those groups. The agents apply the
// new policies (network.IngressUpdater).
package sgsync

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// Config is what the loop needs. Store is required.
type Config struct {
	// Store holds the tasks and security groups.
	Store store.Store
	// Logger receives the loop's log (default: discard).
	Logger *slog.Logger
}

// Sync is the loop that refreshes the policies of the tasks whose rules
// name a group whose members change.
type Sync struct {
	st  store.Store
	log *slog.Logger
}

// New returns the loop for c.
func New(c Config) (*Sync, error) {
	if c.Store == nil {
		return nil, errors.New("sgsync: Config.Store missing")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sync{st: c.Store, log: c.Logger}, nil
}

// Run follows the tasks. From the snapshot (and after a resync) it
// refreshes every task in a group, which catches up on what changed while
// no loop ran; then, for each batch of changes, it collects the groups
// whose members changed and refreshes the tasks whose groups name one of
// them. It returns when ctx ends, or with the store's error.
func (s *Sync) Run(ctx context.Context) error {
	f, err := store.Follow(ctx, s.st, store.FollowConfig{
		Options: []store.WatchOption{store.WithKinds(state.KindTasks), store.WithFilter(membershipChanged)},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	if err := s.refresh(ctx, nil); err != nil {
		return err
	}
	var buf []store.Event
	for {
		evs, resynced, err := f.Next(ctx, buf[:0])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if resynced {
			if err := s.refresh(ctx, nil); err != nil {
				return err
			}
		}
		changed := map[string]bool{}
		for _, ev := range evs {
			for _, obj := range []store.Object{ev.Prev, ev.Object} {
				if t, ok := obj.(*state.Task); ok {
					for _, id := range t.SecurityGroups {
						changed[id] = true
					}
				}
			}
		}
		clear(evs)
		buf = evs
		if len(changed) > 0 {
			if err := s.refresh(ctx, changed); err != nil {
				return err
			}
		}
	}
}

// membershipChanged reports whether an event changes the members of a
// security group: a task in a group gets or loses its member address.
func membershipChanged(ev store.Event) bool {
	prev, _ := ev.Prev.(*state.Task)
	next, _ := ev.Object.(*state.Task)
	a, wasMember := MemberAddr(prev)
	b, isMember := MemberAddr(next)
	return wasMember != isMember || a != b
}

// refresh gives the tasks whose groups name one of the groups in changed
// (every task in a group, when changed is nil) the policy they are to
// have now.
func (s *Sync) refresh(ctx context.Context, changed map[string]bool) error {
	var written int
	err := s.st.Update(ctx, func(tx store.Tx) error {
		written = 0
		affected := func(*state.Task) bool { return true }
		if changed != nil {
			naming, err := groupsNaming(tx, changed)
			if err != nil || len(naming) == 0 {
				return err
			}
			affected = func(t *state.Task) bool {
				return slices.ContainsFunc(t.SecurityGroups, func(id string) bool { return naming[id] })
			}
		}
		var err error
		written, err = Refresh(tx, affected)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if written > 0 {
		s.log.Debug("security groups: policies refreshed for a change of members", "tasks", written)
	}
	return nil
}

// groupsNaming returns the IDs of the groups whose rules name one of the
// groups in changed.
func groupsNaming(tx store.ReadTx, changed map[string]bool) (map[string]bool, error) {
	groups, err := store.List[*state.SecurityGroup](tx, state.KindSecurityGroups)
	if err != nil {
		return nil, err
	}
	naming := map[string]bool{}
	for _, g := range groups {
		if slices.ContainsFunc(g.ReferencedGroups(), func(id string) bool { return changed[id] }) {
			naming[g.ID] = true
		}
	}
	return naming, nil
}
