package health

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidCommand is wrapped by every error ParseCommand returns.
var ErrInvalidCommand = errors.New("health: invalid command")

// CommandKind is the form of an ECS health-check command: its first element.
type CommandKind string

// Command forms accepted by ECS.
const (
	// CommandExec runs the remaining elements directly, without a shell.
	CommandExec CommandKind = "CMD"
	// CommandShell runs the remaining element with the container's shell,
	// /bin/sh -c.
	CommandShell CommandKind = "CMD-SHELL"
)

// shell is what CMD-SHELL commands run with, as in ECS and Docker on Linux.
var shell = [...]string{"/bin/sh", "-c"}

// ParseCommand parses an ECS healthCheck command and returns its form and
// the argv to execute in the container:
//
//	["CMD", "curl", "-f", "http://localhost/"]   -> CMD, [curl -f http://localhost/]
//	["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
//	                                             -> CMD-SHELL, [/bin/sh -c "curl -f ... || exit 1"]
//
// Several elements after CMD-SHELL are joined with spaces, as Docker does.
// Errors wrap ErrInvalidCommand: an empty command, a first element other
// than CMD or CMD-SHELL (ECS does not accept Docker's NONE), or nothing to
// run after it.
func ParseCommand(command []string) (CommandKind, []string, error) {
	if len(command) == 0 {
		return "", nil, fmt.Errorf("%w: command is empty, want CMD or CMD-SHELL followed by what to run", ErrInvalidCommand)
	}
	kind, rest := CommandKind(command[0]), command[1:]
	switch kind {
	case CommandExec:
		if len(rest) == 0 || rest[0] == "" {
			return "", nil, fmt.Errorf("%w: CMD needs an executable after it", ErrInvalidCommand)
		}
		return kind, append([]string(nil), rest...), nil
	case CommandShell:
		script := strings.Join(rest, " ")
		if strings.TrimSpace(script) == "" {
			return "", nil, fmt.Errorf("%w: CMD-SHELL needs a shell command after it", ErrInvalidCommand)
		}
		return kind, []string{shell[0], shell[1], script}, nil
	default:
		return "", nil, fmt.Errorf("%w: first element %q, want CMD or CMD-SHELL", ErrInvalidCommand, command[0])
	}
}
