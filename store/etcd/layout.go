package etcd

import (
	"fmt"
	"strings"

	"github.com/stevedore-io/stevedore/store"
)

// DefaultPrefix is the key prefix used without WithPrefix.
const DefaultPrefix = "/stevedore"

// layout names the keys of one installation under its prefix p:
//
//	p/objects/<kind>/<id>   an object, as the codec encodes it
//	p/revision              written by every transaction: its ModRevision
//	                        is the store's revision, its CreateRevision the
//	                        first transaction ever, and its value the
//	                        transaction's journal when it needs one
//	p/kinds/<kind>          written by every transaction that writes kind;
//	                        an Update that listed kind compares it
//
// Watches cover p/objects/ through p/revision, which leaves the kind
// guards out.
type layout struct {
	prefix   string // p + "/"
	objects  string // p + "/objects/"
	revision string
	kinds    string
	watchEnd string // the end of the watched range, exclusive
}

func newLayout(prefix string) (layout, error) {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		return layout{}, fmt.Errorf("%w: empty key prefix", store.ErrInvalid)
	}
	return layout{
		prefix:   p + "/",
		objects:  p + "/objects/",
		revision: p + "/revision",
		kinds:    p + "/kinds/",
		watchEnd: p + "/revision\x00",
	}, nil
}

func (l layout) object(kind, id string) string { return l.objects + kind + "/" + id }

func (l layout) kind(kind string) string { return l.objects + kind + "/" }

func (l layout) guard(kind string) string { return l.kinds + kind }

// parseObject splits an object key into kind and ID.
func (l layout) parseObject(key string) (kind, id string, ok bool) {
	rest, ok := strings.CutPrefix(key, l.objects)
	if !ok {
		return "", "", false
	}
	kind, id, ok = strings.Cut(rest, "/")
	return kind, id, ok && kind != "" && id != ""
}
