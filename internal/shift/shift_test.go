package shift

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPerMille(t *testing.T) {
	t.Parallel()
	for pct, want := range map[float64]int{0: 0, 0.1: 1, 10: 100, 33.3: 333, 99.9: 999, 100: 1000} {
		assert.Equal(t, want, perMille(pct), "%v%%", pct)
	}
}
