package shell

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Forever is an exit time (Program.ExitAt) that never comes: the process
// runs until a signal ends it.
const Forever time.Duration = math.MaxInt64

// Program is what a main process or an exec'd command does.
type Program struct {
	// Known is false when the command is outside the vocabulary.
	Known bool
	// Out is the output, in time order, as offsets from the start.
	Out []Chunk
	// Loop, when set, repeats its body's output forever.
	Loop *Loop
	// ExitAt is when the process exits by itself; Forever when it only ends
	// on a signal.
	ExitAt time.Duration
	// Code is the exit code at ExitAt.
	Code int
	// React tells how the process answers sig received at offset at.
	React func(sig syscall.Signal, at time.Duration) Reaction
}

// Chunk is one write to stdout or stderr.
type Chunk struct {
	// At is when the process writes it, as an offset from the start.
	At time.Duration
	// Stderr is true for a write to stderr, false for stdout.
	Stderr bool
	// Text is what is written.
	Text string
}

// Loop is the output of an endless loop: Body (offsets relative to the
// start of an iteration) repeats every Period from Start on.
type Loop struct {
	// Start is when the first iteration starts; Period is the length of
	// one iteration.
	Start, Period time.Duration
	// Body is one iteration's output.
	Body []Chunk
}

// Iteration returns the chunks of loop iteration k with absolute offsets.
func (l *Loop) Iteration(k int) []Chunk {
	base := l.Start + time.Duration(k)*l.Period
	out := make([]Chunk, len(l.Body))
	for i, c := range l.Body {
		c.At += base
		out[i] = c
	}
	return out
}

// Reaction is a process's answer to a signal.
type Reaction struct {
	// Exit is true when the process exits because of the signal, at
	// offset At with Code.
	Exit bool
	// At is when the process exits, as an offset from its start.
	At time.Duration
	// Code is the exit code.
	Code int
	// Out is output written while handling the signal (absolute offsets).
	Out []Chunk
}

// Env is what a process sees of its container.
type Env struct {
	// Vars is the environment, KEY=VALUE; later entries win.
	Vars []string
	// Hostname is what hostname prints.
	Hostname string
	// User is the container's user, "uid[:gid]" or a name (root, nobody).
	User string
	// Workdir is the working directory, what pwd prints.
	Workdir string
	// PID1 is true for a main process that runs as PID 1 (no init process):
	// signals it has no handler for are ignored, as the kernel does for the
	// init process of a PID namespace.
	PID1 bool
}

// Lookup returns the value of the environment variable name, "" when it is
// not set.
func (e Env) Lookup(name string) string {
	for i := len(e.Vars) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(e.Vars[i], "=")
		if k == name {
			return v
		}
	}
	return ""
}

