package logs

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzLineReaders checks the forward and the backward line readers
// against a plain split of the input, with chunks and line limits small
// enough for lines to cross chunks and pass the limit.
func FuzzLineReaders(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint8(0), uint8(2))
	f.Add([]byte("0123456789abcdefghij\nx\n"+string(bytes.Repeat([]byte("y"), 100))+"\nz\n"), uint8(1), uint8(20))
	f.Add([]byte("\n\n\n"), uint8(3), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk, limit uint8) {
		lr := lineReader{chunk: 16 + int(chunk%64), max: 1 + int(limit%100)}
		var want [][]byte
		wantLong := 0
		parts := bytes.Split(data, []byte("\n"))
		for _, l := range parts[:len(parts)-1] { // the last is unterminated
			switch {
			case len(l) > lr.max:
				wantLong++
			case len(l) > 0:
				want = append(want, l)
			}
		}
		collect := func(got *[][]byte) func([]byte) bool {
			return func(l []byte) bool {
				*got = append(*got, bytes.Clone(l))
				return true
			}
		}
		var fwd, bwd [][]byte
		long, err := lr.forward(bytes.NewReader(data), collect(&fwd))
		require.NoError(t, err)
		assert.Equal(t, wantLong, long, "forward: lines too long")
		assert.Equal(t, want, fwd, "forward")
		long, err = lr.backward(bytes.NewReader(data), int64(len(data)), collect(&bwd))
		require.NoError(t, err)
		assert.Equal(t, wantLong, long, "backward: lines too long")
		slices.Reverse(bwd)
		assert.Equal(t, want, bwd, "backward")
	})
}
