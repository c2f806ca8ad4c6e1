package bolt

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDatasync measures what one commit costs the disk at least: a
// write of 4 KB and an fdatasync, over zeros written ahead (as the log's
// segments are made) and appended to a file that grows. It tells how
// fast a machine's disk is for the durable store's figures in
// BENCHMARKS.md.
//
//	go test -run '^$' -bench Datasync -benchtime 2000x ./store/bolt/
func BenchmarkDatasync(b *testing.B) {
	page := make([]byte, 4000)
	for _, mode := range []string{"over-zeros", "append"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "seg"), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if mode == "over-zeros" {
				size := int64(b.N+1) * int64(len(page))
				for at := int64(0); at < size; at += int64(len(zeros)) {
					if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-at)], at); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := f.WriteAt(page, int64(i)*int64(len(page))); err != nil {
					b.Fatal(err)
				}
				if err := datasync(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
