package shell

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testEnv = Env{
	Vars:     append(DefaultEnv(), "FOO=bar", "SPACED=a  b ", "FOO=baz"),
	Hostname: "web-1",
	User:     "1000:2000",
	Workdir:  "/srv",
	PID1:     true,
}

// text returns what p writes to stdout and stderr before it exits.
func text(p *Program) (stdout, stderr string) {
	var o, e strings.Builder
	for _, c := range p.Out {
		if c.At > p.ExitAt {
			continue
		}
		if c.Stderr {
			e.WriteString(c.Text)
		} else {
			o.WriteString(c.Text)
		}
	}
	return o.String(), e.String()
}

func TestInterpret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		argv   []string
		exitAt time.Duration // Forever: runs until a signal
		code   int
		stdout string
		stderr string
	}{
		{"true", []string{"true"}, 0, 0, "", ""},
		{"false", []string{"/bin/false"}, 0, 1, "", ""},
		{"echo", []string{"echo", "hello", "$FOO"}, 0, 0, "hello $FOO\n", ""},
		{"echo -n", []string{"echo", "-n", "x"}, 0, 0, "x", ""},
		{"echo -e", []string{"echo", "-e", `a\tb\\c\q`}, 0, 0, "a\tb\\c\\q\n", ""},
		{"echo -e stops at \\c", []string{"echo", "-e", `a\cb`}, 0, 0, "a", ""},
		{"echo without -e keeps escapes", []string{"echo", `a\tb`}, 0, 0, `a\tb` + "\n", ""},
		{"sleep", []string{"sleep", "2"}, 2 * time.Second, 0, "", ""},
		{"sleep fraction", []string{"sleep", "0.25"}, 250 * time.Millisecond, 0, "", ""},
		{"sleep suffixes add up", []string{"sleep", "1m", "1s"}, 61 * time.Second, 0, "", ""},
		{"sleep infinity", []string{"sleep", "infinity"}, Forever, 0, "", ""},
		{"sleep huge", []string{"sleep", "99999999999999"}, Forever, 0, "", ""},
		{"sleep bad", []string{"sleep", "x"}, 0, 1, "", "sleep: invalid number 'x'\n"},
		{"hostname", []string{"hostname"}, 0, 0, "web-1\n", ""},
		{"pwd", []string{"pwd"}, 0, 0, "/srv\n", ""},
		{"id -u", []string{"id", "-u"}, 0, 0, "1000\n", ""},
		{"id -g", []string{"id", "-g"}, 0, 0, "2000\n", ""},
		{"env", []string{"env"}, 0, 0, DefaultEnv()[0] + "\nFOO=baz\nSPACED=a  b \n", ""},
		{"sh alone", []string{"sh"}, 0, 0, "", ""},
		{"sh exit", []string{"sh", "-c", "exit 3"}, 0, 3, "", ""},
		{"sh exit wraps", []string{"sh", "-c", "exit 258"}, 0, 2, "", ""},
		{"sh exit status", []string{"sh", "-c", "false; exit"}, 0, 1, "", ""},
		{"sh last status", []string{"/bin/sh", "-c", "true; false"}, 0, 1, "", ""},
		{"sh echo var", []string{"sh", "-c", "echo $FOO ${FOO}x"}, 0, 0, "baz bazx\n", ""},
		{"sh field splitting", []string{"sh", "-c", "echo [$SPACED]"}, 0, 0, "[a b ]\n", ""},
		{"sh quoted var", []string{"sh", "-c", `echo "[$SPACED]" '$FOO'`}, 0, 0, "[a  b ] $FOO\n", ""},
		{"sh unset var", []string{"sh", "-c", `echo a $NOPE b "$NOPE"`}, 0, 0, "a b \n", ""},
		{"sh status var", []string{"sh", "-c", "false; echo $?"}, 0, 0, "1\n", ""},
		{"sh escapes", []string{"sh", "-c", `echo \$FOO "a\"b"`}, 0, 0, "$FOO a\"b\n", ""},
		{"sh and", []string{"sh", "-c", "true && echo yes && exit 4"}, 0, 4, "yes\n", ""},
		{"sh and short-circuit", []string{"sh", "-c", "false && echo no; echo after"}, 0, 0, "after\n", ""},
		{"sh or", []string{"sh", "-c", "false || exit 5"}, 0, 5, "", ""},
		{"sh and-or", []string{"sh", "-c", "false && echo no || echo yes"}, 0, 0, "yes\n", ""},
		{"sh newlines and comments", []string{"sh", "-c", "echo a # note\necho b\n"}, 0, 0, "a\nb\n", ""},
		{"sh stderr", []string{"sh", "-c", "echo out; echo err >&2; echo err2 1>&2"}, 0, 0, "out\n", "err\nerr2\n"},
		{"sh dev null", []string{"sh", "-c", "echo gone >/dev/null; echo kept"}, 0, 0, "kept\n", ""},
		{"sh 2>&1 after null", []string{"sh", "-c", "sleep x >/dev/null 2>&1; echo $?"}, 0, 0, "1\n", ""},
		{"sh sleep then exit", []string{"sh", "-c", "echo a; sleep 2; echo b; exit 7"}, 2 * time.Second, 7, "a\nb\n", ""},
		{"sh exec", []string{"sh", "-c", "echo hi; exec sleep 3"}, 3 * time.Second, 0, "hi\n", ""},
		{"sh loop", []string{"sh", "-c", "while true; do sleep 1; done"}, Forever, 0, "", ""},
		{"sh loop colon", []string{"sh", "-c", "while :\ndo\n  sleep 1\ndone"}, Forever, 0, "", ""},
		{"sh trap loop", []string{"sh", "-c", `trap "exit 0" TERM; while true; do sleep 0.1; done`}, Forever, 0, "", ""},
		{"sh sleep infinity", []string{"sh", "-c", "echo up; sleep infinity; echo never"}, Forever, 0, "up\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Interpret(tt.argv, testEnv)
			require.True(t, p.Known, "known")
			assert.Equal(t, tt.exitAt, p.ExitAt, "exitAt")
			assert.Equal(t, tt.code, p.Code, "code")
			stdout, stderr := text(p)
			assert.Equal(t, tt.stdout, stdout, "stdout")
			assert.Equal(t, tt.stderr, stderr, "stderr")
		})
	}
}