// Environ returns the environment with later duplicates replacing earlier
// entries in place, as the process would see it.
func (e Env) Environ() []string {
	var out []string
	index := map[string]int{}
	for _, kv := range e.Vars {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// IDs returns the numeric uid and gid of the process, or ok false when the
// user is a name the vocabulary does not know.
func (e Env) IDs() (uid, gid int, ok bool) {
	if e.User == "" {
		return 0, 0, true
	}
	u, g, hasGroup := strings.Cut(e.User, ":")
	uid, ok = userID(u)
	if !ok {
		return 0, 0, false
	}
	if !hasGroup {
		return uid, 0, true
	}
	gid, ok = userID(g)
	return uid, gid, ok
}

func userID(s string) (int, bool) {
	switch s {
	case "root":
		return 0, true
	case "nobody", "nogroup":
		return 65534, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// DefaultEnv returns the environment of the image before the spec's Env, as
// in the busybox image.
func DefaultEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
}

// Interpret works out what argv does. The result's Known is false when argv is
// outside the vocabulary.
func Interpret(argv []string, env Env) *Program {
	unknown := &Program{ExitAt: Forever}
	if len(argv) == 0 {
		return unknown
	}
	s := newShell(env)
	if isShell(argv[0]) {
		switch {
		case len(argv) == 1:
			// sh with stdin at end of file exits at once, as busybox's
			// default command does in a container without a terminal.
			s.done = true
		case len(argv) >= 3 && argv[1] == "-c":
			nodes, err := parseScript(argv[2])
			if err != nil {
				return unknown
			}
			s.run(nodes)
		default:
			return unknown
		}
	} else {
		s.applet(argv, s.stdout())
		s.done = true
	}
	if s.unknown {
		return unknown
	}
	return s.program()
}

func isShell(name string) bool { return name == "sh" || name == "/bin/sh" }

// Shell syntax: tokens.

type tokenKind int

const (
	tokWord tokenKind = iota
	tokSemi           // ; or newline
	tokAnd            // &&
	tokOr             // ||
	tokRedirect
)

type token struct {
	kind  tokenKind
	word  word
	redir redirect
}

// word is one shell word: literal and quoted text and parameter expansions.
type word []wordPart

type wordPart struct {
	text   string // literal text, or the parameter name when param is true
	param  bool
	quoted bool
}

// literal returns the word's text when it is a plain unquoted literal.
func (w word) literal() (string, bool) {
	var b strings.Builder
	for _, p := range w {
		if p.param || p.quoted {
			return "", false
		}
		b.WriteString(p.text)
	}
	return b.String(), true
}

// Output targets of file descriptors 1 and 2.
type target int

const (
	toStdout target = iota
	toStderr
	toNull
)

// redirect is N>&M or N>/dev/null; nothing else is in the vocabulary.
type redirect struct {
	fd int
	to target
}

var errUnsupported = errors.New("outside the fake's shell vocabulary")

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\n' || c == ';':
			if c == ';' && i+1 < len(src) && src[i+1] == ';' {
				return nil, errUnsupported
			}
			toks = append(toks, token{kind: tokSemi})
			i++
		case c == '&':
			if i+1 < len(src) && src[i+1] == '&' {
				toks = append(toks, token{kind: tokAnd})
				i += 2
				continue
			}
			return nil, errUnsupported // background jobs
		case c == '|':
			if i+1 < len(src) && src[i+1] == '|' {
				toks = append(toks, token{kind: tokOr})
				i += 2
				continue
			}
			return nil, errUnsupported // pipelines
		case c == '>' || (c >= '0' && c <= '9' && i+1 < len(src) && src[i+1] == '>'):
			r, n, err := lexRedirect(src[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokRedirect, redir: r})
			i += n
		case strings.IndexByte("<()`", c) >= 0:
			return nil, errUnsupported
		default:
			w, n, err := lexWord(src[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokWord, word: w})
			i += n
		}
	}
	return toks, nil
}

// lexRedirect reads [N]>&M or [N]>/dev/null.
func lexRedirect(src string) (redirect, int, error) {
	r := redirect{fd: 1}
	i := 0
	if src[0] != '>' {
		r.fd = int(src[0] - '0')
		i++
	}
	i++ // '>'
	if r.fd != 1 && r.fd != 2 {
		return r, 0, errUnsupported
	}
	if i < len(src) && src[i] == '&' {
		if i+1 >= len(src) {
			return r, 0, errUnsupported
		}
		switch src[i+1] {
		case '1':
			r.to = toStdout
		case '2':
			r.to = toStderr
		default:
			return r, 0, errUnsupported
		}
		return r, i + 2, nil
	}
	for i < len(src) && src[i] == ' ' {
		i++
	}
	const devNull = "/dev/null"
	if !strings.HasPrefix(src[i:], devNull) {
		return r, 0, errUnsupported // no file system to write to
	}
	r.to = toNull
	return r, i + len(devNull), nil
}

func lexWord(src string) (word, int, error) {
	var w word
	lit := func(s string, quoted bool) { w = append(w, wordPart{text: s, quoted: quoted}) }
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case strings.IndexByte(" \t\n;&|<>()", c) >= 0:
			return w, i, nil
		case c == '`':
			return nil, 0, errUnsupported
		case c == '\\':
			if i+1 < len(src) {
				lit(src[i+1:i+2], true)
			}
			i += 2
		case c == '\'':
			end := strings.IndexByte(src[i+1:], '\'')
			if end < 0 {
				return nil, 0, errUnsupported
			}
			lit(src[i+1:i+1+end], true)
			i += end + 2
		case c == '"':
			n, err := lexDoubleQuoted(src[i+1:], &w)
			if err != nil {
				return nil, 0, err
			}
			i += n + 2
		case c == '$':
			p, n, err := lexParam(src[i+1:])
			if err != nil {
				return nil, 0, err
			}
			w = append(w, p)
			i += n + 1
		default:
			lit(src[i:i+1], false)
			i++
		}
	}
	return w, i, nil
}

