package store_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

// Task is a stored type: a struct embedding store.Meta, with its kind and ID.
type Task struct {
	store.Meta
	ID     string
	Status string
}

func (*Task) Kind() string       { return "tasks" }
func (t *Task) ObjectID() string { return t.ID }

// A reconcile loop reads a snapshot and watches every change after it; a
// writer changes a task with compare-and-swap; a write based on a stale
// read fails.
func Example() {
	ctx := context.Background()
	s, err := memory.New()
	if err != nil {
		panic(err)
	}
	defer s.Close()

	// Desired state goes in.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.Create(&Task{ID: "web-1", Status: "PENDING"})
	})
	if err != nil {
		panic(err)
	}

	// A loop reads a snapshot, then watches every change after it.
	var tasks []*Task
	w, err := store.ViewAndWatch(ctx, s, func(tx store.ReadTx) error {
		var err error
		tasks, err = store.List[*Task](tx, "tasks")
		return err
	}, store.WithKinds("tasks"))
	if err != nil {
		panic(err)
	}
	defer w.Close()
	fmt.Printf("snapshot: %d task, %s is %s\n", len(tasks), tasks[0].ID, tasks[0].Status)

	// An agent reports what it sees: read, copy, change, write.
	err = s.Update(ctx, func(tx store.Tx) error {
		t, err := store.Get[*Task](tx, "tasks", "web-1")
		if err != nil {
			return err
		}
		next := *t
		next.Status = "RUNNING"
		return tx.Update(&next)
	})
	if err != nil {
		panic(err)
	}

	ev := <-w.Events()
	fmt.Printf("%s %s: %s -> %s at revision %d\n",
		ev.Type, ev.ID, ev.Prev.(*Task).Status, ev.Object.(*Task).Status, ev.Revision)

	// A write based on the snapshot, which is stale now, fails.
	stale := *tasks[0]
	stale.Status = "STOPPED"
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Update(&stale) })
	fmt.Println(errors.Is(err, store.ErrConflict))
	fmt.Println(err)

	// Output:
	// snapshot: 1 task, web-1 is PENDING
	// updated web-1: PENDING -> RUNNING at revision 2
	// true
	// store: revision conflict on tasks/web-1: expected revision 1, stored revision 2
}
