// Package healthcmd parses container health-check commands: ECS's CMD and
// CMD-SHELL forms and Stevedore's HTTP and TCP forms. Package task validates
// definitions with it and package health builds probers from it; neither
// can import the other, and both must agree on what a command means.
//
// It depends on the standard library only.
package healthcmd

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Kind is the form of a command: its first element.
type Kind string

// The command forms.
const (
	Exec  Kind = "CMD"
	Shell Kind = "CMD-SHELL"
	HTTP  Kind = "HTTP"
	TCP   Kind = "TCP"
)

// Kinds lists the forms, for messages.
const Kinds = `"CMD", "CMD-SHELL", "HTTP" or "TCP"`

// shell is what CMD-SHELL commands run with, as in ECS and Docker on Linux.
var shell = [...]string{"/bin/sh", "-c"}

// Command is a parsed health-check command.
type Command struct {
	Kind Kind
	// Argv is what CMD and CMD-SHELL run in the container.
	Argv []string
	// Host is what HTTP and TCP checks connect to; empty means the
	// prober's default (the task's loopback).
	Host string
	// Port is the port HTTP and TCP checks connect to.
	Port int
	// Path is the path and query an HTTP check requests; it starts with /.
	Path string
	// Status is the HTTP check's status matcher as written; empty means
	// the prober's default.
	Status string
}

// Error is one broken rule of a command.
type Error struct {
	// Element is the index of the element at fault, -1 for the command as
	// a whole (a missing or extra element).
	Element int
	// Rule says what is wrong.
	Rule string
}

// Error implements error.
func (e *Error) Error() string { return e.Rule }

func errorf(element int, format string, args ...any) *Error {
	return &Error{Element: element, Rule: fmt.Sprintf(format, args...)}
}

// Parse parses a command. Several elements after CMD-SHELL are joined with
// spaces, as Docker does (ECS itself wants exactly one; package task says
// so). Errors are *Error.
func Parse(command []string) (Command, error) {
	if len(command) == 0 {
		return Command{}, errorf(-1, "command is empty, want %s followed by what to check", Kinds)
	}
	c := Command{Kind: Kind(command[0])}
	rest := command[1:]
	switch c.Kind {
	case Exec:
		if len(rest) == 0 || rest[0] == "" {
			return Command{}, errorf(-1, `"CMD" must be followed by the command to run`)
		}
		c.Argv = append([]string(nil), rest...)
	case Shell:
		script := strings.Join(rest, " ")
		if strings.TrimSpace(script) == "" {
			return Command{}, errorf(-1, `"CMD-SHELL" must be followed by a shell command`)
		}
		c.Argv = []string{shell[0], shell[1], script}
	case HTTP:
		if len(rest) < 1 || len(rest) > 2 {
			return Command{}, errorf(-1, `"HTTP" must be followed by a URL and, optionally, the expected status codes ("200-399")`)
		}
		if err := c.parseURL(rest[0]); err != nil {
			return Command{}, err
		}
		if len(rest) == 2 {
			if _, err := ParseStatus(rest[1]); err != nil {
				return Command{}, errorf(2, "%v", err)
			}
			c.Status = rest[1]
		}
	case TCP:
		if len(rest) != 1 {
			return Command{}, errorf(-1, `"TCP" must be followed by exactly one "port" or "host:port"`)
		}
		if err := c.parseAddr(rest[0]); err != nil {
			return Command{}, err
		}
	default:
		return Command{}, errorf(0, "%q: must be %s", command[0], Kinds)
	}
	return c, nil
}

// parseURL reads an HTTP check's URL: http://host[:port][/path][?query].
func (c *Command) parseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errorf(1, "%q is not a URL: %v", raw, unwrapURLError(err))
	}
	switch {
	case u.Scheme != "http":
		return errorf(1, "%q: the scheme must be http", raw)
	case u.Opaque != "" || u.Hostname() == "":
		return errorf(1, "%q: want http://host[:port]/path", raw)
	case u.User != nil:
		return errorf(1, "%q: must not carry user information", raw)
	}
	c.Host = u.Hostname()
	c.Port = 80
	if p := u.Port(); p != "" {
		if c.Port, err = parsePort(p); err != nil {
			return errorf(1, "%q: %v", raw, err)
		}
	}
	c.Path = u.EscapedPath()
	if c.Path == "" {
		c.Path = "/"
	}
	if u.RawQuery != "" {
		c.Path += "?" + u.RawQuery
	}
	return nil
}

// parseAddr reads a TCP check's "port" or "host:port".
func (c *Command) parseAddr(s string) error {
	host, port := "", s
	if strings.Contains(s, ":") {
		var err error
		if host, port, err = net.SplitHostPort(s); err != nil {
			return errorf(1, "%q: want a port or host:port", s)
		}
		if host == "" || strings.ContainsAny(host, " \t/") {
			return errorf(1, "%q: want a port or host:port", s)
		}
	}
	p, err := parsePort(port)
	if err != nil {
		return errorf(1, "%q: %v", s, err)
	}
	c.Host, c.Port = host, p
	return nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("port %q must be a number between 1 and 65535", s)
	}
	return p, nil
}

// unwrapURLError drops the "parse <url>:" prefix url.Parse puts on its
// errors, which the caller already quotes.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// Range is an inclusive range of HTTP status codes.
type Range struct{ Lo, Hi int }

// ParseStatus parses a comma-separated list of HTTP status codes and
// inclusive ranges ("lo-hi"), each within 100-599, as in "200",
// "200-299,302". Spaces around elements are allowed.
func ParseStatus(spec string) ([]Range, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("status codes: empty")
	}
	var ranges []Range
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		loText, hiText, isRange := strings.Cut(part, "-")
		lo, err := parseStatusCode(spec, loText)
		if err != nil {
			return nil, err
		}
		hi := lo
		if isRange {
			if hi, err = parseStatusCode(spec, hiText); err != nil {
				return nil, err
			}
			if hi < lo {
				return nil, fmt.Errorf("%q: range %q ends before it starts", spec, part)
			}
		}
		ranges = append(ranges, Range{lo, hi})
	}
	return ranges, nil
}

func parseStatusCode(spec, s string) (int, error) {
	s = strings.TrimSpace(s)
	code, err := strconv.Atoi(s)
	if err != nil || len(s) != 3 {
		return 0, fmt.Errorf("%q: %q is not a three-digit status code", spec, s)
	}
	if code < 100 || code > 599 {
		return 0, fmt.Errorf("%q: status %d out of range [100, 599]", spec, code)
	}
	return code, nil
}