func TestInterpretUnknown(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		nil,
		{"nginx", "-g", "daemon off;"},
		{"/app/server"},
		{"./run.sh"},
		{"sh", "run.sh"},
		{"sh", "-c", "curl -f http://localhost/"},
		{"sh", "-c", "echo a | cat"},
		{"sh", "-c", "sleep 1 &"},
		{"sh", "-c", "if true; then exit 1; fi"},
		{"sh", "-c", "X=1 echo $X"},
		{"sh", "-c", "echo $(hostname)"},
		{"sh", "-c", "echo `hostname`"},
		{"sh", "-c", "echo ${X:-y}"},
		{"sh", "-c", "echo > /tmp/x"},
		{"sh", "-c", "echo 'unterminated"},
		{"sh", "-c", "while true; do echo spin; done"},
		{"sh", "-c", "while false; do sleep 1; done"},
		{"sh", "-c", "while true; do while true; do sleep 1; done; done"},
		{"sh", "-c", "trap"},
		{"sh", "-c", "trap 'exit 0' BOGUS"},
		{"sh", "-c", "exec sh -c 'exit 1'"},
		{"exit", "1"},
		{"id"},
		{"echo", "-e", `\0101`},
		{"hostname", "-f"},
	}
	for _, argv := range tests {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			t.Parallel()
			p := Interpret(argv, testEnv)
			assert.False(t, p.Known)
			assert.Equal(t, Forever, p.ExitAt)
		})
	}
}

