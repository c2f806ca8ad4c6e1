package quote_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/internal/quote"
)

func TestQuoteAndClip(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `"web"`, quote.Quote("web"))
	assert.Equal(t, "web", quote.Clip("web"))
	long := strings.Repeat("a", 70000)
	assert.Equal(t, `"`+strings.Repeat("a", quote.MaxBytes)+`"... (70000 bytes)`, quote.Quote(long))
	assert.Equal(t, strings.Repeat("a", quote.MaxBytes)+"... (70000 bytes)", quote.Clip(long))
	// A cut never splits a character.
	runes := strings.Repeat("é", 100) // 2 bytes each
	clipped := quote.Clip("x" + runes)
	head, _, _ := strings.Cut(clipped, "...")
	assert.True(t, utf8.ValidString(head))
	assert.LessOrEqual(t, len(head), quote.MaxBytes)
}
