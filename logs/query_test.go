package logs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/logs"
)

func TestParsePattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		line    string
		keeps   bool
	}{
		{"", "anything", true},
		{"ERROR timeout", "ERROR: read timeout", true},
		{"ERROR timeout", "ERROR: refused", false},
		{`"connection refused"`, "dial: connection refused", true},
		{`"connection refused"`, "connection was refused", false},
		{`"a b" c`, "x a b y c", true},
	}
	for _, tt := range tests {
		p, err := logs.ParsePattern(tt.pattern)
		require.NoError(t, err, tt.pattern)
		assert.Equal(t, tt.keeps, p.Terms(tt.line), "%q on %q", tt.pattern, tt.line)
		assert.Nil(t, p.Regexp)
	}
	p, err := logs.ParsePattern("%^GET /api/[0-9]+%")
	require.NoError(t, err)
	require.NotNil(t, p.Regexp)
	assert.True(t, p.Regexp.MatchString("GET /api/42"))
	assert.True(t, p.Terms("anything"), "a regular expression is applied by the query")

	_, err = logs.ParsePattern("%(%")
	assert.ErrorContains(t, err, "bad regular expression")
	_, err = logs.ParsePattern(`"open`)
	assert.ErrorContains(t, err, "unterminated quoted phrase")
}

func TestCursorsSurviveAppendsAndRoundTrip(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	entries := []logs.Entry{{Time: t0}, {Time: t0.Add(time.Second)}, {Time: t0.Add(time.Second)}, {Time: t0.Add(2 * time.Second)}}
	for i := range len(entries) + 1 {
		c := logs.CursorAt(entries, i)
		assert.Equal(t, i, c.Index(entries), "position %d", i)
		for _, forward := range []bool{true, false} {
			fw, back, err := logs.ParseToken(c.Token(forward))
			require.NoError(t, err)
			assert.Equal(t, forward, fw)
			assert.Equal(t, i, back.Index(entries))
		}
	}
	// Between the two events of the same second: an event appended at that
	// second later comes after the position.
	c := logs.CursorAt(entries, 2)
	more := append(entries[:3:3], logs.Entry{Time: t0.Add(time.Second)}, entries[3])
	assert.Equal(t, 2, c.Index(more))

	for _, bad := range []string{"", "!!", "eC8xLzI"} {
		_, _, err := logs.ParseToken(bad)
		assert.ErrorIs(t, err, logs.ErrBadToken, "%q", bad)
	}
}

func TestPage(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	var entries []logs.Entry
	for i := range 10 {
		entries = append(entries, logs.Entry{Time: t0.Add(time.Duration(i) * time.Second)})
	}
	at := logs.CursorAt(entries, 4)
	for _, tt := range []struct {
		name       string
		forward    bool
		token      *logs.Cursor
		start, end int
	}{
		{"first page from the head", true, nil, 0, 3},
		{"first page from the tail", false, nil, 7, 10},
		{"forward after a token", true, &at, 4, 7},
		{"backward before a token", false, &at, 1, 4},
	} {
		start, end := logs.Page(entries, 3, tt.forward, tt.token)
		assert.Equal(t, [2]int{tt.start, tt.end}, [2]int{start, end}, tt.name)
	}
}
