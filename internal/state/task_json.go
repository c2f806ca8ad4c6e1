package state

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

// AppendJSON appends the JSON of t for store.JSONCodec: what
// json.Marshal(t) gives, but for the order of map keys (TestTaskJSON
// compares the two). Tasks are most of what a durable store writes, and
// encoding/json's reflection allocated for every field; the parts that
// are often empty or rarely written (containers aside, which every task
// has) are left to encoding/json.
func (t *Task) AppendJSON(b []byte) ([]byte, error) {
	if t.Task == nil {
		return appendMarshal(b, t) // encoding/json leaves out the fields of a nil embedded pointer
	}
	w := jsonObject{b: append(b, '{')}
	if t.CreateRevision != 0 {
		w.int("createRevision", t.CreateRevision)
	}
	if t.ModRevision != 0 {
		w.int("modRevision", t.ModRevision)
	}
	k := t.Task
	w.str("taskArn", k.TaskARN)
	w.strOmit("clusterArn", k.ClusterARN)
	w.strOmit("containerInstanceArn", k.ContainerInstanceARN)
	w.str("taskDefinitionArn", k.TaskDefinitionARN)
	w.strOmit("group", k.Group)
	w.strOmit("startedBy", k.StartedBy)
	w.strOmit("launchType", k.LaunchType)
	w.strOmit("capacityProviderName", k.CapacityProviderName)
	w.int("version", k.Version)
	w.str("lastStatus", string(k.LastStatus))
	w.str("desiredStatus", string(k.DesiredStatus))
	w.strOmit("healthStatus", string(k.HealthStatus))
	w.strOmit("stopCode", string(k.StopCode))
	w.strOmit("stoppedReason", k.StoppedReason)
	w.strOmit("cpu", string(k.CPU))
	w.strOmit("memory", string(k.Memory))
	w.containers(k.Containers)
	if k.Overrides != nil {
		w.value("overrides", k.Overrides)
	}
	if len(k.Tags) > 0 {
		w.value("tags", k.Tags)
	}
	if len(k.Attachments) > 0 {
		w.value("attachments", k.Attachments)
	}
	if len(k.SecurityGroups) > 0 {
		w.value("securityGroups", k.SecurityGroups)
	}
	w.timeOmit("createdAt", k.CreatedAt)
	w.timeOmit("pullStartedAt", k.PullStartedAt)
	w.timeOmit("pullStoppedAt", k.PullStoppedAt)
	w.timeOmit("connectivityAt", k.ConnectivityAt)
	w.timeOmit("startedAt", k.StartedAt)
	w.timeOmit("stoppingAt", k.StoppingAt)
	w.timeOmit("executionStoppedAt", k.ExecutionStoppedAt)
	w.timeOmit("stoppedAt", k.StoppedAt)
	w.timeOmit("updatedAt", k.UpdatedAt)

	w.strOmit("serviceName", t.ServiceName)
	w.strOmit("deploymentId", t.DeploymentID)
	w.key("reserved")
	w.b = appendResources(w.b, t.Reserved)
	w.boolOmit("released", t.Released)
	if t.Network != nil {
		w.attachment(t.Network)
	}
	w.boolOmit("healthChecked", t.HealthChecked)
	w.boolOmit("stoppedForHealth", t.StoppedForHealth)
	if t.TargetHealth != 0 {
		w.str("targetHealth", string(t.TargetHealth.Status()))
	}
	if t.Ingress != nil {
		w.value("ingress", t.Ingress)
	}
	if t.DNS != nil {
		w.value("dns", t.DNS)
	}
	if t.Drain != nil {
		w.value("drain", t.Drain)
	}
	if w.err != nil {
		return nil, w.err
	}
	return append(w.b, '}'), nil
}

