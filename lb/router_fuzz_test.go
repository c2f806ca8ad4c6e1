package lb

import (
	"regexp"
	"strings"
	"testing"
)

// refMatchHost is the reference for matchHost: the textbook dynamic
// program over (pattern prefix, host prefix), byte by byte, with no
// shortcut that a literal '*' or '?' in the host could confuse.
func refMatchHost(pattern, host string) bool {
	host = strings.ToLower(host)
	// m[j]: pattern[:i] matches host[:j], for the current i.
	m := make([]bool, len(host)+1)
	m[0] = true
	for i := range len(pattern) {
		next := make([]bool, len(host)+1)
		switch pattern[i] {
		case '*':
			next[0] = m[0]
			for j := 1; j <= len(host); j++ {
				next[j] = m[j] || next[j-1]
			}
		default:
			for j := 1; j <= len(host); j++ {
				next[j] = m[j-1] && (pattern[i] == '?' || pattern[i] == host[j-1])
			}
		}
		m = next
	}
	return m[len(host)]
}

// regexpMatchHost is a second oracle for ASCII inputs: the pattern as a
// regular expression ('*' is .*, '?' is ., everything else literal).
func regexpMatchHost(pattern, host string) bool {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, c := range []byte(pattern) {
		switch c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String()).MatchString(strings.ToLower(host))
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzMatchHost checks matchHost against refMatchHost on any input, and
// against the regular-expression oracle on ASCII input. It found that a
// literal '*' in the host was consumed before the pattern's wildcard
// ("*.example.com" missed "*x.example.com").
func FuzzMatchHost(f *testing.F) {
	for _, s := range [][2]string{
		{"*.example.com", "*x.example.com"},
		{"*.example.com", "www.example.com"},
		{"api-?.example.com", "api-1.example.com"},
		{"a*b*c", "axxbyyc"},
		{"*a", "*ba"},
		{"?*c", "*xc"},
		{"**", ""},
		{"*?*", "?"},
		{"x", "X"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		if len(pattern) > 256 || len(host) > 256 {
			return // hosts are short; keeps the reference's table small
		}
		pattern = strings.ToLower(pattern) // as SetRules stores it
		got := matchHost(pattern, host)
		if want := refMatchHost(pattern, host); got != want {
			t.Fatalf("matchHost(%q, %q) = %v, reference says %v", pattern, host, got, want)
		}
		if isASCII(pattern) && isASCII(host) {
			if want := regexpMatchHost(pattern, host); got != want {
				t.Fatalf("matchHost(%q, %q) = %v, regexp oracle says %v", pattern, host, got, want)
			}
		}
	})
}