// lexDoubleQuoted reads up to the closing quote and returns how many bytes it
// consumed, not counting the closing quote.
func lexDoubleQuoted(src string, w *word) (int, error) {
	// An empty quoted part keeps "" as an (empty) argument.
	*w = append(*w, wordPart{quoted: true})
	i := 0
	for i < len(src) {
		switch c := src[i]; c {
		case '"':
			return i, nil
		case '`':
			return 0, errUnsupported
		case '\\':
			if i+1 < len(src) && strings.IndexByte("$`\"\\", src[i+1]) >= 0 {
				*w = append(*w, wordPart{text: src[i+1 : i+2], quoted: true})
				i += 2
				continue
			}
			*w = append(*w, wordPart{text: "\\", quoted: true})
			i++
		case '$':
			p, n, err := lexParam(src[i+1:])
			if err != nil {
				return 0, err
			}
			p.quoted = true
			*w = append(*w, p)
			i += n + 1
		default:
			*w = append(*w, wordPart{text: src[i : i+1], quoted: true})
			i++
		}
	}
	return 0, errUnsupported // unterminated
}

// lexParam reads what follows a '$': NAME, {NAME} or ?. A lone '$' is literal.
func lexParam(src string) (wordPart, int, error) {
	isName := func(c byte, first bool) bool {
		return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
	}
	switch {
	case src == "" || strings.IndexByte(" \t\n\"", src[0]) >= 0:
		return wordPart{text: "$"}, 0, nil
	case src[0] == '?':
		return wordPart{text: "?", param: true}, 1, nil
	case src[0] == '{':
		end := strings.IndexByte(src, '}')
		if end < 2 {
			return wordPart{}, 0, errUnsupported
		}
		name := src[1:end]
		for j := range len(name) {
			if !isName(name[j], j == 0) {
				return wordPart{}, 0, errUnsupported // ${X:-y} and friends
			}
		}
		return wordPart{text: name, param: true}, end + 1, nil
	case isName(src[0], true):
		n := 1
		for n < len(src) && isName(src[n], false) {
			n++
		}
		return wordPart{text: src[:n], param: true}, n, nil
	default:
		return wordPart{}, 0, errUnsupported // $1, $$, $(...)
	}
}

// Shell syntax: commands.

type node interface{ isNode() }

// andOr is a list of commands joined by && and ||.
type andOr struct {
	cmds []node
	ops  []tokenKind // ops[i] joins cmds[i] and cmds[i+1]
}

type simple struct {
	words  []word
	redirs []redirect
}

// whileLoop is `while true; do BODY; done` (or `while :`).
type whileLoop struct {
	body []node
}

func (*andOr) isNode()     {}
func (*simple) isNode()    {}
func (*whileLoop) isNode() {}

type parser struct {
	toks []token
	pos  int
}

func parseScript(src string) ([]node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	nodes, err := p.list()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q: %w", p.keyword(), errUnsupported)
	}
	return nodes, nil
}

// keyword returns the current token when it is a reserved word.
func (p *parser) keyword() string {
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != tokWord {
		return ""
	}
	s, ok := p.toks[p.pos].word.literal()
	if !ok {
		return ""
	}
	switch s {
	case "while", "do", "done", "if", "then", "else", "elif", "fi", "for", "case", "esac", "until", "{", "}", "!", "function", "select", "in":
		return s
	}
	return ""
}

