package fake

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake/shell"
)

// Method names, as recorded in Call.Method and accepted by CallsTo.
const (
	MethodEnsureImage = "EnsureImage"
	MethodRemoveImage = "RemoveImage"
	MethodCreate      = "Create"
	MethodStart       = "Start"
	MethodWait        = "Wait"
	MethodSignal      = "Signal"
	MethodExec        = "Exec"
	MethodStats       = "Stats"
	MethodInspect     = "Inspect"
	MethodList        = "List"
	MethodDelete      = "Delete"
	// MethodVerifyImageAccess is runtime.AccessVerifier's method.
	MethodVerifyImageAccess = "VerifyImageAccess"
)

var methods = map[string]bool{
	MethodEnsureImage: true, MethodRemoveImage: true, MethodCreate: true, MethodStart: true, MethodWait: true,
	MethodSignal: true, MethodExec: true, MethodStats: true, MethodInspect: true,
	MethodList: true, MethodDelete: true, MethodVerifyImageAccess: true,
}

// Call is one recorded call of a runtime.Runtime method. Fields that do not
// apply to the method are zero.
type Call struct {
	// Method is the method's name, such as "Start" (see the Method
	// constants).
	Method string
	// ID is the container ID; empty for EnsureImage, RemoveImage and List.
	ID string
	// Ref is the image reference of EnsureImage and RemoveImage.
	Ref string
	// Auth is a copy of EnsureImage's credentials, kept so that tests can
	// check what reached the runtime. Unlike a real runtime, which never
	// stores credentials, the fake keeps them for the Runtime's lifetime;
	// String leaves the password out.
	Auth *runtime.Auth
	// Spec is a copy of Create's ContainerSpec (its Stdout and Stderr are
	// the caller's writers), shared with the container it created: read
	// it, do not change it.
	Spec *runtime.ContainerSpec
	// Signal is the signal sent by Signal.
	Signal syscall.Signal
	// Cmd is the command of Exec.
	Cmd []string
	// Selector is List's label selector.
	Selector map[string]string
	// Time is when the call began.
	Time time.Time
	// Err is the error the call returned.
	Err error
}

// String describes the call in one line, without credentials.
func (c Call) String() string {
	var b strings.Builder
	b.WriteString(c.Method)
	b.WriteByte('(')
	var args []string
	if c.ID != "" {
		args = append(args, fmt.Sprintf("%q", c.ID))
	}
	switch c.Method {
	case MethodRemoveImage:
		args = append(args, fmt.Sprintf("%q", c.Ref))
	case MethodEnsureImage, MethodVerifyImageAccess:
		args = append(args, fmt.Sprintf("%q", c.Ref))
		if c.Auth != nil {
			args = append(args, fmt.Sprintf("auth user %q", c.Auth.Username))
		}
	case MethodCreate:
		if c.Spec != nil {
			args = append(args, fmt.Sprintf("image %q", c.Spec.Image))
		}
	case MethodSignal:
		args = append(args, shell.SignalName(c.Signal))
	case MethodExec:
		args = append(args, fmt.Sprintf("%q", c.Cmd))
	case MethodList:
		args = append(args, fmt.Sprintf("%v", c.Selector))
	}
	b.WriteString(strings.Join(args, ", "))
	b.WriteByte(')')
	if c.Err != nil {
		b.WriteString(": ")
		b.WriteString(c.Err.Error())
	}
	return b.String()
}

// Container is a snapshot of one container, for assertions.
type Container struct {
	// Spec is the spec the container was created with.
	Spec runtime.ContainerSpec
	// Info is what Inspect would return.
	Info runtime.ContainerInfo
	// Signals are the signals the main process received, in order.
	// Signals sent when it was not running are not included.
	Signals []ReceivedSignal
	// Execs counts the Execs run in the container.
	Execs int
	// Stdout and Stderr are what the main process wrote, up to the first
	// 64 KiB of each.
	Stdout string
	Stderr string
}

// ReceivedSignal is one signal delivered to a main process.
type ReceivedSignal struct {
	Signal syscall.Signal
	Time   time.Time
}

// callLog keeps every call, in order, in chunks of a fixed size: a slice
// of all of them would copy them all each time it grows, tens of
// megabytes over ten thousand tasks.
type callLog struct {
	chunks [][]Call
}

const callChunk = 1024

// add appends call and returns where it is kept, which stays put.
func (l *callLog) add(call *Call) *Call {
	if n := len(l.chunks); n == 0 || len(l.chunks[n-1]) == callChunk {
		l.chunks = append(l.chunks, make([]Call, 0, callChunk))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, *call)
	return &(*last)[len(*last)-1]
}

// all returns a copy of every call, in order.
func (l *callLog) all() []Call {
	var n int
	for _, chunk := range l.chunks {
		n += len(chunk)
	}
	if n == 0 {
		return nil
	}
	out := make([]Call, 0, n)
	for _, chunk := range l.chunks {
		out = append(out, chunk...)
	}
	return out
}