func TestReact(t *testing.T) {
	t.Parallel()
	const (
		term = sigTERM
		sec  = time.Second
	)
	type want struct {
		exit bool
		at   time.Duration
		code int
		out  string
	}
	tests := []struct {
		name string
		argv []string
		init bool
		sig  syscall.Signal
		at   time.Duration
		want want
	}{
		{"pid1 sleep ignores TERM", []string{"sleep", "10"}, false, term, sec, want{}},
		{"sleep under init dies", []string{"sleep", "10"}, true, term, sec, want{exit: true, at: sec, code: 143}},
		{"sleep under init, SIGINT", []string{"sleep", "10"}, true, sigINT, sec, want{exit: true, at: sec, code: 130}},
		{"SIGCHLD is ignored anyway", []string{"sleep", "10"}, true, sigCHLD, sec, want{}},
		{"pid1 shell without trap ignores", []string{"sh", "-c", "while true; do sleep 1; done"}, false, term, sec, want{}},
		{"shell under init dies at once", []string{"sh", "-c", "while true; do sleep 1; done"}, true, term, 1500 * time.Millisecond, want{exit: true, at: 1500 * time.Millisecond, code: 143}},
		{
			"trap runs when the loop's sleep ends",
			[]string{"sh", "-c", `trap "exit 0" TERM; while true; do sleep 1; done`}, false, term, 2500 * time.Millisecond,
			want{exit: true, at: 3 * sec},
		},
		{
			"trap on an iteration boundary runs at once",
			[]string{"sh", "-c", `trap "exit 0" TERM; while true; do sleep 1; done`}, false, term, 2 * sec,
			want{exit: true, at: 2 * sec},
		},
		{
			"trap with a slow handler",
			[]string{"sh", "-c", `trap 'echo bye; sleep 5; exit 3' TERM; while true; do sleep 1; done`}, true, term, 500 * time.Millisecond,
			want{exit: true, at: 6 * sec, code: 3, out: "bye\n"},
		},
		{
			"trap numbered signal",
			[]string{"sh", "-c", `trap 'exit 9' 15; sleep 10`}, false, term, sec,
			want{exit: true, at: 10 * sec, code: 9},
		},
		{
			"trap set later does not apply yet",
			[]string{"sh", "-c", `sleep 5; trap 'exit 9' TERM; sleep 10`}, true, term, sec,
			want{exit: true, at: sec, code: 143},
		},
		{
			"trap waits for sleep infinity forever",
			[]string{"sh", "-c", `trap 'exit 0' TERM; sleep infinity`}, false, term, sec,
			want{},
		},
		{
			"trap '' ignores even under init",
			[]string{"sh", "-c", `trap '' TERM; while true; do sleep 1; done`}, true, term, sec,
			want{},
		},
		{
			"trap - restores the default",
			[]string{"sh", "-c", `trap 'exit 0' TERM; trap - TERM; while true; do sleep 1; done`}, true, term, sec,
			want{exit: true, at: sec, code: 143},
		},
		{
			"handler that does not exit only writes",
			[]string{"sh", "-c", `trap 'echo got it' USR1; while true; do sleep 1; done`}, false, sigUSR1, 500 * time.Millisecond,
			want{out: "got it\n"},
		},
		{
			"trap between two sleeps runs at once",
			[]string{"sh", "-c", `trap 'exit 0' TERM; while true; do sleep 1; sleep 2; done`}, false, term, 4 * sec,
			want{exit: true, at: 4 * sec},
		},
		{
			"trap at the start of a sleep waits for it",
			[]string{"sh", "-c", `trap 'exit 0' TERM; sleep 10`}, false, term, 0,
			want{exit: true, at: 10 * sec},
		},
		{
			"exec drops the traps",
			[]string{"sh", "-c", `trap 'exit 0' TERM; exec sleep 100`}, false, term, sec,
			want{},
		},
		{
			"loop with output and two sleeps",
			[]string{"sh", "-c", `trap 'exit 0' TERM; while true; do echo tick; sleep 1; sleep 2; done`}, false, term, 4500 * time.Millisecond,
			want{exit: true, at: 6 * sec},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv
			env.PID1 = !tt.init
			p := Interpret(tt.argv, env)
			require.True(t, p.Known)
			r := p.React(tt.sig, tt.at)
			var out strings.Builder
			for _, c := range r.Out {
				out.WriteString(c.Text)
			}
			assert.Equal(t, tt.want, want{exit: r.Exit, at: r.At, code: r.Code, out: out.String()})
		})
	}
}

func TestLoopOutput(t *testing.T) {
	t.Parallel()
	p := Interpret([]string{"sh", "-c", "echo start; while true; do echo tick; sleep 2; done"}, testEnv)
	require.True(t, p.Known)
	require.NotNil(t, p.Loop)
	assert.Equal(t, []Chunk{{At: 0, Text: "start\n"}}, p.Out)
	assert.Equal(t, []Chunk{{At: 4 * time.Second, Text: "tick\n"}}, p.Loop.Iteration(2))
}

func TestIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		user     string
		uid, gid int
		ok       bool
	}{
		{"", 0, 0, true},
		{"root", 0, 0, true},
		{"1000", 1000, 0, true},
		{"1000:1000", 1000, 1000, true},
		{"nobody:nogroup", 65534, 65534, true},
		{"www-data", 0, 0, false},
		{"1000:staff", 0, 0, false},
	}
	for _, tt := range tests {
		uid, gid, ok := Env{User: tt.user}.IDs()
		assert.Equal(t, tt.ok, ok, tt.user)
		if tt.ok {
			assert.Equal(t, [2]int{tt.uid, tt.gid}, [2]int{uid, gid}, tt.user)
		}
	}
}

// FuzzInterpret checks that no script makes the interpreter panic or produce
// a program that exits before output it claims to write in order.
func FuzzInterpret(f *testing.F) {
	for _, s := range []string{
		"exit 3", `trap "exit 0" TERM; while true; do sleep 0.1; done`, "echo $FOO; echo x >&2",
		"false || echo ${FOO}", "while :; do echo t; sleep 1; done", "sleep 1 2 3; exec sleep inf",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		p := Interpret([]string{"sh", "-c", script}, testEnv)
		if !p.Known {
			return
		}
		for i := 1; i < len(p.Out); i++ {
			if p.Out[i].At < p.Out[i-1].At {
				t.Fatalf("output out of order: %+v", p.Out)
			}
		}
		if p.ExitAt < 0 {
			t.Fatalf("negative exit time %v", p.ExitAt)
		}
		for _, sig := range []syscall.Signal{sigTERM, sigINT} {
			if r := p.React(sig, time.Second); r.Exit && r.At < time.Second {
				t.Fatalf("exits at %v, before the signal", r.At)
			}
		}
	})
}
