package state

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
)

// AppendJSON appends the JSON of i for store.JSONCodec: what json.Marshal(i)
// gives, but for the order of map keys (TestInstanceJSON compares the
// two). An instance is written with every task placed on it or stopped
// there, and its TaskGroups map grows with the services it runs: through
// reflection, encoding/json's sorting of its keys was the largest part of
// encoding while 10,000 tasks converged, and sorting them at all, a tenth
// of the store's CPU. JSON objects have no order; decoding them needs none.
func (i *Instance) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	if i.CreateRevision != 0 {
		b = append(b, `"createRevision":`...)
		b = append(strconv.AppendInt(b, i.CreateRevision, 10), ',')
	}
	if i.ModRevision != 0 {
		b = append(b, `"modRevision":`...)
		b = append(strconv.AppendInt(b, i.ModRevision, 10), ',')
	}
	ci := &i.ContainerInstance
	b = appendString(append(b, `"ID":`...), ci.ID)
	b = appendString(append(b, `,"Cluster":`...), ci.Cluster)
	b = appendString(append(b, `,"Status":`...), string(ci.Status))
	b = appendString(append(b, `,"StatusReason":`...), ci.StatusReason)
	b = strconv.AppendBool(append(b, `,"AgentConnected":`...), ci.AgentConnected)
	var err error
	if ci.EngineOutage != nil {
		if b, err = appendMarshal(append(b, `,"EngineOutage":`...), ci.EngineOutage); err != nil {
			return nil, err
		}
	}
	if ci.AgentLost != nil {
		if b, err = appendMarshal(append(b, `,"AgentLost":`...), ci.AgentLost); err != nil {
			return nil, err
		}
	}
	b = appendString(append(b, `,"AgentVersion":`...), ci.AgentVersion)
	b = appendString(append(b, `,"CapacityProvider":`...), ci.CapacityProvider)
	if b, err = appendTime(append(b, `,"RegisteredAt":`...), ci.RegisteredAt); err != nil {
		return nil, err
	}
	if !ci.UpdatedAt.IsZero() {
		if b, err = appendTime(append(b, `,"UpdatedAt":`...), ci.UpdatedAt); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"Attributes":`...)
	if ci.Attributes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for k, v := range ci.Attributes {
			b = append(appendString(append(appendString(b, k), ':'), v), ',')
		}
		b = closeObject(b)
	}
	b = appendResources(append(b, `,"Registered":`...), ci.Registered)
	b = appendResources(append(b, `,"Remaining":`...), ci.Remaining)
	b = strconv.AppendInt(append(b, `,"RunningTasksCount":`...), int64(ci.RunningTasksCount), 10)
	b = strconv.AppendInt(append(b, `,"PendingTasksCount":`...), int64(ci.PendingTasksCount), 10)
	if ci.TaskPolicy != nil {
		if b, err = appendMarshal(append(b, `,"TaskPolicy":`...), ci.TaskPolicy); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"TaskGroups":`...)
	if ci.TaskGroups == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for k, n := range ci.TaskGroups {
			b = append(strconv.AppendInt(append(appendString(b, k), ':'), int64(n), 10), ',')
		}
		b = closeObject(b)
	}
	if !i.ReclaimAt.IsZero() {
		if b, err = appendTime(append(b, `,"reclaimAt":`...), i.ReclaimAt); err != nil {
			return nil, err
		}
	}
	if !i.HeartbeatAt.IsZero() {
		if b, err = appendTime(append(b, `,"heartbeatAt":`...), i.HeartbeatAt); err != nil {
			return nil, err
		}
	}
	if i.HeartbeatInterval != 0 {
		b = strconv.AppendInt(append(b, `,"heartbeatInterval":`...), int64(i.HeartbeatInterval), 10)
	}
	if len(i.Tags) > 0 {
		if b, err = appendMarshal(append(b, `,"tags":`...), i.Tags); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// closeObject ends an object whose members were each followed by a comma.
func closeObject(b []byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = '}'
		return b
	}
	return append(b, '}')
}

func appendResources(b []byte, r cluster.Resources) []byte {
	// cluster.Resources and cluster.Port have no JSON methods: their
	// field names are the members.
	b = strconv.AppendInt(append(b, `{"CPU":`...), int64(r.CPU), 10)
	b = strconv.AppendInt(append(b, `,"Memory":`...), int64(r.Memory), 10)
	b = strconv.AppendInt(append(b, `,"NetworkSlots":`...), int64(r.NetworkSlots), 10)
	b = append(b, `,"Ports":`...)
	if r.Ports == nil {
		b = append(b, "null"...)
	} else {
		w := jsonObject{b: b}
		appendObjects(&w, r.Ports, func(o *jsonObject, p *cluster.Port) {
			o.str("Protocol", string(p.Protocol))
			o.int("Number", int64(p.Number))
		})
		b = w.b
	}
	return append(b, '}')
}

// appendString appends s as encoding/json quotes it: directly when no
// byte of it needs escaping (the common case), else through json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if notPlain[s[i]] {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// notPlain marks the bytes encoding/json does not copy into a string as
// they are: control characters, '"', '\\', the HTML characters it escapes,
// and every byte of a multi-byte character (checked as UTF-8, and U+2028
// and U+2029 escaped).
var notPlain = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()

// appendTime appends t as time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, data...), nil
}