// containers appends a task's containers, as encoding/json writes them:
// every task has some, and each is written with every change of the task.
func (w *jsonObject) containers(cs []task.Container) {
	w.key("containers")
	if cs == nil {
		w.b = append(w.b, "null"...)
		return
	}
	appendObjects(w, cs, func(o *jsonObject, c *task.Container) {
		o.str("name", c.Name)
		o.strOmit("image", c.Image)
		o.strOmit("imageDigest", c.ImageDigest)
		o.strOmit("runtimeId", c.RuntimeID)
		o.str("lastStatus", string(c.LastStatus))
		if c.ExitCode != nil {
			o.int("exitCode", int64(*c.ExitCode))
		}
		o.strOmit("reason", c.Reason)
		o.strOmit("healthStatus", string(c.HealthStatus))
		o.key("essential")
		o.b = strconv.AppendBool(o.b, c.Essential)
		o.boolOmit("hasHealthCheck", c.HasHealthCheck)
		if len(c.NetworkBindings) > 0 {
			o.key("networkBindings")
			appendObjects(o, c.NetworkBindings, func(n *jsonObject, nb *task.NetworkBinding) {
				n.strOmit("bindIP", nb.BindIP)
				n.int("containerPort", int64(nb.ContainerPort))
				n.int("hostPort", int64(nb.HostPort))
				n.strOmit("protocol", string(nb.Protocol))
			})
		}
	})
}

// appendObjects appends a JSON array of objects, the members of each
// written by members.
func appendObjects[T any](w *jsonObject, items []T, members func(o *jsonObject, item *T)) {
	w.b = append(w.b, '[')
	for i := range items {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		o := jsonObject{b: append(w.b, '{')}
		members(&o, &items[i])
		w.b = append(o.b, '}')
	}
	w.b = append(w.b, ']')
}

// attachment appends a task's network attachment as encoding/json writes
// it: most tasks have one, written with every change of the task.
func (w *jsonObject) attachment(a *network.Attachment) {
	if w.err != nil {
		return
	}
	if !a.Mode.Valid() {
		w.value("network", a) // encoding/json's error, naming the mode
		return
	}
	w.key("network")
	o := jsonObject{b: append(w.b, '{')}
	o.str("taskId", a.TaskID)
	o.str("mode", string(a.Mode))
	o.strOmit("netnsPath", a.NetNSPath)
	o.strOmit("hostInterface", a.HostInterface)
	if a.Address != (netip.Prefix{}) {
		o.key("address")
		o.b = append(o.b, '"')
		o.b, _ = a.Address.AppendText(o.b) // never fails
		o.b = append(o.b, '"')
	}
	if a.Gateway != (netip.Addr{}) {
		o.key("gateway")
		o.b = append(o.b, '"')
		o.b, _ = a.Gateway.AppendText(o.b) // never fails
		o.b = append(o.b, '"')
	}
	o.strOmit("mac", a.MAC)
	if len(a.PortBindings) > 0 {
		o.key("portBindings")
		appendObjects(&o, a.PortBindings, func(p *jsonObject, pb *network.PortBinding) {
			p.int("containerPort", int64(pb.ContainerPort))
			p.int("hostPort", int64(pb.HostPort))
			p.str("protocol", string(pb.Protocol))
		})
	}
	o.strOmit("hostsPath", a.HostsPath)
	o.strOmit("resolvConfPath", a.ResolvConfPath)
	w.b = append(o.b, '}')
}

// jsonObject appends the members of a JSON object, the comma before each
// but the first. The first error stops it.
type jsonObject struct {
	b       []byte
	members int
	err     error
}

// key appends the name of the next member; names are written as they are
// (this file's constants need no escaping).
func (w *jsonObject) key(name string) {
	if w.members > 0 {
		w.b = append(w.b, ',')
	}
	w.members++
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

func (w *jsonObject) str(name, s string) {
	w.key(name)
	w.b = appendString(w.b, s)
}

func (w *jsonObject) strOmit(name, s string) {
	if s != "" {
		w.str(name, s)
	}
}

func (w *jsonObject) int(name string, n int64) {
	w.key(name)
	w.b = strconv.AppendInt(w.b, n, 10)
}

func (w *jsonObject) boolOmit(name string, v bool) {
	if v {
		w.key(name)
		w.b = append(w.b, "true"...)
	}
}

func (w *jsonObject) timeOmit(name string, t time.Time) {
	if t.IsZero() || w.err != nil {
		return
	}
	w.key(name)
	w.b, w.err = appendTime(w.b, t)
}

// value appends v as encoding/json writes it.
func (w *jsonObject) value(name string, v any) {
	if w.err != nil {
		return
	}
	w.key(name)
	w.b, w.err = appendMarshal(w.b, v)
}
