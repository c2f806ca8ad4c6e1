package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
)

// Codec turns objects into bytes and back. Implementations that keep state
// outside the process (an embedded bbolt file, etcd) encode every object
// they write and decode every object they read; the in-memory store holds
// Go values and needs none.
//
// The bytes carry the object's Meta (its revisions) and the schema version
// of its kind, whatever the object's own encoding does: a type whose JSON
// comes from an embedded type's MarshalJSON would otherwise lose them.
type Codec interface {
	// Marshal encodes obj with its Meta at the current schema version of
	// its kind. Errors wrap ErrInvalid for a nil object, an unusable key
	// or a kind the codec does not know.
	Marshal(obj Object) ([]byte, error)
	// Unmarshal decodes an object of kind, bringing an older schema
	// version up to the current one. It never panics on bad input.
	// Errors wrap ErrInvalid; data written by a newer schema version gives
	// a *SchemaError.
	Unmarshal(kind string, data []byte) (Object, error)
}

// Migration turns the JSON of an object at one schema version of its kind
// into the JSON of the next version. It must not keep data.
type Migration func(object json.RawMessage) (json.RawMessage, error)

// Schema says how one kind is stored.
type Schema struct {
	// New returns an empty object of the kind to decode into. Its result
	// must answer Kind, ObjectID and StoreMeta without panicking, so a
	// type that embeds a pointer must get that pointer set here.
	New func() Object
	// Migrations[v] turns version v of the kind into version v+1; the
	// kind's current version is len(Migrations). Objects are written at
	// the current version and migrated when read, one step at a time.
	// Never change or remove a migration once released: files written by
	// every earlier release depend on it.
	Migrations []Migration
}

// SchemaError is the error of an object written at a schema version newer
// than this build knows: the file comes from a later release. errors.Is(err,
// ErrInvalid) holds for it.
type SchemaError struct {
	// Kind is the object's kind.
	Kind string
	// Version is the version the object was written at.
	Version int
	// Current is the newest version this build reads.
	Current int
}

// Error says which version was found and which this build reads.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("store: %s object written at schema version %d; this build reads up to version %d (written by a newer release?)",
		e.Kind, e.Version, e.Current)
}

// Unwrap returns ErrInvalid, so that errors.Is(err, ErrInvalid) and
// errors.Is(err, errdefs.ErrInvalid) hold.
func (e *SchemaError) Unwrap() error { return ErrInvalid }

// JSONCodec encodes objects with encoding/json inside an envelope that holds
// the schema version and the Meta:
//
//	{"schema":1,"meta":{"createRevision":3,"modRevision":9},"object":{...}}
//
// It decodes each kind into a new value from the kind's Schema.New.
type JSONCodec struct {
	kinds map[string]Schema
}

var _ Codec = (*JSONCodec)(nil)

// envelope is the encoding of one object.
type envelope struct {
	Schema int             `json:"schema"`
	Meta   Meta            `json:"meta"`
	Object json.RawMessage `json:"object"`
}

// NewJSONCodec returns a codec for the given kinds, every one at schema
// version 0 (no migrations), for example:
//
//	store.NewJSONCodec(map[string]func() store.Object{
//		"tasks":    func() store.Object { return new(Task) },
//		"services": func() store.Object { return new(Service) },
//	})
func NewJSONCodec(kinds map[string]func() Object) *JSONCodec {
	schemas := make(map[string]Schema, len(kinds))
	for k, newObj := range kinds {
		schemas[k] = Schema{New: newObj}
	}
	return &JSONCodec{kinds: schemas}
}

// NewSchemaCodec returns a codec for the kinds described by schemas. It
// fails with ErrInvalid when a kind is unusable or has no constructor.
func NewSchemaCodec(schemas map[string]Schema) (*JSONCodec, error) {
	c := &JSONCodec{kinds: make(map[string]Schema, len(schemas))}
	for k, s := range schemas {
		if err := ValidateKind(k); err != nil {
			return nil, err
		}
		if s.New == nil {
			return nil, invalidf("schema of kind %q has no New", k)
		}
		for i, m := range s.Migrations {
			if m == nil {
				return nil, invalidf("schema of kind %q: migration from version %d is nil", k, i)
			}
		}
		c.kinds[k] = Schema{New: s.New, Migrations: append([]Migration(nil), s.Migrations...)}
	}
	return c, nil
}

// Version returns the current schema version of kind, and false for a kind
// the codec does not know.
func (c *JSONCodec) Version(kind string) (int, bool) {
	s, ok := c.kinds[kind]
	return len(s.Migrations), ok
}

// Marshal encodes obj, its Meta and its kind's current schema version.
func (c *JSONCodec) Marshal(obj Object) ([]byte, error) {
	return c.AppendMarshal(nil, obj)
}

