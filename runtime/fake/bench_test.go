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
