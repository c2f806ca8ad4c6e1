package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/secrets"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// start brings the task up and supervises it until it must stop.
func (r *runner) start(ctx context.Context) error {
	loadErr := r.load(ctx)
	if loadErr != nil && !errors.As(loadErr, new(*startFailure)) {
		return loadErr
	}
	// Adopt even without a definition: the containers found must be
	// cleaned up.
	if err := r.adopt(ctx); err != nil {
		return err
	}
	if loadErr != nil {
		return loadErr
	}
	steps := []func(context.Context) error{r.provision, r.pull, r.create, r.supervise}
	for _, step := range steps {
		if r.stopWanted() {
			return nil
		}
		if err := step(ctx); err != nil {
			if r.stopWanted() && ctx.Err() == nil && errors.As(err, new(*startFailure)) {
				return nil // cut short by the stop
			}
			return err
		}
	}
	return nil
}

// taskDir is the directory of the task's volumes; "" without a state
// directory (no default could be found).
func (r *runner) taskDir() string {
	if r.a.dirs.err != nil {
		return ""
	}
	return r.a.dirs.join("tasks", safeName(r.id))
}

// fail stops the task with TaskFailedToStart.
func (r *runner) fail(ctx context.Context, f *startFailure) error {
	r.log.Warn("agent: task failed to start", "reason", f.reason)
	if c := r.ctrs[f.container]; c != nil && !c.started {
		c.abandoned, c.exited = true, true
	}
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		now := time.Now()
		changed := t.Stop(task.TaskFailedToStart, f.reason, now)
		if c := t.Container(f.container); c != nil && c.LastStatus != task.ContainerStopped {
			changed = true
			if err := t.SetContainerStopped(f.container, nil, f.reason, now); err != nil {
				return false, err
			}
		}
		return changed, nil
	})
}

// load reads the task definition, applies the overrides and sets up the
// containers. Without a definition the task fails to start, but its
// containers can still be cleaned up.
func (r *runner) load(ctx context.Context) error {
	t := r.current()
	r.ctrs = map[string]*ctr{}
	r.names = nil
	for _, c := range t.Containers {
		r.names = append(r.names, c.Name)
		r.ctrs[c.Name] = &ctr{name: c.Name, id: ContainerID(r.id, c.Name), health: health.Status(c.HealthStatus)}
		if c.RuntimeID != "" {
			r.ctrs[c.Name].id = c.RuntimeID
		}
	}
	r.stopOrder = [][]string{slices.Clone(r.names)}
	if t.Network != nil {
		r.att = t.Network.Clone()
	}

	var stored *state.TaskDefinition
	err := r.a.cfg.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		stored, err = store.Get[*state.TaskDefinition](tx, state.KindTaskDefinitions, t.TaskDefinitionRef())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return failure("", "ResourceInitializationError: task definition %s not found", t.TaskDefinitionRef())
	}
	if err != nil {
		return fmt.Errorf("read task definition %s: %w", t.TaskDefinitionRef(), err)
	}
	// The runner only reads the definition: without overrides it uses the
	// stored one, which is shared and read-only, rather than a copy.
	def := stored.TaskDefinition
	var stopOrder [][]string
	if t.Overrides != nil {
		if def, err = t.Overrides.Apply(def); err != nil {
			return failure("", "ResourceInitializationError: overrides: %v", err)
		}
		stopOrder, err = def.StopOrder()
	} else {
		stopOrder, err = r.a.stopOrder(def)
	}
	if err != nil {
		return failure("", "ResourceInitializationError: %v", err)
	}
	r.def = def
	r.stopOrder = stopOrder
	for i := range def.ContainerDefinitions {
		cd := &def.ContainerDefinitions[i]
		c := r.ctrs[cd.Name]
		if c == nil {
			return failure("", "ResourceInitializationError: container %s of the definition is not in the task", cd.Name)
		}
		c.def = cd
	}
	for _, name := range r.names {
		if r.ctrs[name].def == nil {
			return failure(name, "ResourceInitializationError: container %s is not in task definition %s", name, t.TaskDefinitionRef())
		}
	}
	return nil
}

