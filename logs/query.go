package logs

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Paging and filtering of query results, as CloudWatch Logs' GetLogEvents
// and FilterLogEvents page and filter: the Orchestrator's log API is built
// on them.

// Pattern is a parsed filter pattern for unstructured logs: a regular
// expression (Regexp, for Query.Match), or terms that must all appear in a
// line (Terms).
type Pattern struct {
	// Regexp is the expression of a "%...%" pattern; nil otherwise.
	Regexp *regexp.Regexp
	words  []string
}

// Terms reports whether msg holds every term of the pattern (true for a
// regular expression pattern, which Query.Match applies).
func (p Pattern) Terms(msg string) bool {
	for _, w := range p.words {
		if !strings.Contains(msg, w) {
			return false
		}
	}
	return true
}

// ParsePattern parses a CloudWatch filter pattern: "ERROR timeout" keeps
// lines holding both words, "\"connection refused\"" the quoted phrase, and
// "%^GET /api/[0-9]+%" lines matching the regular expression between the
// percent signs. Empty keeps every line.
func ParsePattern(s string) (Pattern, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && strings.HasPrefix(s, "%") && strings.HasSuffix(s, "%") {
		re, err := regexp.Compile(s[1 : len(s)-1])
		if err != nil {
			return Pattern{}, fmt.Errorf("bad regular expression: %v", err)
		}
		return Pattern{Regexp: re}, nil
	}
	var p Pattern
	for s != "" {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return Pattern{}, fmt.Errorf("unterminated quoted phrase in %q", s)
			}
			p.words = append(p.words, s[1:1+end])
			s = strings.TrimSpace(s[end+2:])
			continue
		}
		word, rest, _ := strings.Cut(s, " ")
		p.words = append(p.words, word)
		s = strings.TrimSpace(rest)
	}
	return p, nil
}

// Cursor is a position between entries in time order: after every entry
// older than its time and the first n entries at that time. It survives
// new entries being appended, so a token made of it reads on later.
type Cursor struct {
	at time.Time
	n  int
}

// CursorAt is the position before entries[i] (entries in time order).
func CursorAt(entries []Entry, i int) Cursor {
	if i == 0 {
		return Cursor{}
	}
	c := Cursor{at: entries[i-1].Time}
	for j := i - 1; j >= 0 && entries[j].Time.Equal(c.at); j-- {
		c.n++
	}
	return c
}

// Index is the index of the first entry after the position.
func (c Cursor) Index(entries []Entry) int {
	i, _ := slices.BinarySearchFunc(entries, c.at, func(e Entry, t time.Time) int { return e.Time.Compare(t) })
	for k := 0; k < c.n && i < len(entries) && entries[i].Time.Equal(c.at); k++ {
		i++
	}
	return i
}

// Token encodes the position and a direction as an opaque page token.
func (c Cursor) Token(forward bool) string {
	dir := "b"
	if forward {
		dir = "f"
	}
	var ns int64
	if !c.at.IsZero() {
		ns = c.at.UnixNano()
	}
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s/%d/%d", dir, ns, c.n))
}

// ErrBadToken means a page token was not made by Cursor.Token.
// It matches errdefs.ErrInvalid.
var ErrBadToken = errdefs.New(errdefs.ErrInvalid, "logs: not a page token")

// ParseToken decodes a token of Cursor.Token. Errors wrap ErrBadToken.
func ParseToken(tok string) (forward bool, c Cursor, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return false, c, ErrBadToken
	}
	parts := strings.Split(string(raw), "/")
	if len(parts) != 3 || (parts[0] != "f" && parts[0] != "b") {
		return false, c, ErrBadToken
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	n, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || n < 0 {
		return false, c, ErrBadToken
	}
	if ns != 0 {
		c.at = time.Unix(0, ns)
	}
	c.n = n
	return parts[0] == "f", c, nil
}

// Page is the range entries[start:end] one page of at most limit entries
// covers, reading forward (oldest first from the start, or after the
// token's position) or backward (the newest, or those before the token's
// position). token is nil for a first page.
func Page(entries []Entry, limit int, forward bool, token *Cursor) (start, end int) {
	switch {
	case forward && token == nil:
		return 0, min(limit, len(entries))
	case forward:
		start = token.Index(entries)
		return start, min(start+limit, len(entries))
	}
	end = len(entries)
	if token != nil {
		end = token.Index(entries)
	}
	return max(0, end-limit), end
}
