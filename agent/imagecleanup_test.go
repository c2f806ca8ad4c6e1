package agent_test

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/task"
)

// imageDef is a one-container task definition of family f running image.
func imageDef(family, image string) string {
	return fmt.Sprintf(`{"family": %q, "networkMode": "awsvpc", "containerDefinitions": [
		{"name": "app", "image": %q, "memory": 64, "command": ["sleep", "infinity"]}]}`, family, image)
}

// runImage runs a task of image (a family of its own) as task id.
func (e *env) runImage(id, image string) {
	e.t.Helper()
	e.runTask(e.register(imageDef(id, image)), id)
}

// removals returns the images RemoveImage removed, in order, with the time
// of each.
func (e *env) removals() (refs []string, at []time.Time) {
	for _, c := range e.rt.CallsTo(fake.MethodRemoveImage) {
		if c.Err == nil {
			refs = append(refs, c.Ref)
			at = append(at, c.Time)
		}
	}
	return refs, at
}

func TestImageCleanupRemovesImagesUnusedForTheMinimumAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.cfg.ImageCleanup = agent.ImageCleanup{Interval: 10 * time.Minute, MinimumAge: time.Hour, PerCycle: 2}
		for _, id := range []string{"early", "a", "b", "d", "keep"} {
			e.runImage(id, id+":1")
		}
		e.start()
		advance(time.Second)
		for _, id := range []string{"early", "a", "b", "d", "keep"} {
			require.Equal(t, task.Running, e.task(id).LastStatus, id)
		}

		e.stopTask("early", "")
		advance(30 * time.Minute)
		refs, _ := e.removals()
		assert.Empty(t, refs, "nothing unused for an hour yet")
		e.stopTask("a", "")
		e.stopTask("b", "")
		e.stopTask("d", "")
		advance(40 * time.Minute)
		refs, _ = e.removals()
		assert.Equal(t, []string{"early:1"}, refs, "unused for an hour")

		advance(time.Hour)
		refs, at := e.removals()
		assert.Equal(t, []string{"early:1", "a:1", "b:1", "d:1"}, refs, "least recently used first")
		require.Len(t, at, 4)
		assert.Less(t, at[0], at[1], "early:1 a cycle before the others")
		assert.Equal(t, at[1], at[2], "a:1 and b:1 in one cycle")
		assert.Equal(t, 10*time.Minute, at[3].Sub(at[2]), "d:1 in the next: two a cycle")
		assert.Equal(t, []string{"keep:1"}, e.rt.Images(), "the running task's image stays")
		assert.Empty(t, slices.DeleteFunc(e.rt.CallsTo(fake.MethodRemoveImage), func(c fake.Call) bool { return c.Ref != "keep:1" }),
			"no removal of a running task's image was even tried")

		// A removed image is pulled again when a task needs it.
		e.runImage("again", "a:1")
		advance(time.Second)
		assert.Equal(t, task.Running, e.task("again").LastStatus)
		assert.Equal(t, 2, count(e.rt.Pulls(), "a:1"))
	})
}

func count(refs []string, ref string) int {
	n := 0
	for _, r := range refs {
		if r == ref {
			n++
		}
	}
	return n
}

// TestImageCleanupNeverRemovesANeededImage: an image shared with a running
// task, and an image being pulled for a pending task, stay however long
// they were unused by others.
func TestImageCleanupNeverRemovesANeededImage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fake.WithImage("slow:1", fake.Behavior{PullDelay: 5 * time.Hour}))
		e.cfg.ImageCleanup = agent.ImageCleanup{Interval: time.Minute, MinimumAge: 10 * time.Minute}
		e.runImage("old", "shared:1")
		e.runImage("old-slow", "slow:1")
		e.start()
		advance(time.Second)
		e.runImage("current", "shared:1")
		advance(time.Second)
		require.Equal(t, task.Running, e.task("current").LastStatus)
		e.stopTask("old", "")
		e.stopTask("old-slow", "") // its image is still being pulled
		advance(time.Minute)

		// A new task of the slow image is pending on the same pull.
		e.runImage("pending", "slow:1")
		advance(4 * time.Hour)
		assert.Equal(t, task.Pending, e.task("pending").LastStatus)
		assert.Empty(t, e.rt.CallsTo(fake.MethodRemoveImage), "neither the running task's image nor the one being pulled")

		advance(2 * time.Hour)
		assert.Equal(t, task.Running, e.task("pending").LastStatus)
		assert.Empty(t, e.rt.CallsTo(fake.MethodRemoveImage))
	})
}

// TestImageCleanupAfterARestart: the images of tasks that stopped before
// the agent started are cleaned up too.
func TestImageCleanupAfterARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.cfg.ImageCleanup = agent.ImageCleanup{Interval: 10 * time.Minute, MinimumAge: time.Hour}
		e.runImage("t1", "web:1")
		first := e.start()
		advance(time.Second)
		e.stopTask("t1", "")
		advance(time.Minute)
		require.Equal(t, task.Stopped, e.task("t1").LastStatus)
		require.NoError(t, first.stop())

		e.start()
		advance(50 * time.Minute)
		refs, _ := e.removals()
		assert.Empty(t, refs, "unused for an hour counts from the new agent's first look")
		advance(30 * time.Minute)
		refs, _ = e.removals()
		assert.Equal(t, []string{"web:1"}, refs)
	})
}

func TestImageCleanupDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.cfg.ImageCleanup = agent.ImageCleanup{Disabled: true, Interval: time.Minute, MinimumAge: time.Minute}
		e.runImage("t1", "web:1")
		e.start()
		advance(time.Second)
		e.stopTask("t1", "")
		advance(3 * time.Hour)
		assert.Empty(t, e.rt.CallsTo(fake.MethodRemoveImage))
		assert.Equal(t, []string{"web:1"}, e.rt.Images())
	})
}

func TestImageCleanupConfig(t *testing.T) {
	t.Parallel()
	for field, c := range map[string]agent.ImageCleanup{
		"Interval":   {Interval: -time.Second},
		"MinimumAge": {MinimumAge: -time.Second},
		"PerCycle":   {PerCycle: -1},
	} {
		e := newEnv(t)
		e.cfg.ImageCleanup = c
		_, err := agent.New(e.cfg)
		require.ErrorIs(t, err, agent.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "ImageCleanup."+field)
	}
}
