package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("listing nftables tables needs root")
	}
	fifo := t.TempDir()
	clean := []string{"-address", "", "-prefix", "no-such-prefix-x", "-no-labels", "-netns-dir", t.TempDir(),
		"-fifo-dirs", fifo, "-agent-dirs", t.TempDir()}
	tests := []struct {
		name     string
		args     []string
		setup    func()
		wantCode int
		wantOut  string
	}{
		{"nothing left", clean, nil, 0, ""},
		{"a FIFO directory left", clean, func() { _ = os.Mkdir(filepath.Join(fifo, "task-web"), 0o755) }, 1,
			"FIFO directory " + filepath.Join(fifo, "task-web") + "\n"},
		{"bad flag", []string{"-no-such-flag"}, nil, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			assert.Equal(t, tt.wantOut, stdout.String())
		})
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"a", "b"}, split(" a, ,b,"))
	assert.Equal(t, []string{}, split(""))
}
