package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// TestSecretsReachOnlyTheContainer gives a container a secret through
// secrets[].valueFrom: the container gets the value in its environment
// (it prints it, and the line is in the logs store), and the value appears
// nowhere else: not in any object of the store, not in any event, not in
// any Describe output, not in the containers' labels, not in anything the
// Orchestrator, agent, runtime or network logged.
func TestSecretsReachOnlyTheContainer(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-" + randomHex(32)
	const ref = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password"
	e := newEnv(t, withSecrets(map[string]string{"db-password": secret}))
	def := e.registerDef(fmt.Sprintf(`{
		"family": "secretive",
		"networkMode": "awsvpc",
		"containerDefinitions": [{
			"name": "app", "image": %q, "essential": true, "memory": 16,
			%s,
			"environment": [{"name": "PLAIN", "value": "not-a-secret"}],
			"secrets": [{"name": "DB_PASSWORD", "valueFrom": %q}],
			"stopTimeout": 2
		}]
	}`, imageRef, shellCommand(`echo "password=$DB_PASSWORD plain=$PLAIN"; `+idleScript), ref))
	events := e.subscribe()

	id := e.runTask(def).ID()
	tk := e.waitRunning(id, 30*time.Second)
	entries := e.waitLogs(logs.Query{Task: id, Container: "app", Contains: "password="}, 1, 10*time.Second)
	assert.Equal(t, "password="+secret+" plain=not-a-secret", entries[0].Message, "the container got the secret in its environment")

	// What the API shows while the task runs, and once it stopped.
	var outputs []any
	collect := func() {
		tasks, err := stevedoretest.TasksOf(e.orc.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: e.cluster, Tasks: []string{id}}))
		require.NoError(t, err)
		td, err := e.orc.DescribeTaskDefinition(e.ctx, &stevedore.DescribeTaskDefinitionInput{TaskDefinition: def.Ref()})
		require.NoError(t, err)
		clusters, err := e.orc.DescribeClusters(e.ctx, &stevedore.DescribeClustersInput{Clusters: []string{e.cluster}})
		require.NoError(t, err)
		instances, err := stevedoretest.InstancesOf(e.orc.DescribeContainerInstances(e.ctx, &stevedore.DescribeContainerInstancesInput{Cluster: e.cluster}))
		require.NoError(t, err)
		services, err := stevedoretest.ServicesOf(e.orc.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: e.cluster}))
		require.NoError(t, err)
		ids, err := e.orc.AllTaskArns(e.ctx, &stevedore.ListTasksInput{Cluster: e.cluster, DesiredStatus: task.Stopped})
		require.NoError(t, err)
		outputs = append(outputs, tasks, td, clusters, instances, services, ids)
	}
	collect()
	info, err := e.rt.Inspect(e.ctx, runtimeID(t, tk, "app"))
	require.NoError(t, err)
	outputs = append(outputs, info)
	e.stopTask(id)
	collect()

	var where []string
	for i, out := range outputs {
		if strings.Contains(mustJSON(t, out), secret) {
			where = append(where, fmt.Sprintf("API output %d (%T)", i, out))
		}
	}
	evs := events.stop()
	require.NotEmpty(t, evs)
	for _, ev := range evs {
		if strings.Contains(mustJSON(t, ev), secret) {
			where = append(where, fmt.Sprintf("event %s at revision %d", ev.Type, ev.Revision))
		}
	}
	objects := 0
	err = e.store.View(e.ctx, func(tx store.ReadTx) error {
		for _, kind := range []string{state.KindClusters, state.KindInstances, state.KindTaskDefinitions, state.KindTasks, state.KindServices} {
			objs, err := tx.List(kind)
			if err != nil {
				return err
			}
			for _, obj := range objs {
				objects++
				if strings.Contains(mustJSON(t, obj), secret) {
					where = append(where, fmt.Sprintf("store object %s/%s", kind, obj.ObjectID()))
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, objects, 4, "cluster, instance, task definition and task are in the store")
	if strings.Contains(e.log.String(), secret) {
		where = append(where, "the log of the Orchestrator, agent, runtime and network")
	}
	assert.Empty(t, where, "the secret's value leaked")
	assert.Contains(t, mustJSON(t, outputs[1]), ref, "the reference is in the task definition: only the value must not show")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// waitLogs queries the logs store until at least n lines match, for at
// most timeout.
func (e *env) waitLogs(q logs.Query, n int, timeout time.Duration) []logs.Entry {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		entries, err := e.logs.Query(q)
		require.NoError(e.t, err)
		if len(entries) >= n {
			return entries
		}
		if time.Now().After(deadline) {
			all, _ := e.logs.Query(logs.Query{Task: q.Task})
			e.t.Fatalf("logs: %d lines match %+v after %s, want %d; the task's lines: %s", len(entries), q, timeout, n, toJSON(all))
		}
		sleep(e.ctx, pollEvery)
	}
}