// list parses and-or lists separated by ; until the end or a closing keyword.
func (p *parser) list() ([]node, error) {
	var nodes []node
	for p.pos < len(p.toks) {
		if p.toks[p.pos].kind == tokSemi {
			p.pos++
			continue
		}
		if kw := p.keyword(); kw == "do" || kw == "done" {
			break
		}
		n, err := p.andOr()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func (p *parser) andOr() (node, error) {
	first, err := p.command()
	if err != nil {
		return nil, err
	}
	ao := &andOr{cmds: []node{first}}
	for p.pos < len(p.toks) && (p.toks[p.pos].kind == tokAnd || p.toks[p.pos].kind == tokOr) {
		ao.ops = append(ao.ops, p.toks[p.pos].kind)
		p.pos++
		for p.pos < len(p.toks) && p.toks[p.pos].kind == tokSemi && p.toks[p.pos-1].kind != tokSemi {
			p.pos++ // a newline may follow && and ||
		}
		next, err := p.command()
		if err != nil {
			return nil, err
		}
		ao.cmds = append(ao.cmds, next)
	}
	return ao, nil
}

func (p *parser) command() (node, error) {
	switch kw := p.keyword(); kw {
	case "":
	case "while":
		return p.while()
	default:
		return nil, fmt.Errorf("%q: %w", kw, errUnsupported)
	}
	cmd := &simple{}
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == tokWord {
			if len(cmd.words) == 0 {
				if s, ok := t.word.literal(); ok && strings.Contains(s, "=") {
					return nil, errUnsupported // variable assignments
				}
			}
			cmd.words = append(cmd.words, t.word)
		} else if t.kind == tokRedirect {
			cmd.redirs = append(cmd.redirs, t.redir)
		} else {
			break
		}
		p.pos++
	}
	if len(cmd.words) == 0 {
		return nil, errUnsupported
	}
	return cmd, nil
}

func (p *parser) while() (node, error) {
	p.pos++ // while
	cond, err := p.list()
	if err != nil {
		return nil, err
	}
	if !isTrueCondition(cond) || p.keyword() != "do" {
		return nil, errUnsupported
	}
	p.pos++
	body, err := p.list()
	if err != nil {
		return nil, err
	}
	if p.keyword() != "done" {
		return nil, errUnsupported
	}
	p.pos++
	if p.pos < len(p.toks) && p.toks[p.pos].kind != tokSemi {
		return nil, errUnsupported // redirections or operators after done
	}
	return &whileLoop{body: body}, nil
}

// isTrueCondition reports whether cond is `true` or `:`, the only loop
// conditions in the vocabulary.
func isTrueCondition(cond []node) bool {
	if len(cond) != 1 {
		return false
	}
	ao, ok := cond[0].(*andOr)
	if !ok || len(ao.cmds) != 1 {
		return false
	}
	s, ok := ao.cmds[0].(*simple)
	if !ok || len(s.words) != 1 || len(s.redirs) != 0 {
		return false
	}
	name, _ := s.words[0].literal()
	return name == "true" || name == ":"
}

// Shell semantics.

// trap is one `trap ACTION SIGNAL` that took effect at offset at.
type trap struct {
	at     time.Duration
	sig    syscall.Signal
	action string
	reset  bool // trap - SIG
}

// span is a stretch of time in which a foreground command runs; the shell runs
// trap handlers only when it ends.
type span struct{ from, to time.Duration }

type shell struct {
	env    Env
	t      time.Duration
	status int
	out    []Chunk

	traps []trap
	busy  []span
	// loopBusy are the busy spans of one iteration of the endless loop,
	// relative to the iteration's start.
	loop     *Loop
	loopBusy []span
	// execAt is when `exec` replaced the shell with another program; -1 if
	// never.
	execAt time.Duration

	done    bool // the script ended: exit, exec, or an endless wait
	forever bool // the process never exits by itself
	unknown bool
	inLoop  bool
}

func newShell(env Env) *shell { return &shell{env: env, execAt: -1} }

// fork returns a shell that runs a sub-script (a loop body or a trap
// handler) from offset at.
func (s *shell) fork(at time.Duration) *shell {
	return &shell{env: s.env, t: at, execAt: -1}
}

func (s *shell) run(nodes []node) {
	for _, n := range nodes {
		if s.done || s.unknown {
			return
		}
		s.node(n)
	}
}

func (s *shell) node(n node) {
	switch n := n.(type) {
	case *andOr:
		for i, c := range n.cmds {
			if i > 0 {
				op := n.ops[i-1]
				if (op == tokAnd) != (s.status == 0) {
					continue
				}
			}
			s.node(c)
			if s.done || s.unknown {
				return
			}
		}
	case *simple:
		s.simple(n)
	case *whileLoop:
		s.while(n)
	}
}

func (s *shell) while(n *whileLoop) {
	if s.inLoop {
		s.unknown = true
		return
	}
	body := s.fork(0)
	body.inLoop = true
	body.run(n.body)
	if body.unknown || body.done || len(body.traps) > 0 {
		s.unknown = true
		return
	}
	if body.t == 0 && len(body.out) > 0 {
		s.unknown = true // endless output in no time
		return
	}
	s.loop = &Loop{Start: s.t, Period: body.t, Body: body.out}
	s.loopBusy = body.busy
	s.done, s.forever = true, true
}

// output returns where fd 1 and fd 2 of a command go after its redirections.
func output(redirs []redirect) (fd1, fd2 target) {
	fd1, fd2 = toStdout, toStderr
	for _, r := range redirs {
		to := r.to
		switch {
		case to == toStdout && r.fd == 2:
			to = fd1 // 2>&1
		case to == toStderr && r.fd == 1:
			to = fd2 // >&2
		}
		if r.fd == 1 {
			fd1 = to
		} else {
			fd2 = to
		}
	}
	return fd1, fd2
}

func (s *shell) stdout() [2]target { return [2]target{toStdout, toStderr} }

func (s *shell) simple(cmd *simple) {
	var args []string
	for _, w := range cmd.words {
		args = append(args, s.expand(w)...)
	}
	if len(args) == 0 {
		s.status = 0
		return
	}
	fd1, fd2 := output(cmd.redirs)
	fds := [2]target{fd1, fd2}
	switch args[0] {
	case "exit":
		if s.inLoop || len(args) > 2 {
			s.unknown = true
			return
		}
		if len(args) == 2 {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				s.emit(fds, 2, "sh: exit: Illegal number: "+args[1]+"\n")
				n = 2
			}
			s.status = n & 0xff
		}
		s.done = true
	case ":":
		s.status = 0
	case "trap":
		s.trap(args[1:])
	case "exec":
		if len(args) == 1 {
			return
		}
		if isShell(args[1]) {
			s.unknown = true
			return
		}
		s.execAt = s.t
		s.applet(args[1:], fds)
		s.done = true
	default:
		s.applet(args, fds)
	}
}