// JSONAppender is implemented by objects that write their own JSON, faster
// than encoding/json's reflection would. AppendJSON appends to dst what
// json.Marshal would produce for the object, but for the order of the keys
// of maps, which decoding does not need (the implementation's tests
// compare the two), and JSONCodec uses it instead.
type JSONAppender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// AppendMarshal is Marshal appending the encoding to dst, which it may
// grow: a durable store encodes every write into a buffer it reuses rather
// than into one allocated per object.
func (c *JSONCodec) AppendMarshal(dst []byte, obj Object) ([]byte, error) {
	if obj == nil {
		return nil, invalidf("marshal nil object")
	}
	kind, id := obj.Kind(), obj.ObjectID()
	if err := ValidateKey(kind, id); err != nil {
		return nil, err
	}
	s, ok := c.kinds[kind]
	if !ok {
		return nil, invalidf("marshal %s/%s: codec knows no kind %q", kind, id, kind)
	}
	meta := obj.StoreMeta()
	if meta == nil {
		return nil, invalidf("marshal %s/%s: StoreMeta returned nil", kind, id)
	}
	// The envelope is written by hand: json.Marshal would scan and
	// compact the body, which it has just produced, all over again.
	dst = append(dst, `{"schema":`...)
	dst = strconv.AppendInt(dst, int64(len(s.Migrations)), 10)
	dst = append(dst, `,"meta":{"createRevision":`...)
	dst = strconv.AppendInt(dst, meta.CreateRevision, 10)
	dst = append(dst, `,"modRevision":`...)
	dst = strconv.AppendInt(dst, meta.ModRevision, 10)
	dst = append(dst, `},"object":`...)
	var err error
	if a, ok := obj.(JSONAppender); ok {
		dst, err = a.AppendJSON(dst)
	} else {
		dst, err = appendJSON(dst, obj)
	}
	if err != nil {
		return nil, fmt.Errorf("marshal %s/%s: %w", kind, id, err)
	}
	return append(dst, '}'), nil
}

// appendJSON appends json.Marshal(v) to dst. An Encoder writes from its
// pooled buffer straight into dst, where json.Marshal would return a copy
// of its own.
func appendJSON(dst []byte, v any) ([]byte, error) {
	w := appendWriters.Get().(*appendWriter)
	w.b = dst
	err := w.enc.Encode(v)
	dst = w.b
	w.b = nil
	appendWriters.Put(w)
	if err != nil {
		return dst, err
	}
	return dst[:len(dst)-1], nil // Encode ends with a newline
}

// appendWriter is an io.Writer appending to b, with its Encoder.
type appendWriter struct {
	b   []byte
	enc *json.Encoder
}

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

var appendWriters = sync.Pool{New: func() any {
	w := new(appendWriter)
	w.enc = json.NewEncoder(w)
	return w
}}

// Unmarshal decodes data into a new object of kind, migrating it from the
// version it was written at, and checks that the result reports that kind
// and a usable ID.
func (c *JSONCodec) Unmarshal(kind string, data []byte) (Object, error) {
	s, ok := c.kinds[kind]
	if !ok {
		return nil, invalidf("codec knows no kind %q", kind)
	}
	current := len(s.Migrations)
	// Most objects are at the current version: decode envelope and
	// object in one pass. An older object fails or is decoded wrongly
	// here, and is read again below, through its migrations.
	obj := s.New()
	fast := struct {
		Schema int  `json:"schema"`
		Meta   Meta `json:"meta"`
		Object any  `json:"object"`
	}{Schema: -1, Object: obj}
	if err := json.Unmarshal(data, &fast); err == nil && fast.Schema == current && fast.Object != nil {
		return c.finish(kind, obj, fast.Meta)
	}

	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: unmarshal %s: %w", ErrInvalid, kind, err)
	}
	switch {
	case env.Schema > current:
		return nil, &SchemaError{Kind: kind, Version: env.Schema, Current: current}
	case env.Schema < 0:
		return nil, invalidf("unmarshal %s: negative schema version %d", kind, env.Schema)
	case len(env.Object) == 0 || string(env.Object) == "null":
		return nil, invalidf("unmarshal %s: no object", kind)
	}
	body := env.Object
	for v := env.Schema; v < current; v++ {
		next, err := s.Migrations[v](body)
		if err != nil {
			return nil, fmt.Errorf("%w: migrate %s from schema version %d to %d: %w", ErrInvalid, kind, v, v+1, err)
		}
		body = next
	}
	obj = s.New()
	if err := json.Unmarshal(body, obj); err != nil {
		return nil, fmt.Errorf("%w: unmarshal %s: %w", ErrInvalid, kind, err)
	}
	return c.finish(kind, obj, env.Meta)
}

// finish checks a decoded object and gives it meta.
func (c *JSONCodec) finish(kind string, obj Object, meta Meta) (Object, error) {
	if got := obj.Kind(); got != kind {
		return nil, invalidf("unmarshal %s: decoded object has kind %q", kind, got)
	}
	if id := obj.ObjectID(); id == "" {
		return nil, invalidf("unmarshal %s: decoded object has no ID", kind)
	}
	m := obj.StoreMeta()
	if m == nil {
		return nil, invalidf("unmarshal %s/%s: StoreMeta returned nil", kind, obj.ObjectID())
	}
	*m = meta
	return obj, nil
}