// provision sets up the task's network (PROVISIONING) and moves the task
// to PENDING.
func (r *runner) provision(ctx context.Context) error {
	if r.att != nil {
		return r.setStatus(ctx, task.Pending)
	}
	req, owners, err := networkRequest(r.id, r.def)
	if err != nil {
		return failure("", "ResourceInitializationError: invalid network configuration: %v", err)
	}
	cur := r.current()
	req.Ingress = cur.Ingress // the task's security groups; nil: unfiltered
	if cur.DNS != nil && len(req.DNS.Servers) == 0 && req.Mode.HasNamespace() {
		req.DNS = *cur.DNS // the control plane's choice (service discovery)
	}
	nw := r.a.cfg.Network
	_, req.DeferReady = nw.(network.Readier) // see networkReady
	var att *network.Attachment
	offStack(func() { att, err = nw.Setup(r.startCtx, *req) })
	r.ingress = ingressState{policy: req.Ingress, known: err == nil}
	if errors.Is(err, network.ErrExists) {
		// Set up by an earlier agent that stopped before recording it.
		att, err = nw.Attachment(r.startCtx, r.id)
	}
	if err != nil {
		return failure("", "ResourceInitializationError: failed to set up the task network: %v", err)
	}
	r.att = att
	bindings := networkBindings(att, owners)
	pulling := len(r.toCreate()) > 0 && !r.stopWanted()
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		t.Network = att.Clone()
		for name, b := range bindings {
			if c := t.Container(name); c != nil {
				c.NetworkBindings = slices.Clone(b)
			}
		}
		now := time.Now()
		_, err := advanceStatus(t, task.Pending, now)
		if pulling && t.PullStartedAt.IsZero() {
			// The pull starts right away: one write for both.
			t.MarkPullStarted(now)
		}
		return true, err
	})
}

// repull makes c's image available again and retries the creation of its
// container.
func (r *runner) repull(c *ctr, spec *runtime.ContainerSpec) error {
	auth, err := registryAuth(r.startCtx, r.a.cfg.Secrets, r.secretRequest(), c.def)
	if err != nil {
		return err
	}
	if err := r.ensureImage(c, auth); err != nil {
		return err
	}
	offStack(func() { err = r.createIn(spec) })
	return err
}

// ensureImage makes c's image available, through any outage of the
// engine.
func (r *runner) ensureImage(c *ctr, auth *runtime.Auth) error {
	return r.a.untilAvailable(r.startCtx, func() error { return r.a.cfg.Runtime.EnsureImage(r.startCtx, c.def.Image, auth) })
}

// createIn creates a container from spec, through any outage of the
// engine.
func (r *runner) createIn(spec *runtime.ContainerSpec) error {
	return r.a.untilAvailable(r.startCtx, func() error { return r.a.cfg.Runtime.Create(r.startCtx, *spec) })
}

// toCreate lists the containers that still have to be created.
func (r *runner) toCreate() []*ctr {
	var out []*ctr
	for _, name := range r.names {
		if c := r.ctrs[name]; !c.created && !c.exited {
			out = append(out, c)
		}
	}
	return out
}

// imageAuth returns the credentials c's image is pulled with. Not inlined:
// its frame would stay on the stack under every pull.
//
//go:noinline
func (r *runner) imageAuth(c *ctr) (*runtime.Auth, error) {
	return registryAuth(r.startCtx, r.a.cfg.Secrets, r.secretRequest(), c.def)
}

