package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// controlPlane is what a scenario's trials run against: the processes of
// the control plane, one of which a trial kills. The bolt scenario has
// one server on a data directory; the etcd scenario has three servers
// sharing three etcd members, and kills the leader or a member.
type controlPlane interface {
	// start starts every process, and returns once the API is served.
	start(ctx context.Context) error
	// client returns an ECS client of a process serving the API now.
	client() *ecs.Client
	// crash kills a process with SIGKILL, and says which.
	crash() (string, error)
	// recover starts what crash killed again, on the same state, and
	// returns once it serves the API.
	recover(ctx context.Context) error
	// serving reports whether every process runs.
	serving() bool
	// stop ends every process gracefully (SIGTERM).
	stop() error
	// kill kills every process left (after a failed run).
	kill()
}

// startTimeout bounds a server's start, images imported and the host
// registered.
const startTimeout = 2 * time.Minute

// requestTimeout bounds one request of the driver.
const requestTimeout = 20 * time.Second

// stopTimeout bounds a graceful stop; SIGKILL follows.
const stopTimeout = 30 * time.Second

// endpointLine finds the endpoint in the server's log line "serving the
// ECS API".
var endpointLine = regexp.MustCompile(`msg="serving the ECS API" endpoint=(http://[^ ]+)`)

// server is one cmd/stevedore process, started again with the same
// arguments after each crash. Its log (every run, appended) goes to
// logPath.
type server struct {
	bin     string
	args    []string
	env     []string
	logPath string
	// ready finds the line that says the process serves; its first
	// group, when it has one, is the ECS endpoint.
	ready  *regexp.Regexp
	keyID  string
	secret string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	ecs    *ecs.Client
	// leading and ledAt: what the process last logged of the leader
	// election, and when it logged that it leads.
	leading bool
	ledAt   time.Time
	// wroteAt: when it logged its term's first committed write.
	wroteAt time.Time
	// stepDown: the reason of its last "no longer leads" line; fenced:
	// how many of its log lines told of a write fenced off.
	stepDown string
	fenced   int
}

// leadLine and unleadLine are the leader election's log lines.
var (
	leadLine   = regexp.MustCompile(`leader election: this replica leads`)
	unleadLine = regexp.MustCompile(`leader election: this replica no longer leads`)
	wroteLine  = regexp.MustCompile(`leader election: the leader's first write committed`)
	reasonAttr = regexp.MustCompile(`reason="([^"]*)"|reason=(\S+)`)
	fencedText = regexp.MustCompile(`write fenced off`)
)

// start runs the process and waits until it serves the API.
func (s *server) start(ctx context.Context) error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Env = append(cmd.Env, "STEVEDORE_ACCESS_KEY_ID="+s.keyID, "STEVEDORE_SECRET_ACCESS_KEY="+s.secret)
	out, w, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return err
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		out.Close()
		logFile.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	endpoint := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if m := s.ready.FindStringSubmatch(line); m != nil {
				select {
				case endpoint <- append(m, "")[1]:
				default:
				}
			}
			s.noteLeader(line)
		}
		_, _ = io.Copy(logFile, out)
		out.Close()
		_ = cmd.Wait()
		logFile.Close()
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case url := <-endpoint:
		if url == "" {
			return nil // not an ECS endpoint: an etcd member
		}
		c := ecs.New(ecs.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(s.keyID, s.secret, ""),
			// A connection per request: the driver's reads run across
			// crashes, and none may find a connection of a dead server.
			HTTPClient: &http.Client{Timeout: requestTimeout, Transport: &http.Transport{DisableKeepAlives: true}},
		})
		s.mu.Lock()
		s.ecs = c
		s.mu.Unlock()
		return nil
	case <-exited:
		return fmt.Errorf("the server exited before serving (exit %v); its log: %s", cmd.ProcessState, s.logPath)
	case <-timer.C:
		_ = s.signal(syscall.SIGKILL)
		return fmt.Errorf("the server did not serve within %v; its log: %s", startTimeout, s.logPath)
	case <-ctx.Done():
		_ = s.signal(syscall.SIGKILL)
		return ctx.Err()
	}
}

// noteLeader records what a log line says of the leader election.
func (s *server) noteLeader(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case leadLine.MatchString(line):
		s.leading, s.ledAt = true, time.Now()
	case unleadLine.MatchString(line):
		s.leading = false
		s.stepDown = ""
		if m := reasonAttr.FindStringSubmatch(line); m != nil {
			s.stepDown = m[1] + m[2]
		}
	case wroteLine.MatchString(line):
		s.wroteAt = time.Now()
	}
	if fencedText.MatchString(line) {
		s.fenced++
	}
}

// steppedDown returns the reason the process last gave for no longer
// leading, and how many fenced writes it has logged.
func (s *server) steppedDown() (reason string, fenced int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stepDown, s.fenced
}

// wrote returns when the process last logged its term's first committed
// write.
func (s *server) wrote() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wroteAt
}

// leads reports whether the process runs and last logged that it leads,
// and since when.
func (s *server) leads() (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil && s.leading, s.ledAt
}

// signal sends sig to the process and waits until it has exited.
func (s *server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return errors.New("the server is not running")
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("the server did not exit within %v of %v; killed", stopTimeout, sig)
	}
	s.mu.Lock()
	s.cmd, s.ecs, s.leading = nil, nil, false
	s.mu.Unlock()
	if sig == syscall.SIGTERM && !cmd.ProcessState.Success() {
		return fmt.Errorf("the server ended with %v after SIGTERM; its log: %s", cmd.ProcessState, s.logPath)
	}
	return nil
}

// running reports whether the process runs.
func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// single is the bolt scenario's control plane: one server on a data
// directory.
type single struct{ srv *server }

func (p single) client() *ecs.Client {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	return p.srv.ecs
}

func (p single) crash() (string, error) {
	return "the server", p.srv.signal(syscall.SIGKILL)
}

func (p single) start(ctx context.Context) error { return p.srv.start(ctx) }

func (p single) recover(ctx context.Context) error { return p.srv.start(ctx) }

func (p single) serving() bool { return p.srv.running() }

func (p single) stop() error {
	if !p.srv.running() {
		return nil
	}
	return p.srv.signal(syscall.SIGTERM)
}

func (p single) kill() {
	if p.srv.running() {
		_ = p.srv.signal(syscall.SIGKILL)
	}
}

// ServerPackage is the import path of the server the trials run.
const ServerPackage = "github.com/stevedore-io/stevedore/cmd/stevedore"

// EtcdMemberPackage is the import path of the etcd member the etcd
// scenario runs.
const EtcdMemberPackage = "github.com/stevedore-io/stevedore/internal/etcdtest/etcdmember"

// BuildServer builds ServerPackage into dir with the go command goTool
// ("go" when empty), from the module the working directory is in, and
// returns the binary's path.
func BuildServer(ctx context.Context, goTool, dir string) (string, error) {
	return build(ctx, goTool, dir, ServerPackage)
}

// BuildEtcdMember builds EtcdMemberPackage as BuildServer builds the
// server.
func BuildEtcdMember(ctx context.Context, goTool, dir string) (string, error) {
	return build(ctx, goTool, dir, EtcdMemberPackage)
}

func build(ctx context.Context, goTool, dir, pkg string) (string, error) {
	if goTool == "" {
		goTool = "go"
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}
