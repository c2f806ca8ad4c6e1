package fake

import (
	"strings"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore/runtime/fake/shell"
	"github.com/stretchr/testify/assert"
)

// shellEnv is a container's environment as the fake builds it for execs.
var shellEnv = shell.Env{
	Vars:     append(shell.DefaultEnv(), "FOO=bar"),
	Hostname: "web-1",
	Workdir:  "/srv",
}

func TestExecReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd   []string
		want  ExecReply
		known bool
	}{
		{[]string{"true"}, ExecReply{}, true},
		{[]string{"false"}, ExecReply{ExitCode: 1}, true},
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 4"}, ExecReply{ExitCode: 4, Output: "out\nerr\n"}, true},
		{[]string{"sleep", "3"}, ExecReply{Takes: 3 * time.Second}, true},
		{[]string{"sleep", "infinity"}, ExecReply{Takes: Forever}, true},
		{[]string{"curl", "-f", "http://localhost/"}, ExecReply{}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.cmd, " "), func(t *testing.T) {
			t.Parallel()
			got, known := execReply(tt.cmd, shellEnv)
			assert.Equal(t, tt.known, known)
			assert.Equal(t, tt.want, got)
		})
	}
}
