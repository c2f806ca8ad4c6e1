package logs

import (
	"io"
	"sync"
)

// LabelStore is a sink whose tasks' logs take labels (*Store is one).
type LabelStore interface {
	Writers(taskID, container string) (stdout, stderr io.Writer)
	SetTaskLabels(taskID string, labels map[string]string) error
}

// maxLabelled bounds the tasks a Labeller remembers as labelled: past it,
// it starts over (labelling again is harmless).
const maxLabelled = 4096

// Labeller is a sink that labels each task's logs once, when the task's
// first container asks for writers: the labels (cluster, family, service)
// let queries find a task's logs after the orchestrator has forgotten the
// task. It is safe for concurrent use.
type Labeller struct {
	store  LabelStore
	labels func(taskID string) (map[string]string, error)
	failed func(taskID string, err error)

	mu   sync.Mutex
	done map[string]bool // tasks labelled
}

// NewLabeller returns a sink writing to s that labels each task with what
// labels returns. failed, when set, hears of a task that could not be
// labelled (its logs are written all the same).
func NewLabeller(s LabelStore, labels func(taskID string) (map[string]string, error), failed func(taskID string, err error)) *Labeller {
	return &Labeller{store: s, labels: labels, failed: failed, done: map[string]bool{}}
}

// Writers labels the task's logs, the first time, and returns the store's
// writers.
func (l *Labeller) Writers(taskID, container string) (stdout, stderr io.Writer) {
	l.label(taskID)
	return l.store.Writers(taskID, container)
}

func (l *Labeller) label(taskID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done[taskID] {
		return
	}
	labels, err := l.labels(taskID)
	if err == nil {
		err = l.store.SetTaskLabels(taskID, labels)
	}
	if err != nil {
		if l.failed != nil {
			l.failed(taskID, err)
		}
		return
	}
	if len(l.done) >= maxLabelled {
		clear(l.done)
	}
	l.done[taskID] = true
}
