package healthcmd

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErrorElement checks that errors name the element at fault, which
// package task turns into the field path command[i].
func TestErrorElement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		command []string
		element int
	}{
		{nil, -1},
		{[]string{"NONE"}, 0},
		{[]string{"CMD"}, -1},
		{[]string{"HTTP"}, -1},
		{[]string{"HTTP", "ftp://x/"}, 1},
		{[]string{"HTTP", "http://x/", "700"}, 2},
		{[]string{"TCP", "x"}, 1},
		{[]string{"TCP", "1", "2"}, -1},
	}
	for _, tt := range tests {
		_, err := Parse(tt.command)
		var e *Error
		require.True(t, errors.As(err, &e), "%q: %v", tt.command, err)
		assert.Equal(t, tt.element, e.Element, "%q: %v", tt.command, err)
	}
}
