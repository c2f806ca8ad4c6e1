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
		{"NONE is not ECS", []string{"NONE"}, "", nil, `"NONE": must be "CMD", "CMD-SHELL", "HTTP" or "TCP"`},
		{"lower case", []string{"cmd", "true"}, "", nil, `"cmd": must be`},
		{"bare command", []string{"curl", "-f", "http://localhost/"}, "", nil, `"curl": must be`},
		{"CMD alone", []string{"CMD"}, "", nil, `"CMD" must be followed by the command to run`},
		{"CMD empty executable", []string{"CMD", ""}, "", nil, `"CMD" must be followed by the command to run`},
		{"CMD-SHELL alone", []string{"CMD-SHELL"}, "", nil, `"CMD-SHELL" must be followed by a shell command`},
		{"CMD-SHELL blank", []string{"CMD-SHELL", "  "}, "", nil, `"CMD-SHELL" must be followed by a shell command`},
		{"HTTP has no argv", []string{"HTTP", "http://localhost/"}, CommandHTTP, nil, ""},
		{"TCP has no argv", []string{"TCP", "80"}, CommandTCP, nil, ""},
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
	f.Add("HTTP\x00http://localhost:8080/healthz?x=1\x00200-299,302")
	f.Add("TCP\x00[::1]:5432")
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
		if kind.IsNetwork() {
			// probe.FuzzNewNet checks that each makes a prober.
			require.Nil(t, argv)
			_, err := ParseCheck(command)
			require.NoError(t, err)
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

func TestParseCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command []string
		want    Check
		wantErr string
	}{
		{"HTTP localhost", []string{"HTTP", "http://localhost:8080/healthz"},
			Check{Kind: CommandHTTP, Host: "localhost", Port: 8080, Path: "/healthz", ExpectedStatus: "200-399"}, ""},
		{"HTTP default port and path", []string{"HTTP", "http://127.0.0.1"},
			Check{Kind: CommandHTTP, Host: "127.0.0.1", Port: 80, Path: "/", ExpectedStatus: "200-399"}, ""},
		{"HTTP query and status", []string{"HTTP", "http://[::1]:81/a%20b?deep=1", "200,204"},
			Check{Kind: CommandHTTP, Host: "::1", Port: 81, Path: "/a%20b?deep=1", ExpectedStatus: "200,204"}, ""},
		{"TCP port", []string{"TCP", "8080"}, Check{Kind: CommandTCP, Host: "127.0.0.1", Port: 8080}, ""},
		{"TCP host:port", []string{"TCP", "db.local:5432"}, Check{Kind: CommandTCP, Host: "db.local", Port: 5432}, ""},
		{"TCP IPv6", []string{"TCP", "[::1]:6379"}, Check{Kind: CommandTCP, Host: "::1", Port: 6379}, ""},
		{"CMD", []string{"CMD", "true"}, Check{Kind: CommandExec, Argv: []string{"true"}}, ""},
		{"HTTP alone", []string{"HTTP"}, Check{}, `"HTTP" must be followed by a URL`},
		{"HTTP four elements", []string{"HTTP", "http://localhost/", "200", "x"}, Check{}, `"HTTP" must be followed by a URL`},
		{"HTTPS", []string{"HTTP", "https://localhost/"}, Check{}, "the scheme must be http"},
		{"HTTP no scheme", []string{"HTTP", "localhost:8080/healthz"}, Check{}, "the scheme must be http"},
		{"HTTP no host", []string{"HTTP", "http:///healthz"}, Check{}, "want http://host[:port]/path"},
		{"HTTP user", []string{"HTTP", "http://u:p@localhost/"}, Check{}, "must not carry user information"},
		{"HTTP port 0", []string{"HTTP", "http://localhost:0/"}, Check{}, `port "0" must be a number between 1 and 65535`},
		{"HTTP bad URL", []string{"HTTP", "http://local host/"}, Check{}, "is not a URL"},
		{"HTTP bad status", []string{"HTTP", "http://localhost/", "2xx"}, Check{}, `"2xx" is not a three-digit status code`},
		{"TCP alone", []string{"TCP"}, Check{}, `"TCP" must be followed by exactly one "port" or "host:port"`},
		{"TCP two", []string{"TCP", "80", "81"}, Check{}, `"TCP" must be followed by exactly one`},
		{"TCP name", []string{"TCP", "http"}, Check{}, `port "http" must be a number`},
		{"TCP too high", []string{"TCP", "localhost:70000"}, Check{}, `port "70000" must be a number between 1 and 65535`},
		{"TCP empty host", []string{"TCP", ":80"}, Check{}, "want a port or host:port"},
		{"TCP URL", []string{"TCP", "tcp://localhost:80"}, Check{}, "want a port or host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCheck(tt.command)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidCommand)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c)
		})
	}
}
