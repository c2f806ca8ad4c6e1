package store

import (
	"encoding/json"
	"fmt"
)

// Codec turns objects into bytes and back. Implementations that keep state
// outside the process (an embedded bbolt file, etcd) encode every object
// they write and decode every object they read; the in-memory store holds
// Go values and needs none.
//
// A decoded object's Meta is whatever the bytes held; the store then sets
// the revisions it keeps itself.
type Codec interface {
	// Marshal encodes obj.
	Marshal(obj Object) ([]byte, error)
	// Unmarshal decodes an object of kind. Errors wrap ErrInvalid for a
	// kind the codec does not know.
	Unmarshal(kind string, data []byte) (Object, error)
}

// JSONCodec encodes objects with encoding/json. It decodes each kind into a
// new value from the constructor registered for that kind.
type JSONCodec struct {
	kinds map[string]func() Object
}

var _ Codec = (*JSONCodec)(nil)

// NewJSONCodec returns a codec for the given kinds, for example:
//
//	store.NewJSONCodec(map[string]func() store.Object{
//		"tasks":    func() store.Object { return new(task.Task) },
//		"services": func() store.Object { return new(service.Service) },
//	})
func NewJSONCodec(kinds map[string]func() Object) *JSONCodec {
	c := &JSONCodec{kinds: make(map[string]func() Object, len(kinds))}
	for k, newObj := range kinds {
		c.kinds[k] = newObj
	}
	return c
}

// Marshal encodes obj as JSON.
func (c *JSONCodec) Marshal(obj Object) ([]byte, error) {
	if obj == nil {
		return nil, invalidf("marshal nil object")
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal %s/%s: %w", obj.Kind(), obj.ObjectID(), err)
	}
	return data, nil
}

// Unmarshal decodes data into a new object of kind and checks that the
// result reports that kind.
func (c *JSONCodec) Unmarshal(kind string, data []byte) (Object, error) {
	newObj, ok := c.kinds[kind]
	if !ok {
		return nil, invalidf("codec knows no kind %q", kind)
	}
	obj := newObj()
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("unmarshal %s: %w", kind, err)
	}
	if got := obj.Kind(); got != kind {
		return nil, invalidf("unmarshal %s: decoded object has kind %q", kind, got)
	}
	return obj, nil
}
