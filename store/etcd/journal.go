package etcd

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/stevedore-io/stevedore/store"
)

// journalOp is one write of a transaction, as kept in the journal.
//
// etcd keeps one version of a key per revision, so a transaction that
// writes a key twice (creates then updates it, deletes then creates it)
// leaves one etcd event where the store owes one event per write. Such a
// transaction stores its writes in order as the value of the revision key;
// watchers replay them, taking the versions in between from the journal
// and the first and last from etcd's event (its PrevKv and Kv).
// Transactions that write each key once, nearly all of them, store an
// empty journal and their events are etcd's own, in the order written.
type journalOp struct {
	Type store.EventType `json:"t"`
	Kind string          `json:"k"`
	ID   string          `json:"i"`
	// Value is the version this write left, when a later write of the
	// same transaction replaced it.
	Value []byte `json:"v,omitempty"`

	obj store.Object
}

type journal struct {
	Ops []journalOp `json:"ops"`
}

// encodeJournal returns the journal of tx, or nil when every key was
// written once.
func (tx *writeTx) encodeJournal() ([]byte, error) {
	needed := false
	for _, w := range tx.writes {
		if w.ops > 1 {
			needed = true
			break
		}
	}
	if !needed {
		return nil, nil
	}
	left := map[string]int{} // writes still to come, by key
	for _, w := range tx.writes {
		left[w.kind+"/"+w.id] = w.ops
	}
	ops := make([]journalOp, len(tx.journal))
	for i, op := range tx.journal {
		k := op.Kind + "/" + op.ID
		left[k]--
		ops[i] = op
		if op.obj != nil && left[k] > 0 {
			data, err := tx.s.encode(op.obj, tx.prov)
			if err != nil {
				return nil, err
			}
			ops[i].Value = data
		}
	}
	return json.Marshal(journal{Ops: ops})
}

func decodeJournal(data []byte) (journal, error) {
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return j, fmt.Errorf("%w: etcd store: malformed transaction journal: %w", store.ErrInvalid, err)
	}
	for _, op := range j.Ops {
		if op.Type < store.Created || op.Type > store.Deleted || store.ValidateKey(op.Kind, op.ID) != nil {
			return j, fmt.Errorf("%w: etcd store: malformed transaction journal entry %+v", store.ErrInvalid, op)
		}
	}
	return j, nil
}

// The value of the revision key is the transaction's mark, then its
// journal if it has one: "~" + mark + "\n" + journal. The mark is unique
// to the commit (the store's random name and a counter): when etcd fails a
// commit without saying whether it applied it, the store finds out by
// looking for its mark in the revisions its mirror has seen. A value not
// starting with '~' is a journal alone, as stores before marks wrote it.
const markPrefix = '~'

// revisionValue returns the value of the revision key for a transaction
// with mark and journal.
func revisionValue(mark string, journal []byte) string {
	return string(markPrefix) + mark + "\n" + string(journal)
}

// splitRevisionValue splits a value of the revision key into its mark and
// its journal.
func splitRevisionValue(v []byte) (mark string, journal []byte) {
	if len(v) == 0 || v[0] != markPrefix {
		return "", v
	}
	m, j, _ := bytes.Cut(v[1:], []byte{'\n'})
	return string(m), j
}
