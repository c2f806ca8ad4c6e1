package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileStoreJournalReplay(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ipam.json")
	store := NewFileStore(path)
	t.Cleanup(func() { store.Close() })
	a := mustIPAM(t, "10.213.0.0/24", store)
	for i := range 5 {
		_, err := a.Allocate(fmt.Sprint("t", i))
		require.NoError(t, err)
	}
	require.NoError(t, a.Release("t1"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 6, bytes.Count(b, []byte("\n")), "one snapshot line, then one line per change")

	st, err := NewFileStore(path).Load()
	require.NoError(t, err)
	assert.Equal(t, a.Allocations(), st.Allocations)
	assert.Equal(t, "10.213.0.7", st.Next.String())

	// A restart compacts the journal into a snapshot.
	again := mustIPAM(t, "10.213.0.0/24", NewFileStore(path))
	assert.Equal(t, a.Allocations(), again.Allocations())
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1, bytes.Count(b, []byte("\n")))
}

func TestFileStoreIgnoresTornLastLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ipam.json")
	store := NewFileStore(path)
	require.NoError(t, store.Save(IPAMState{Subnet: netip.MustParsePrefix("10.213.0.0/24"), Allocations: map[string]netip.Addr{}}))
	require.NoError(t, store.Append(AllocationChange{TaskID: "a", Address: netip.MustParseAddr("10.213.0.2")}))
	require.NoError(t, store.Close())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"task":"b","ad`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	st, err := NewFileStore(path).Load()
	require.NoError(t, err)
	assert.Equal(t, map[string]netip.Addr{"a": netip.MustParseAddr("10.213.0.2")}, st.Allocations)

	// The same garbage in the middle is corruption.
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + `{"task":"c","addr":"10.213.0.3"}` + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = NewFileStore(path).Load()
	require.ErrorContains(t, err, "line 3")
}

func TestFileStoreCompactsPeriodically(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ipam.json")
	store := NewFileStore(path)
	t.Cleanup(func() { store.Close() })
	a := mustIPAM(t, "10.213.0.0/24", store)
	for i := range 1000 {
		_, err := a.Allocate("churn")
		require.NoError(t, err, i)
		require.NoError(t, a.Release("churn"))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Less(t, bytes.Count(b, []byte("\n")), 260, "the journal is compacted into a snapshot now and then")
	st, err := NewFileStore(path).Load()
	require.NoError(t, err)
	assert.Empty(t, st.Allocations)
}

func TestFileStoreAppendNeedsSnapshot(t *testing.T) {
	t.Parallel()
	store := NewFileStore(filepath.Join(t.TempDir(), "ipam.json"))
	require.ErrorContains(t, store.Append(AllocationChange{TaskID: "a"}), "no snapshot")
	assert.NoError(t, store.Close())
}

func BenchmarkIPAMFileStore(b *testing.B) {
	store := NewFileStore(filepath.Join(b.TempDir(), "ipam.json"))
	b.Cleanup(func() { store.Close() })
	a := mustIPAM(b, "10.0.0.0/16", store)
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprint("t", i%1000)
		if _, err := a.Allocate(id); err != nil {
			b.Fatal(err)
		}
		if err := a.Release(id); err != nil {
			b.Fatal(err)
		}
	}
}
