package query

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
)

// setThreshold is the list length from which a list of literal values is
// looked up in a map instead of scanned; below it a scan is faster.
const setThreshold = 8

// stringMatcher decides whether a string equals one of a list of values,
// where a value may hold * wildcards, or matches a regular expression. It is
// built once by Parse and never changed, so it is safe for concurrent use;
// match does not allocate.
type stringMatcher struct {
	literals []string            // values without wildcards, when few
	set      map[string]struct{} // values without wildcards, when many
	globs    []glob              // values with wildcards
	re       *regexp.Regexp      // set for =~ and !~; then the rest is empty
}

func newValueMatcher(values []string) *stringMatcher {
	m := &stringMatcher{}
	var literals []string
	for _, v := range values {
		if strings.IndexByte(v, '*') >= 0 {
			m.globs = append(m.globs, newGlob(v))
			continue
		}
		literals = append(literals, v)
	}
	if len(literals) >= setThreshold {
		m.set = make(map[string]struct{}, len(literals))
		for _, v := range literals {
			m.set[v] = struct{}{}
		}
	} else {
		m.literals = literals
	}
	return m
}

// maxRegexpInsts bounds the size of a compiled regular expression. Go's
// regexp runs in time linear in the input but also in the size of the
// program, which repetition can blow up (a{1000}a{1000}... fits in 2000
// characters); an expression is evaluated for every instance and task, so
// a huge one would stall placement.
const maxRegexpInsts = 1000

// errRegexpTooComplex is wrapped in the SemanticError for a regular
// expression over maxRegexpInsts.
var errRegexpTooComplex = fmt.Errorf("regular expression is too complex (about %d instructions at most)", maxRegexpInsts)

// newRegexpMatcher compiles pattern anchored at both ends: ECS evaluates
// patterns with Java's Matcher.matches, which must match the whole value.
func newRegexpMatcher(pattern string) (*stringMatcher, error) {
	// Parse the pattern alone first so that an error quotes the user's
	// text, not the anchored wrapper.
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	if regexpSize(tree) > maxRegexpInsts {
		return nil, errRegexpTooComplex
	}
	if strings.Contains(pattern, `\Q`) {
		// \Q quotes up to \E or the end, which would swallow the wrapper's
		// closing )$; the parsed form spells the same pattern without it.
		pattern = tree.String()
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, err
	}
	return &stringMatcher{re: re}, nil
}

// regexpSize estimates, from above, how many instructions re compiles to,
// without compiling it: compiling a{1000}a{1000}... just to measure it
// would itself take a long time. It stops counting past maxRegexpInsts.
func regexpSize(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpRepeat:
		copies := re.Max
		if copies < 0 {
			copies = re.Min + 1
		}
		return min(max(copies, 1)*(regexpSize(re.Sub[0])+1), maxRegexpInsts+1)
	}
	n := 1
	for _, sub := range re.Sub {
		n += regexpSize(sub)
		if n > maxRegexpInsts {
			return maxRegexpInsts + 1
		}
	}
	return n
}

func (m *stringMatcher) match(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	if m.set != nil {
		if _, ok := m.set[s]; ok {
			return true
		}
	} else {
		for _, v := range m.literals {
			if s == v {
				return true
			}
		}
	}
	for i := range m.globs {
		if m.globs[i].match(s) {
			return true
		}
	}
	return false
}

// glob is a value with * wildcards: each * matches any run of characters,
// the empty one included. parts are the text between the stars, so a glob
// always has at least two parts.
type glob struct {
	parts  []string
	minLen int
}

func newGlob(pattern string) glob {
	parts := strings.Split(pattern, "*")
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return glob{parts: parts, minLen: n}
}

func (g *glob) match(s string) bool {
	if len(s) < g.minLen {
		return false
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	if !strings.HasSuffix(s, last) {
		return false
	}
	s = s[:len(s)-len(last)]
	for _, mid := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return true
}

// compareVersions compares two agent versions such as "1.14.5" numerically,
// part by part; a missing part counts as 0, so 1.5 equals 1.5.0. A leading v
// and a suffix from the first - or + on (1.14.5-dev, 1.14.5+abc) are
// ignored. ok is false when either is not a version. It does not allocate.
func compareVersions(a, b string) (cmp int, ok bool) {
	a, okA := versionCore(a)
	b, okB := versionCore(b)
	if !okA || !okB {
		return 0, false
	}
	return compareVersionCores(a, b), true
}

// compareVersionCores compares two versions that versionCore returned.
func compareVersionCores(a, b string) int {
	for a != "" || b != "" {
		var pa, pb string
		pa, a = nextVersionPart(a)
		pb, b = nextVersionPart(b)
		if c := compareDigits(pa, pb); c != 0 {
			return c
		}
	}
	return 0
}

// versionCore strips the optional v and suffix and checks that what is left
// is digits separated by single dots.
func versionCore(v string) (string, bool) {
	if v != "" && (v[0] == 'v' || v[0] == 'V') {
		v = v[1:]
	}
	digits := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && digits > 0:
			digits = 0
		case (c == '-' || c == '+') && i > 0:
			return v[:i], digits > 0
		default:
			return "", false
		}
	}
	return v, digits > 0
}

func nextVersionPart(v string) (part, rest string) {
	if v == "" {
		return "0", ""
	}
	if i := strings.IndexByte(v, '.'); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, ""
}

// compareDigits compares two runs of decimal digits as numbers of any size.
func compareDigits(a, b string) int {
	for len(a) > 1 && a[0] == '0' {
		a = a[1:]
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// parseNumber reports whether s is a decimal number such as 42, -1.5 or
// 2e3, and its value. Only that plain form counts (no hex, inf or nan), and
// s is checked before strconv sees it so that a non-number costs no
// allocation.
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	intDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		intDigits++
	}
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			expDigits++
		}
		if expDigits == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// Date layouts ECS documents for registeredAt. A timestamp without a zone is
// taken as UTC.
const (
	layoutDate     = "2006-01-02"
	layoutDateTime = "2006-01-02T15:04:05"
)

// dateRange is a registeredAt argument: the span of time it names. A date
// names a whole day and a timestamp a whole second (or, with a fraction, one
// instant), so that registeredAt == 2018-02-13 holds for every instance
// registered that day.
type dateRange struct {
	from, to time.Time // [from, to)
	layout   string    // how String prints it
}

func parseDateRange(s string) (dateRange, bool) {
	if t, err := time.Parse(layoutDate, s); err == nil {
		return dateRange{from: t, to: t.AddDate(0, 0, 1), layout: layoutDate}, true
	}
	var t time.Time
	var err error
	if strings.HasSuffix(s, "Z") || strings.LastIndexAny(s, "+-") > len(layoutDate) {
		t, err = time.Parse(time.RFC3339, s)
	} else {
		t, err = time.ParseInLocation(layoutDateTime, s, time.UTC)
	}
	if err != nil {
		return dateRange{}, false
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		// A zone offset moved the instant out of the years a layout can
		// print back; String must stay parseable.
		return dateRange{}, false
	}
	if t.Nanosecond() != 0 {
		return dateRange{from: t, to: t.Add(time.Nanosecond), layout: time.RFC3339Nano}, true
	}
	return dateRange{from: t, to: t.Add(time.Second), layout: time.RFC3339}, true
}

func (d dateRange) String() string { return d.from.Format(d.layout) }
