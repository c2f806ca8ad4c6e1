package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// AWSCLI runs the aws CLI against an ECS endpoint with a configuration of
// its own (no profile, no instance metadata, one attempt), each command
// bounded by Timeout.
type AWSCLI struct {
	T        *testing.T
	Endpoint string
	// Key and Secret sign the requests.
	Key, Secret string
	// Timeout bounds one command (5 minutes when 0: a waiter polls for
	// a while).
	Timeout time.Duration
	home    string
}

// NewAWSCLI returns a runner of the aws CLI against endpoint, signing with
// key and secret, whose home is a directory of the test's.
func NewAWSCLI(t *testing.T, endpoint, key, secret string) *AWSCLI {
	t.Helper()
	return &AWSCLI{T: t, Endpoint: endpoint, Key: key, Secret: secret, home: t.TempDir()}
}

// With returns a copy of c that signs with key and secret.
func (c *AWSCLI) With(key, secret string) *AWSCLI {
	d := *c
	d.Key, d.Secret = key, secret
	return &d
}

// Run runs "aws --endpoint-url ... --output json <args>" and returns its
// standard output and error, and its exit error.
func (c *AWSCLI) Run(args ...string) (stdout, stderr string, err error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(c.T.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", c.Endpoint, "--output", "json"}, args...)...)
	cmd.Env = []string{
		"HOME=" + c.home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + c.Key, "AWS_SECRET_ACCESS_KEY=" + c.Secret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(c.home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(c.home, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard",
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// JSON runs the CLI, fails the test unless it succeeds, and decodes what
// it printed.
func (c *AWSCLI) JSON(args ...string) map[string]any {
	c.T.Helper()
	stdout, stderr, err := c.Run(args...)
	if err != nil {
		c.T.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	out := map[string]any{}
	if strings.TrimSpace(stdout) != "" {
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			c.T.Fatalf("aws %s printed no JSON object: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
	return out
}

// Fail runs the CLI, fails the test unless the CLI fails, and returns what
// it printed on standard error.
func (c *AWSCLI) Fail(args ...string) string {
	c.T.Helper()
	_, stderr, err := c.Run(args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		c.T.Fatalf("aws %s should have failed: %v", strings.Join(args, " "), err)
	}
	return stderr
}

// At is the value at a path of keys and indices in decoded JSON (nil when
// there is none).
func At(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			s, _ := v.([]any)
			if p < 0 || p >= len(s) {
				return nil
			}
			v = s[p]
		}
	}
	return v
}