// applet runs one of the busybox applets the vocabulary knows.
func (s *shell) applet(args []string, fds [2]target) {
	name := path.Base(args[0])
	if strings.Contains(args[0], "/") && !isSystemPath(args[0]) {
		s.unknown = true
		return
	}
	switch name {
	case "true":
		s.status = 0
	case "false":
		s.status = 1
	case "echo":
		s.echo(args[1:], fds)
	case "sleep":
		s.sleep(args[1:], fds)
	case "hostname":
		if len(args) > 1 {
			s.unknown = true
			return
		}
		s.emit(fds, 1, s.env.Hostname+"\n")
		s.status = 0
	case "pwd":
		dir := s.env.Workdir
		if dir == "" {
			dir = "/"
		}
		s.emit(fds, 1, dir+"\n")
		s.status = 0
	case "id":
		uid, gid, ok := s.env.IDs()
		if !ok || len(args) != 2 || (args[1] != "-u" && args[1] != "-g") {
			s.unknown = true
			return
		}
		n := uid
		if args[1] == "-g" {
			n = gid
		}
		s.emit(fds, 1, strconv.Itoa(n)+"\n")
		s.status = 0
	case "env":
		if len(args) > 1 {
			s.unknown = true
			return
		}
		for _, kv := range s.env.Environ() {
			s.emit(fds, 1, kv+"\n")
		}
		s.status = 0
	default:
		s.unknown = true
	}
}

// isSystemPath reports whether p is where busybox installs its applets.
func isSystemPath(p string) bool {
	switch path.Dir(p) {
	case "/bin", "/sbin", "/usr/bin", "/usr/sbin":
		return true
	}
	return false
}

// emit writes text to file descriptor fd (1 or 2) as redirected by fds.
func (s *shell) emit(fds [2]target, fd int, text string) {
	switch fds[fd-1] {
	case toStdout:
		s.out = append(s.out, Chunk{At: s.t, Text: text})
	case toStderr:
		s.out = append(s.out, Chunk{At: s.t, Stderr: true, Text: text})
	}
}

func (s *shell) echo(args []string, fds [2]target) {
	newline, escapes := true, false
	for len(args) > 0 && (args[0] == "-n" || args[0] == "-e" || args[0] == "-E") {
		switch args[0] {
		case "-n":
			newline = false
		case "-e":
			escapes = true
		case "-E":
			escapes = false
		}
		args = args[1:]
	}
	text := strings.Join(args, " ")
	if escapes {
		var stop, ok bool
		text, stop, ok = unescape(text)
		if !ok {
			s.unknown = true
			return
		}
		newline = newline && !stop
	}
	if newline {
		text += "\n"
	}
	s.emit(fds, 1, text)
	s.status = 0
}

