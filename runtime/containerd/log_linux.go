//go:build linux

package containerd

import (
	"context"
	"io"
	"log/slog"

	"github.com/containerd/log"
	"github.com/sirupsen/logrus"
)

// clientLogger returns a logger for the containerd client's own messages
// (it logs through logrus), forwarding them to l instead of stderr. The
// client's Info messages ("fetch failed" while probing a registry, ...)
// become Debug: they are details of calls whose outcome the runtime reports.
func clientLogger(l *slog.Logger) *log.Entry {
	lg := logrus.New()
	lg.SetOutput(io.Discard)
	lg.SetLevel(logrus.DebugLevel)
	lg.AddHook(slogHook{l: l.With("component", "containerd-client")})
	return logrus.NewEntry(lg)
}

type slogHook struct{ l *slog.Logger }

func (h slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelDebug
	switch {
	case e.Level <= logrus.ErrorLevel:
		level = slog.LevelError
	case e.Level == logrus.WarnLevel:
		level = slog.LevelWarn
	}
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if !h.l.Enabled(ctx, level) {
		return nil
	}
	attrs := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		attrs = append(attrs, k, v)
	}
	h.l.Log(ctx, level, e.Message, attrs...)
	return nil
}
