package storetest

import (
	"encoding/json"

	"github.com/stevedore-io/stevedore/store"
)

// Codec returns a codec for the objects the suite stores (KindA, KindB and
// OtherKind), every kind at schema version 0. Durable implementations run
// the suite with it.
func Codec() *store.JSONCodec {
	return store.NewJSONCodec(map[string]func() store.Object{
		KindA:     func() store.Object { return new(Item) },
		KindB:     func() store.Object { return new(Item) },
		OtherKind: func() store.Object { return new(Other) },
	})
}

// ItemV0 is a synthetic earlier schema of Item, for testing migrations: at
// version 0 the value was called "val"; at version 1 it is Item's "value".
type ItemV0 struct {
	store.Meta
	Group string `json:"group"`
	ID    string `json:"id"`
	Val   int    `json:"val"`
}

// Kind returns the item's Group.
func (i *ItemV0) Kind() string { return i.Group }

// ObjectID returns the item's ID.
func (i *ItemV0) ObjectID() string { return i.ID }

// RenameVal is the migration of KindA from version 0 (ItemV0) to version 1
// (Item).
func RenameVal(object json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(object, &m); err != nil {
		return nil, err
	}
	if v, ok := m["val"]; ok {
		m["value"] = v
		delete(m, "val")
	}
	return json.Marshal(m)
}

// SchemaCodecs returns two codecs of KindA: v0 writes and reads ItemV0 at
// schema version 0, v1 reads both versions as Item and writes version 1,
// as two releases of one program would.
func SchemaCodecs() (v0, v1 *store.JSONCodec) {
	v0, err := store.NewSchemaCodec(map[string]store.Schema{
		KindA: {New: func() store.Object { return new(ItemV0) }},
	})
	if err != nil {
		panic(err) // the literal above is valid
	}
	v1, err = store.NewSchemaCodec(map[string]store.Schema{
		KindA: {New: func() store.Object { return new(Item) }, Migrations: []store.Migration{RenameVal}},
	})
	if err != nil {
		panic(err)
	}
	return v0, v1
}
