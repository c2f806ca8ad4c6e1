package health

import (
	"fmt"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/healthcmd"
)

// ErrInvalidCommand is wrapped by every error ParseCommand and ParseCheck
// return.
// It matches errdefs.ErrInvalid.
var ErrInvalidCommand = errdefs.New(errdefs.ErrInvalid, "health: invalid command")

// CommandKind is the form of a health-check command: its first element.
type CommandKind string

// Command forms. CMD and CMD-SHELL are ECS's and run in the container; HTTP
// and TCP are Stevedore's and are run by the agent from inside the task's
// network namespace, so that images need no curl.
const (
	// CommandExec runs the remaining elements directly, without a shell.
	CommandExec CommandKind = CommandKind(healthcmd.Exec)
	// CommandShell runs the remaining element with the container's shell,
	// /bin/sh -c.
	CommandShell CommandKind = CommandKind(healthcmd.Shell)
	// CommandHTTP sends GET to the URL that follows, http://host[:port]/path
	// (port 80 by default), and passes on a status in the optional third
	// element ("200-399" by default, see ParseStatusMatcher).
	CommandHTTP CommandKind = CommandKind(healthcmd.HTTP)
	// CommandTCP passes when a TCP connection to the "port" or "host:port"
	// that follows is accepted (host DefaultHost by default).
	CommandTCP CommandKind = CommandKind(healthcmd.TCP)
)

// DefaultHost is the host of HTTP and TCP checks whose command names none:
// the task's own loopback, reached by dialling from inside the task's
// network namespace.
const DefaultHost = "127.0.0.1"

// DefaultExpectedStatus is the HTTP status range an HTTP check accepts when
// its command names none. It matches `curl -f` without -L: any status below
// 400 passes.
const DefaultExpectedStatus = "200-399"

// IsNetwork reports whether checks of this kind are network probes (HTTP
// or TCP) rather than commands run in the container.
func (k CommandKind) IsNetwork() bool { return k == CommandHTTP || k == CommandTCP }

// Check is a parsed health-check command.
type Check struct {
	// Kind is the command's form.
	Kind CommandKind
	// Argv is the command line CMD and CMD-SHELL checks run in the
	// container; nil for HTTP and TCP checks.
	Argv []string
	// Host and Port are what HTTP and TCP checks connect to; Host is
	// DefaultHost unless the command names one. "localhost" and 127.0.0.1
	// mean the task's own loopback when the check is dialled from inside
	// the task's network namespace.
	Host string
	Port int
	// Path is the path and query of an HTTP check; it starts with "/".
	Path string
	// ExpectedStatus is the HTTP statuses that pass, DefaultExpectedStatus
	// unless the command gives its own.
	ExpectedStatus string
}

// ParseCheck parses a health-check command:
//
//	["CMD", "curl", "-f", "http://localhost/"]       exec in the container
//	["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
//	["HTTP", "http://localhost:8080/healthz"]        GET, 200-399 pass
//	["HTTP", "http://localhost:8080/healthz", "200"] GET, only 200 passes
//	["TCP", "8080"]                                  connect to 127.0.0.1:8080
//	["TCP", "localhost:8080"]
//
// Several elements after CMD-SHELL are joined with spaces, as Docker does.
// Errors wrap ErrInvalidCommand: an empty command, a first element other
// than CMD, CMD-SHELL, HTTP or TCP (ECS does not accept Docker's NONE),
// nothing to run or connect to after it, a URL other than http://, a port
// outside 1-65535, or a bad status matcher.
func ParseCheck(command []string) (Check, error) {
	c, err := healthcmd.Parse(command)
	if err != nil {
		return Check{}, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	chk := Check{Kind: CommandKind(c.Kind), Argv: c.Argv}
	if chk.Kind.IsNetwork() {
		chk.Host, chk.Port, chk.Path = c.Host, c.Port, c.Path
		if chk.Host == "" {
			chk.Host = DefaultHost
		}
	}
	if chk.Kind == CommandHTTP {
		chk.ExpectedStatus = c.Status
		if chk.ExpectedStatus == "" {
			chk.ExpectedStatus = DefaultExpectedStatus
		}
	}
	return chk, nil
}

// ParseCommand parses a health-check command (see ParseCheck) and returns
// its form and, for CMD and CMD-SHELL, the argv to execute in the
// container:
//
//	["CMD", "curl", "-f", "http://localhost/"]   -> CMD, [curl -f http://localhost/]
//	["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
//	                                             -> CMD-SHELL, [/bin/sh -c "curl -f ... || exit 1"]
//	["TCP", "8080"]                              -> TCP, nil
//
// HTTP and TCP checks have nothing to execute: their argv is nil. Errors
// wrap ErrInvalidCommand.
func ParseCommand(command []string) (CommandKind, []string, error) {
	c, err := ParseCheck(command)
	if err != nil {
		return "", nil, err
	}
	return c.Kind, c.Argv, nil
}
