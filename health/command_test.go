package health

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		command  []string
		wantKind CommandKind
		wantArgv []string
		wantErr  string
	}{
		{"CMD", []string{"CMD", "curl", "-f", "http://localhost/"}, CommandExec, []string{"curl", "-f", "http://localhost/"}, ""},
		{"CMD single", []string{"CMD", "/healthz"}, CommandExec, []string{"/healthz"}, ""},
		{"CMD keeps empty later args", []string{"CMD", "echo", ""}, CommandExec, []string{"echo", ""}, ""},
		{"CMD-SHELL", []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, CommandShell, []string{"/bin/sh", "-c", "curl -f http://localhost/ || exit 1"}, ""},
		{"CMD-SHELL joins", []string{"CMD-SHELL", "test", "-f", "/ready"}, CommandShell, []string{"/bin/sh", "-c", "test -f /ready"}, ""},
		{"empty", nil, "", nil, "command is empty"},
		{"NONE is not ECS", []string{"NONE"}, "", nil, `first element "NONE", want CMD or CMD-SHELL`},
		{"lower case", []string{"cmd", "true"}, "", nil, `first element "cmd"`},
		{"bare command", []string{"curl", "-f", "http://localhost/"}, "", nil, `first element "curl"`},
		{"CMD alone", []string{"CMD"}, "", nil, "CMD needs an executable"},
		{"CMD empty executable", []string{"CMD", ""}, "", nil, "CMD needs an executable"},
		{"CMD-SHELL alone", []string{"CMD-SHELL"}, "", nil, "CMD-SHELL needs a shell command"},
		{"CMD-SHELL blank", []string{"CMD-SHELL", "  "}, "", nil, "CMD-SHELL needs a shell command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind, argv, err := ParseCommand(tt.command)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidCommand)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Empty(t, kind)
				assert.Nil(t, argv)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantKind, kind)
			assert.Equal(t, tt.wantArgv, argv)
		})
	}
}

func TestParseCommandDoesNotAlias(t *testing.T) {
	t.Parallel()
	command := []string{"CMD", "true"}
	_, argv, err := ParseCommand(command)
	require.NoError(t, err)
	argv[0] = "false"
	assert.Equal(t, []string{"CMD", "true"}, command)
}

func FuzzParseCommand(f *testing.F) {
	f.Add("CMD\x00curl\x00-f\x00http://localhost/")
	f.Add("CMD-SHELL\x00exit 0")
	f.Add("NONE")
	f.Add("")
	f.Fuzz(func(t *testing.T, joined string) {
		var command []string
		if joined != "" {
			command = strings.Split(joined, "\x00")
		}
		kind, argv, err := ParseCommand(command)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidCommand)
			return
		}
		require.NotEmpty(t, argv)
		require.NotEmpty(t, argv[0])
		switch kind {
		case CommandExec:
			require.Equal(t, command[1:], argv)
		case CommandShell:
			require.Len(t, argv, 3)
			require.Equal(t, []string{"/bin/sh", "-c"}, argv[:2])
			require.Equal(t, strings.Join(command[1:], " "), argv[2])
		default:
			t.Fatalf("unexpected kind %q", kind)
		}
	})
}
