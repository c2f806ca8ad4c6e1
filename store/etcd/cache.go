package etcd

import (
	"sync"

	"github.com/stevedore-io/stevedore/store"
)

// DefaultCacheSize is how many decoded objects a store keeps without
// WithCacheSize.
const DefaultCacheSize = 50_000

// decoded keeps the objects the store's commits wrote, by key and
// ModRevision, until the store's copy (see mirror) takes them in: a version
// of a key never changes, so the copy need not decode it again. The objects
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

// take returns the version mod of key if it is kept, and forgets it: the
// store's copy holds it from then on.
func (d *decoded) take(key string, mod int64) store.Object {
	if d.max == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.m[key]
	if !ok || v.mod != mod {
		return nil
	}
	delete(d.m, key)
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
