package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
)

// Service is a stored object of the example.
type Service struct {
	store.Meta
	Name    string `json:"name"`
	Desired int    `json:"desired"`
}

func (*Service) Kind() string       { return "services" }
func (s *Service) ObjectID() string { return s.Name }

// Example writes a service, restarts on the same file, and finds it with
// its revisions; a watch resumes from a revision seen before the restart.
func Example() {
	dir, err := os.MkdirTemp("", "bolt-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state.db")
	codec := store.NewJSONCodec(map[string]func() store.Object{
		"services": func() store.Object { return new(Service) },
	})
	ctx := context.Background()

	s, err := bolt.Open(path, bolt.WithCodec(codec))
	if err != nil {
		panic(err)
	}
	web := &Service{Name: "web", Desired: 2}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Create(web) }); err != nil {
		panic(err)
	}
	seen := web.ModRevision // on disk: Update returned
	if err := s.Update(ctx, func(tx store.Tx) error {
		next := *web
		next.Desired = 3
		return tx.Update(&next)
	}); err != nil {
		panic(err)
	}
	if err := s.Close(); err != nil {
		panic(err)
	}

	// A new process on the same file.
	s, err = bolt.Open(path, bolt.WithCodec(codec))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	err = s.View(ctx, func(tx store.ReadTx) error {
		got, err := store.Get[*Service](tx, "services", "web")
		if err != nil {
			return err
		}
		fmt.Printf("web: desired %d, created at revision %d, store at revision %d\n",
			got.Desired, got.CreateRevision, tx.Revision())
		return nil
	})
	if err != nil {
		panic(err)
	}
	w, err := s.Watch(ctx, seen)
	if err != nil {
		panic(err)
	}
	defer w.Close()
	ev := <-w.Events()
	fmt.Printf("resumed: %s %s/%s at revision %d, desired %d -> %d\n", ev.Type, ev.Kind, ev.ID, ev.Revision,
		ev.Prev.(*Service).Desired, ev.Object.(*Service).Desired)
	// Output:
	// web: desired 3, created at revision 1, store at revision 2
	// resumed: updated services/web at revision 2, desired 2 -> 3
}
