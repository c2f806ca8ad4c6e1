package fake_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// BenchmarkLifecycle measures a whole container life on the fake — create,
// wait, start a shell script that exits, exec, delete — so that tests using it
// can budget for thousands of containers.
func BenchmarkLifecycle(b *testing.B) {
	ctx := context.Background()
	rt := fake.New(fake.WithLocalImages(image))
	defer rt.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("c%d", i)
		i++
		spec := runtime.ContainerSpec{ID: id, Image: image, Command: []string{"sh", "-c", "echo hi; exit 3"}}
		if err := rt.Create(ctx, spec); err != nil {
			b.Fatal(err)
		}
		ch, err := rt.Wait(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if err := rt.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		if st := <-ch; st.Code != 3 {
			b.Fatalf("exit code %d", st.Code)
		}
		if err := rt.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "containers/s")
}

// BenchmarkList measures an agent's List among the containers of a
// thousand instances sharing one fake (10 each): it should cost what the
// instance's own containers cost, not the whole fleet's.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	rt := fake.New(fake.WithLocalImages(image))
	defer rt.Close()
	const instances, each = 1000, 10
	for i := range instances * each {
		spec := runtime.ContainerSpec{ID: fmt.Sprintf("c%05d", i), Image: image, Command: []string{"true"},
			Labels: map[string]string{"instance": fmt.Sprintf("i-%04d", i%instances), "task": fmt.Sprintf("t%05d", i)}}
		if err := rt.Create(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		list, err := rt.List(ctx, map[string]string{"instance": fmt.Sprintf("i-%04d", i%instances)})
		if err != nil || len(list) != each {
			b.Fatalf("%d containers, %v", len(list), err)
		}
		i++
	}
}