// pull makes the images of the containers to create available.
func (r *runner) pull(ctx context.Context) error {
	todo := r.toCreate()
	if len(todo) == 0 {
		return nil
	}
	if r.current().PullStartedAt.IsZero() {
		if err := r.modify(ctx, func(t *state.Task) (bool, error) { t.MarkPullStarted(time.Now()); return true, nil }); err != nil {
			return err
		}
	}
	// The images pulled so far: a task has a few. (A map here would be
	// built in this frame, which stays on the stack under every pull.)
	var pulled []string
	for _, c := range todo {
		if slices.Contains(pulled, c.def.Image) {
			continue
		}
		auth, err := r.imageAuth(c)
		if err != nil {
			return failure(c.name, "ResourceInitializationError: unable to pull secrets or registry auth: %v", err)
		}
		if err := r.ensureImage(c, auth); err != nil {
			return failure(c.name, "CannotPullContainerError: %v", err)
		}
		if v := r.a.verifier; v != nil {
			// The image may have come from another task's pull.
			err := r.a.untilAvailable(r.startCtx, func() error { return v.VerifyImageAccess(r.startCtx, c.def.Image, auth) })
			if err != nil {
				return failure(c.name, "CannotPullContainerError: the task's credentials cannot pull the image on this host: %v", err)
			}
		}
		pulled = append(pulled, c.def.Image)
	}
	if r.current().PullStoppedAt.IsZero() {
		now := time.Now()
		r.keep(func(t *state.Task) error {
			if t.PullStoppedAt.IsZero() {
				t.MarkPullStopped(now)
			}
			return nil
		})
	}
	return nil
}

// create creates the containers that do not exist yet.
func (r *runner) create(ctx context.Context) error {
	todo := r.toCreate()
	if len(todo) == 0 {
		return nil
	}
	// Most tasks have no volumes: their paths are worked out (and
	// allocated) only for those that do.
	var volumes map[string]string
	var dirs []string
	if len(r.def.Volumes) > 0 {
		volumes, dirs = taskVolumes(r.def, r.taskDir(), r.a.dirs.join("volumes"))
	}
	for _, d := range dirs {
		if err := r.mkdir(d); err != nil {
			return failure("", "ResourceInitializationError: task volume: %v", err)
		}
	}
	t := r.current()
	in := specInput{
		taskID:   r.id,
		cluster:  t.ClusterName(),
		instance: r.a.cfg.InstanceID,
		family:   t.TaskDefinitionRef(),
		att:      r.att,
		volumes:  volumes,
		def:      r.def,
		logs:     r.a.cfg.Logs,
	}
	for _, c := range todo {
		if err := r.createContainer(ctx, c, &in); err != nil {
			return err
		}
	}
	r.keep(func(t *state.Task) error { r.recordRuntimeIDs(t); return nil })
	return r.networkReady()
}

// mkdir creates a volume directory of the task below the state directory:
// the volume 0755 (as before the checks, so that a container's non-root
// user reads it), the directories above it 0700.
func (r *runner) mkdir(dir string) error {
	if r.a.dirs.err != nil {
		return r.a.dirs.err
	}
	elems, err := r.a.dirs.rel(dir)
	if err != nil {
		return err
	}
	_, err = r.a.dirs.mkdir(0o755, elems...)
	return err
}

// secretRequest says who asks for the task's secrets: its cluster, family
// and execution role.
func (r *runner) secretRequest() secrets.Request {
	return secrets.Request{Cluster: r.current().ClusterName(), Family: r.def.Family, ExecutionRoleARN: r.def.ExecutionRoleARN}
}

// createContainer creates one container. (Apart from create, so that the
// large values it handles stay off the stack of the calls that come
// before: every runner's stack is only as large as its deepest call.)
func (r *runner) createContainer(ctx context.Context, c *ctr, in *specInput) error {
	if len(c.def.EnvironmentFiles) > 0 {
		return failure(c.name, "CannotCreateContainerError: environmentFiles are not supported by this agent")
	}
	env, err := resolveSecrets(r.startCtx, r.a.cfg.Secrets, r.secretRequest(), c.def)
	if err != nil {
		return failure(c.name, "ResourceInitializationError: unable to pull secrets or registry auth: %v", err)
	}
	in.secretEnv = env
	spec, err := containerSpec(c.def, in)
	if err != nil {
		return failure(c.name, "CannotCreateContainerError: %v", err)
	}
	c.id = spec.ID
	offStack(func() { err = r.createIn(spec) })
	if errors.Is(err, runtime.ErrNotFound) {
		// The image went between the pull and now (removed behind the
		// runtime's back): pull it again, once.
		err = r.repull(c, spec)
	}
	if errors.Is(err, runtime.ErrAlreadyExists) {
		err = r.adoptExisting(ctx, c)
	}
	if err != nil {
		return failure(c.name, "CannotCreateContainerError: %v", err)
	}
	c.created = true
	return nil
}
