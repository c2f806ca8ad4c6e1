package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Defaults of the image cleanup: the ECS agent's.
const (
	// DefaultImageCleanupInterval is ECS_IMAGE_CLEANUP_INTERVAL's default.
	DefaultImageCleanupInterval = 30 * time.Minute
	// DefaultImageMinimumCleanupAge is ECS_IMAGE_MINIMUM_CLEANUP_AGE's
	// default.
	DefaultImageMinimumCleanupAge = time.Hour
	// DefaultImagesPerCleanup is ECS_NUM_IMAGES_DELETE_PER_CYCLE's default.
	DefaultImagesPerCleanup = 5
)

// ImageCleanup configures the removal of images that the instance's
// containers no longer use, as the ECS agent's automated image cleanup.
// The zero value cleans up with the ECS defaults.
//
// Every Interval, the agent removes up to PerCycle images, least recently
// used first, among those it pulled (or saw a task of the instance use)
// that no container has used for at least MinimumAge. It never removes
// the image of a task of the instance that is not STOPPED, nor one being
// pulled, and the runtime refuses to remove an image while a container made
// from it exists. Images the agent never handled (pulled by hand, say) are
// left alone. The agent assumes that the runtime's images are the
// instance's own: agents sharing one runtime should disable the cleanup.
type ImageCleanup struct {
	// Disabled turns the cleanup off (ECS_IMAGE_CLEANUP_DISABLED).
	Disabled bool
	// Interval is the time between two cleanups
	// (DefaultImageCleanupInterval when zero).
	Interval time.Duration
	// MinimumAge is how long an image must have gone unused, and have
	// been pulled, before it can be removed (DefaultImageMinimumCleanupAge
	// when zero).
	MinimumAge time.Duration
	// PerCycle is the most images one cleanup removes
	// (DefaultImagesPerCleanup when zero).
	PerCycle int
}

// withDefaults returns c with its zero fields set, or an error naming the
// field that is negative.
func (c ImageCleanup) withDefaults() (ImageCleanup, error) {
	switch {
	case c.Interval < 0:
		return c, fmt.Errorf("%w: ImageCleanup.Interval: must not be negative, got %v", ErrInvalidConfig, c.Interval)
	case c.MinimumAge < 0:
		return c, fmt.Errorf("%w: ImageCleanup.MinimumAge: must not be negative, got %v", ErrInvalidConfig, c.MinimumAge)
	case c.PerCycle < 0:
		return c, fmt.Errorf("%w: ImageCleanup.PerCycle: must not be negative, got %d", ErrInvalidConfig, c.PerCycle)
	}
	if c.Interval == 0 {
		c.Interval = DefaultImageCleanupInterval
	}
	if c.MinimumAge == 0 {
		c.MinimumAge = DefaultImageMinimumCleanupAge
	}
	if c.PerCycle == 0 {
		c.PerCycle = DefaultImagesPerCleanup
	}
	return c, nil
}

// imageTracker is the agent's runtime with a record of the images the
// agent pulls: it notes every EnsureImage, so that the cleanup knows when
// each image was last wanted and never removes one being pulled.
type imageTracker struct {
	runtime.Runtime
	cfg ImageCleanup

	// mu is held by EnsureImage while it notes a pull, and by the cleanup
	// across each RemoveImage: a pull begins either before the cleanup
	// looks at its image (which then counts as used now) or after the
	// removal (and pulls the image again).
	mu     sync.Mutex
	images map[string]*trackedImage // by reference as pulled
	seeded bool                     // the images of earlier tasks are tracked
}

type trackedImage struct {
	pulledAt, lastUsed time.Time
	pulling            int
}

// newImageTracker wraps rt; nil when the cleanup is disabled.
func newImageTracker(rt runtime.Runtime, c ImageCleanup) (*imageTracker, error) {
	c, err := c.withDefaults()
	if err != nil || c.Disabled {
		return nil, err
	}
	return &imageTracker{Runtime: rt, cfg: c, images: map[string]*trackedImage{}}, nil
}

