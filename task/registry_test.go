package task_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/task"
)

// fakeClock is a clock tests advance by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRegistryRegister(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	r := task.NewRegistry(clock.Now)

	td := webDef()
	td.Revision, td.Status, td.TaskDefinitionARN = 41, task.DefinitionInactive, "arn:aws:ecs:x:1:task-definition/web:41"
	first, err := r.Register(td)
	require.NoError(t, err)
	assert.Equal(t, 1, first.Revision)
	assert.Equal(t, "web:1", first.Ref())
	assert.Equal(t, task.DefinitionActive, first.Status)
	assert.Equal(t, clock.Now(), first.RegisteredAt)
	assert.Empty(t, first.TaskDefinitionARN, "output-only fields of the input are replaced")
	assert.Equal(t, 41, td.Revision, "the caller's value is not changed")

	clock.Advance(time.Minute)
	second, err := r.Register(webDef())
	require.NoError(t, err)
	assert.Equal(t, "web:2", second.Ref())
	assert.Equal(t, clock.Now(), second.RegisteredAt)

	other, err := r.Register(&task.TaskDefinition{Family: "other", ContainerDefinitions: []task.ContainerDefinition{{Name: "a", Image: "busybox", Memory: 16}}})
	require.NoError(t, err)
	assert.Equal(t, "other:1", other.Ref(), "revisions count per family")
}

func TestRegistryRejectsInvalid(t *testing.T) {
	t.Parallel()
	r := task.NewRegistry(newFakeClock().Now)
	bad := webDef()
	bad.ContainerDefinitions[0].Image = ""
	_, err := r.Register(bad)
	require.ErrorIs(t, err, task.ErrInvalid)
	assert.Contains(t, err.Error(), "containerDefinitions[0].image: is required")

	good, err := r.Register(webDef())
	require.NoError(t, err)
	assert.Equal(t, 1, good.Revision, "a rejected definition uses up no revision")
}

func TestRegistryCopies(t *testing.T) {
	t.Parallel()
	r := task.NewRegistry(newFakeClock().Now)
	td := webDef()
	registered, err := r.Register(td)
	require.NoError(t, err)

	td.ContainerDefinitions[0].Image = "changed-input"
	registered.ContainerDefinitions[0].Image = "changed-output"
	registered.ContainerDefinitions[0].PortMappings[0].ContainerPort = 1
	got, err := r.Get("web:1")
	require.NoError(t, err)
	assert.Equal(t, "nginx:1.27", got.ContainerDefinitions[0].Image)
	assert.Equal(t, 80, got.ContainerDefinitions[0].PortMappings[0].ContainerPort)

	got.ContainerDefinitions[0].Image = "changed-get"
	again, err := r.Get("web")
	require.NoError(t, err)
	assert.Equal(t, "nginx:1.27", again.ContainerDefinitions[0].Image)
}

func TestRegistryGetAndDeregister(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	r := task.NewRegistry(clock.Now)
	for range 3 {
		_, err := r.Register(webDef())
		require.NoError(t, err)
	}

	for _, ref := range []string{"web", "web:3", "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3"} {
		td, err := r.Get(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, 3, td.Revision, ref)
	}

	clock.Advance(time.Hour)
	gone, err := r.Deregister("web:3")
	require.NoError(t, err)
	assert.Equal(t, task.DefinitionInactive, gone.Status)
	assert.Equal(t, clock.Now(), gone.DeregisteredAt)

	latest, err := r.Get("web")
	require.NoError(t, err)
	assert.Equal(t, 2, latest.Revision, "the latest ACTIVE revision")
	inactive, err := r.Get("web:3")
	require.NoError(t, err, "an INACTIVE revision is still readable")
	assert.Equal(t, task.DefinitionInactive, inactive.Status)

	clock.Advance(time.Hour)
	again, err := r.Deregister("arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3")
	require.NoError(t, err)
	assert.Equal(t, gone.DeregisteredAt, again.DeregisteredAt, "deregistering twice keeps the first time")

	for _, ref := range []string{"web:1", "web:2"} {
		_, err := r.Deregister(ref)
		require.NoError(t, err)
	}
	_, err = r.Get("web")
	require.ErrorIs(t, err, task.ErrNotFound, "no ACTIVE revision left")

	next, err := r.Register(webDef())
	require.NoError(t, err)
	assert.Equal(t, 4, next.Revision, "revisions are never reused")
}

func TestRegistryNotFound(t *testing.T) {
	t.Parallel()
	r := task.NewRegistry(newFakeClock().Now)
	_, err := r.Register(webDef())
	require.NoError(t, err)
	for _, ref := range []string{"", "nope", "nope:1", "web:2", "web:0", "web:-1", "web:x", "web:1:2", "bad family", "arn:aws:ecs:x:1:service/web", ":1"} {
		_, err := r.Get(ref)
		assert.ErrorIs(t, err, task.ErrNotFound, "Get(%q)", ref)
		_, err = r.Deregister(ref)
		assert.ErrorIs(t, err, task.ErrNotFound, "Deregister(%q)", ref)
	}
	_, err = r.Deregister("web")
	assert.ErrorIs(t, err, task.ErrNotFound, "Deregister needs a revision")
	_, err = r.ListRevisions("nope", "")
	assert.ErrorIs(t, err, task.ErrNotFound)
}

func TestRegistryLists(t *testing.T) {
	t.Parallel()
	r := task.NewRegistry(newFakeClock().Now)
	for _, family := range []string{"web", "web", "api", "batch"} {
		td := webDef()
		td.Family = family
		_, err := r.Register(td)
		require.NoError(t, err)
	}
	_, err := r.Deregister("web:1")
	require.NoError(t, err)
	_, err = r.Deregister("batch:1")
	require.NoError(t, err)

	assert.Equal(t, []string{"api", "batch", "web"}, r.ListFamilies(""))
	assert.Equal(t, []string{"api", "web"}, r.ListFamilies(task.DefinitionActive))
	assert.Equal(t, []string{"batch"}, r.ListFamilies(task.DefinitionInactive), "INACTIVE families have no ACTIVE revision")

	all, err := r.ListRevisions("web", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"web:1", "web:2"}, all)
	active, err := r.ListRevisions("web", task.DefinitionActive)
	require.NoError(t, err)
	assert.Equal(t, []string{"web:2"}, active)
	inactive, err := r.ListRevisions("web", task.DefinitionInactive)
	require.NoError(t, err)
	assert.Equal(t, []string{"web:1"}, inactive)
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	r := task.NewRegistry(newFakeClock().Now)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	refs := make(chan string, workers*each)
	for w := range workers {
		wg.Go(func() {
			for range each {
				td, err := r.Register(webDef())
				if !assert.NoError(t, err) {
					return
				}
				refs <- td.Ref()
				_, err = r.Get("web")
				assert.NoError(t, err)
				if w%2 == 0 {
					_, err = r.Deregister(td.Ref())
					assert.NoError(t, err)
				}
				r.ListFamilies(task.DefinitionActive)
			}
		})
	}
	wg.Wait()
	close(refs)
	seen := map[string]bool{}
	for ref := range refs {
		assert.False(t, seen[ref], "revision %s handed out twice", ref)
		seen[ref] = true
	}
	assert.Len(t, seen, workers*each)
	for i := 1; i <= workers*each; i++ {
		assert.True(t, seen[fmt.Sprintf("web:%d", i)])
	}
}
