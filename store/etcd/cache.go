package etcd

import (
	"sync"

	"github.com/stevedore-io/stevedore/store"
)

// DefaultCacheSize is how many decoded objects a store keeps without
// WithCacheSize.
const DefaultCacheSize = 50_000

// decoded keeps objects already decoded, by key and ModRevision: a
// version of a key never changes, so a reconcile pass that lists 10,000
// tasks decodes only those that changed since the last pass. The objects
// are shared by every reader, as the store contract allows (objects read
// are read-only).
type decoded struct {
	max int

	mu sync.RWMutex
	m  map[string]version
}

type version struct {
	mod int64
	obj store.Object
}

func newDecoded(max int) *decoded {
	return &decoded{max: max, m: make(map[string]version)}
}

func (d *decoded) get(key string, mod int64) store.Object {
	if d.max == 0 {
		return nil
	}
	d.mu.RLock()
	v, ok := d.m[key]
	d.mu.RUnlock()
	if !ok || v.mod != mod {
		return nil
	}
	return v.obj
}

func (d *decoded) put(key string, mod int64, obj store.Object) {
	if d.max == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.m[key]; ok && v.mod > mod {
		return // a newer version is kept already
	}
	if len(d.m) >= d.max {
		// Drop about half, at random (map order): cheap, and entries
		// that are read again come back at their next read.
		for k := range d.m {
			if len(d.m) < d.max/2 {
				break
			}
			delete(d.m, k)
		}
	}
	d.m[key] = version{mod: mod, obj: obj}
}
