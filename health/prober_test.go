package health

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestProberFunc(t *testing.T) {
	t.Parallel()
	var p Prober = ProberFunc(func(ctx context.Context) Result {
		return Result{OK: ctx.Err() == nil, Err: errors.New("x")}
	})
	r := p.Probe(t.Context())
	assert.True(t, r.OK)
	assert.EqualError(t, r.Err, "x")
}
