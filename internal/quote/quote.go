// Package quote cuts user input short for error messages: an error names
// what it was given, but a name of a megabyte must not come back whole in
// the error, the logs carrying it and an API answer. Every package that
// echoes input in errors cuts it the same way, here.
package quote

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxBytes is how much of a value an error quotes.
const MaxBytes = 64

// Quote returns s quoted as by %q, cut after MaxBytes bytes (at a
// character boundary) and followed by the length of the whole when it was
// longer: "abc", or "aaaa…"... (70000 bytes).
func Quote(s string) string {
	head, tail := shorten(s)
	return strconv.Quote(head) + tail
}

// Clip returns s cut as Quote cuts it, unquoted.
func Clip(s string) string {
	head, tail := shorten(s)
	return head + tail
}

func shorten(s string) (head, tail string) {
	if len(s) <= MaxBytes {
		return s, ""
	}
	cut := MaxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], fmt.Sprintf("... (%d bytes)", len(s))
}