// unescape interprets the backslash escapes of echo -e. stop reports \c,
// which ends the output, newline included; ok is false for the numeric
// escapes (\0NNN, \xHH), which are outside the vocabulary.
func unescape(text string) (out string, stop, ok bool) {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' || i+1 == len(text) {
			b.WriteByte(text[i])
			continue
		}
		i++
		switch c := text[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case 'c':
			return b.String(), true, true
		case '0', 'x':
			return "", false, false
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String(), false, true
}

func (s *shell) sleep(args []string, fds [2]target) {
	if len(args) == 0 {
		s.emit(fds, 2, "BusyBox sleep: missing operand\n")
		s.status = 1
		return
	}
	var total time.Duration
	for _, a := range args {
		d, err := parseSleep(a)
		if err != nil {
			s.emit(fds, 2, "sleep: invalid number '"+a+"'\n")
			s.status = 1
			return
		}
		total = AddDuration(total, d)
	}
	if total == Forever {
		s.busy = append(s.busy, span{from: s.t, to: Forever})
		s.done, s.forever = true, true
		return
	}
	s.busy = append(s.busy, span{from: s.t, to: s.t + total})
	s.t = AddDuration(s.t, total)
	s.status = 0
}

// parseSleep reads a busybox sleep operand: seconds, possibly fractional,
// with an optional s, m, h or d suffix, or inf/infinity.
func parseSleep(a string) (time.Duration, error) {
	unit := 1.0
	if a != "" {
		switch a[len(a)-1] {
		case 's':
			a = a[:len(a)-1]
		case 'm':
			unit, a = 60, a[:len(a)-1]
		case 'h':
			unit, a = 3600, a[:len(a)-1]
		case 'd':
			unit, a = 86400, a[:len(a)-1]
		}
	}
	if strings.EqualFold(a, "inf") || strings.EqualFold(a, "infinity") || strings.EqualFold(a, "infinit") {
		return Forever, nil
	}
	f, err := strconv.ParseFloat(a, 64)
	if err != nil || f < 0 || math.IsNaN(f) || strings.ContainsAny(a, "xXpP") {
		return 0, errUnsupported
	}
	secs := f * unit
	if secs >= float64(Forever/time.Second) {
		return Forever, nil
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// AddDuration adds without overflowing past Forever.
func AddDuration(a, b time.Duration) time.Duration {
	if a == Forever || b == Forever || a > Forever-b {
		return Forever
	}
	return a + b
}

func (s *shell) trap(args []string) {
	if len(args) < 2 {
		s.unknown = true // listing traps
		return
	}
	action, reset := args[0], args[0] == "-"
	for _, name := range args[1:] {
		sig, ok := signalByName(name)
		if !ok {
			s.unknown = true
			return
		}
		s.traps = append(s.traps, trap{at: s.t, sig: sig, action: action, reset: reset})
	}
	s.status = 0
}

// Linux signal numbers. The fake models Linux containers whatever the host,
// and some numbers differ between systems (SIGUSR1 is 10 on Linux and 30 on
// macOS; Windows lacks it). HUP, INT, QUIT, KILL, ALRM and TERM are the same
// everywhere.
const (
	sigHUP  = syscall.Signal(1)
	sigINT  = syscall.Signal(2)
	sigQUIT = syscall.Signal(3)
	// SigKILL is SIGKILL, which no process can handle or ignore.
	SigKILL  = syscall.Signal(9)
	sigUSR1  = syscall.Signal(10)
	sigUSR2  = syscall.Signal(12)
	sigALRM  = syscall.Signal(14)
	sigTERM  = syscall.Signal(15)
	sigCHLD  = syscall.Signal(17)
	sigCONT  = syscall.Signal(18)
	sigURG   = syscall.Signal(23)
	sigWINCH = syscall.Signal(28)
)

var signalNames = map[string]syscall.Signal{
	"HUP": sigHUP, "INT": sigINT, "QUIT": sigQUIT, "USR1": sigUSR1,
	"USR2": sigUSR2, "ALRM": sigALRM, "TERM": sigTERM,
}

// SignalName returns the name of a Linux signal, such as "SIGTERM".
func SignalName(sig syscall.Signal) string {
	for name, s := range signalNames {
		if s == sig {
			return "SIG" + name
		}
	}
	switch sig {
	case SigKILL:
		return "SIGKILL"
	}
	return fmt.Sprintf("signal %d", int(sig))
}

func signalByName(name string) (syscall.Signal, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		for _, sig := range signalNames {
			if int(sig) == n {
				return sig, true
			}
		}
		return 0, false
	}
	sig, ok := signalNames[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	return sig, ok
}

// expand does parameter expansion and field splitting of one word.
func (s *shell) expand(w word) []string {
	var fields []string
	var cur strings.Builder
	have := false
	flush := func() {
		fields = append(fields, cur.String())
		cur.Reset()
		have = false
	}
	for _, p := range w {
		v := p.text
		if p.param {
			if v == "?" {
				v = strconv.Itoa(s.status)
			} else {
				v = s.env.Lookup(v)
			}
		}
		if !p.param || p.quoted {
			cur.WriteString(v)
			have = have || p.quoted || v != ""
			continue
		}
		if v == "" {
			continue
		}
		if isSpace(v[0]) && have {
			flush()
		}
		for i, f := range strings.Fields(v) {
			if i > 0 {
				flush()
			}
			cur.WriteString(f)
			have = true
		}
		if isSpace(v[len(v)-1]) && have {
			flush()
		}
	}
	if have {
		flush()
	}
	return fields
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// program turns the simulated run into a program.
func (s *shell) program() *Program {
	p := &Program{Known: true, Out: s.out, ExitAt: s.t, Code: s.status}
	if s.forever {
		p.ExitAt = Forever
	}
	if s.loop != nil && len(s.loop.Body) > 0 {
		p.Loop = s.loop
	}
	p.React = s.react
	return p
}

// defaultIgnored are signals whose default action is to do nothing.
func defaultIgnored(sig syscall.Signal) bool {
	switch sig {
	case sigCHLD, sigCONT, sigURG, sigWINCH:
		return true
	}
	return false
}

// DefaultReaction is what a process without a handler does with sig.
func DefaultReaction(sig syscall.Signal, at time.Duration, pid1 bool) Reaction {
	if defaultIgnored(sig) || pid1 {
		return Reaction{}
	}
	return Reaction{Exit: true, At: at, Code: 128 + int(sig)}
}

// react answers sig at offset at: a trap set by then runs once the current
// foreground command ends; without one the signal takes its default action.
func (s *shell) react(sig syscall.Signal, at time.Duration) Reaction {
	if s.execAt >= 0 && at >= s.execAt {
		return DefaultReaction(sig, at, s.env.PID1)
	}
	var handler *trap
	for i := range s.traps {
		if t := &s.traps[i]; t.sig == sig && t.at <= at {
			handler = t
		}
	}
	if handler == nil || handler.reset {
		return DefaultReaction(sig, at, s.env.PID1)
	}
	if handler.action == "" {
		return Reaction{} // trap '' SIG ignores it
	}
	when := s.handlerTime(at)
	if when == Forever {
		return Reaction{} // the foreground command never ends
	}
	nodes, err := parseScript(handler.action)
	if err != nil {
		return Reaction{}
	}
	h := s.fork(when)
	h.run(nodes)
	if h.unknown {
		return Reaction{}
	}
	r := Reaction{Out: h.out}
	if h.done && !h.forever && h.execAt < 0 {
		r.Exit, r.At, r.Code = true, h.t, h.status
	}
	return r
}

// handlerTime is when a trap handler for a signal received at offset at runs:
// when the foreground command running at that moment ends. At the very
// moment one command ends and the next begins the shell is between commands
// and runs the handler at once.
func (s *shell) handlerTime(at time.Duration) time.Duration {
	if when, ok := spanEnd(s.busy, at); ok {
		return when
	}
	if s.loop == nil || at < s.loop.Start || s.loop.Period == 0 {
		return at
	}
	into := (at - s.loop.Start) % s.loop.Period
	if into == 0 && at > s.loop.Start {
		return at // one iteration ended, the next has not begun
	}
	if when, ok := spanEnd(s.loopBusy, into); ok {
		return at + when - into
	}
	return at
}

// spanEnd returns the end of the span that is running at offset at; ok is
// false when no command runs then. A span that ends at at is over.
func spanEnd(spans []span, at time.Duration) (end time.Duration, ok bool) {
	for _, b := range spans {
		if b.to == at {
			return 0, false
		}
	}
	for _, b := range spans {
		if b.from <= at && at < b.to {
			return b.to, true
		}
	}
	return 0, false
}