// EnsureImage notes that ref is wanted now, then makes it available.
func (t *imageTracker) EnsureImage(ctx context.Context, ref string, auth *runtime.Auth) error {
	t.mu.Lock()
	img := t.track(ref, time.Now())
	img.pulling++
	t.mu.Unlock()
	err := t.Runtime.EnsureImage(ctx, ref, auth)
	t.mu.Lock()
	img.pulling--
	img.lastUsed = time.Now()
	t.mu.Unlock()
	return err
}

// track returns the record of ref, made when missing; t.mu is held.
func (t *imageTracker) track(ref string, now time.Time) *trackedImage {
	img := t.images[ref]
	if img == nil {
		img = &trackedImage{pulledAt: now, lastUsed: now}
		t.images[ref] = img
	}
	return img
}

// run cleans up every Interval until ctx is done.
func (t *imageTracker) run(ctx context.Context, a *Agent) {
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := t.cleanup(ctx, a); err != nil && ctx.Err() == nil {
			a.log.Warn("agent: image cleanup", "err", err)
		}
	}
}

// cleanup is one cycle: it removes up to PerCycle images unused for
// MinimumAge, least recently used first.
func (t *imageTracker) cleanup(ctx context.Context, a *Agent) error {
	used, needed, err := instanceImages(ctx, a.cfg.Store, a.cfg.InstanceID)
	if err != nil {
		return err
	}
	now := time.Now()
	t.mu.Lock()
	if !t.seeded {
		// Images of tasks run before this agent started, once: an image
		// removed since stays forgotten, even while a stopped task of it
		// is still retained.
		for _, ref := range used {
			t.track(ref, now)
		}
		t.seeded = true
	}
	for _, ref := range needed {
		t.track(ref, now).lastUsed = now
	}
	var candidates []string
	for ref, img := range t.images {
		if t.removable(img, now) {
			candidates = append(candidates, ref)
		}
	}
	slices.SortFunc(candidates, func(x, y string) int {
		return cmp.Or(t.images[x].lastUsed.Compare(t.images[y].lastUsed), strings.Compare(x, y))
	})
	t.mu.Unlock()

	removed := 0
	for _, ref := range candidates {
		if removed == t.cfg.PerCycle || ctx.Err() != nil {
			break
		}
		if t.remove(ctx, a, ref) {
			removed++
		}
	}
	return nil
}

// removable says whether img can go: not being pulled, and unused for
// MinimumAge (lastUsed is never before pulledAt). t.mu is held.
func (t *imageTracker) removable(img *trackedImage, now time.Time) bool {
	return img.pulling == 0 && now.Sub(img.lastUsed) >= t.cfg.MinimumAge
}

// remove removes one image if it is still removable, and says whether it
// did.
func (t *imageTracker) remove(ctx context.Context, a *Agent, ref string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	img := t.images[ref]
	now := time.Now()
	if img == nil || !t.removable(img, now) {
		return false // pulled again since the cycle began
	}
	err := t.Runtime.RemoveImage(ctx, ref)
	switch {
	case err == nil:
		delete(t.images, ref)
		a.log.Info("agent: removed unused image", "image", ref, "unused_for", now.Sub(img.lastUsed).Round(time.Second))
		return true
	case errors.Is(err, runtime.ErrNotFound):
		delete(t.images, ref) // gone already
	case errors.Is(err, runtime.ErrInUse):
		img.lastUsed = now // a container not yet deleted
	default:
		a.log.Warn("agent: removing unused image", "image", ref, "err", err)
	}
	return false
}

// instanceImages returns the images of the instance's tasks in the store
// (used) and those of its tasks that are not STOPPED (needed).
func instanceImages(ctx context.Context, st store.Store, instanceID string) (used, needed []string, err error) {
	err = st.View(ctx, func(tx store.ReadTx) error {
		all, err := store.List[*state.Task](tx, state.KindTasks)
		if err != nil {
			return err
		}
		for _, t := range all {
			if t.Task == nil || t.ContainerInstanceID() != instanceID {
				continue
			}
			for _, c := range t.Containers {
				if c.Image == "" {
					continue
				}
				used = append(used, c.Image)
				if t.LastStatus != task.Stopped {
					needed = append(needed, c.Image)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("agent: image cleanup: list tasks: %w", err)
	}
	return used, needed, nil
}
