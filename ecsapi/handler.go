package ecsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/stevedore-io/stevedore"
)

// TargetPrefix begins the X-Amz-Target header of every ECS action.
const TargetPrefix = "AmazonEC2ContainerServiceV20141113."

// ContentType is the media type of ECS's requests and answers.
const ContentType = "application/x-amz-json-1.1"

// Defaults of New.
const (
	// DefaultMaxBodyBytes bounds a request's body (a task definition is
	// at most 64 KiB in ECS).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultRequestTimeout bounds the time an action may take.
	DefaultRequestTimeout = 30 * time.Second
)

// Handler serves the ECS API over an Orchestrator. Create it with New.
type Handler struct {
	o           *stevedore.Orchestrator
	credentials map[string]Credentials
	region      string
	maxBody     int64
	timeout     time.Duration
	now         func() time.Time
	log         *slog.Logger
	signer      *v4.Signer
}

// Option configures a Handler.
type Option func(*Handler) error

// WithCredentials adds access keys that may sign requests. Without any,
// New fails: the Handler never serves unauthenticated requests.
func WithCredentials(creds ...Credentials) Option {
	return func(h *Handler) error {
		for i, c := range creds {
			if c.AccessKeyID == "" || c.SecretAccessKey == "" {
				return fmt.Errorf("ecsapi: WithCredentials: credentials[%d]: AccessKeyID and SecretAccessKey are required", i)
			}
			h.credentials[c.AccessKeyID] = c
		}
		return nil
	}
}

// WithRegion accepts only requests signed for region (by default any
// region is accepted).
func WithRegion(region string) Option {
	return func(h *Handler) error {
		h.region = region
		return nil
	}
}

// WithMaxBodyBytes bounds a request's body (DefaultMaxBodyBytes).
func WithMaxBodyBytes(n int64) Option {
	return func(h *Handler) error {
		if n <= 0 {
			return fmt.Errorf("ecsapi: WithMaxBodyBytes: must be positive, got %d", n)
		}
		h.maxBody = n
		return nil
	}
}

// WithRequestTimeout bounds the time an action may take
// (DefaultRequestTimeout).
func WithRequestTimeout(d time.Duration) Option {
	return func(h *Handler) error {
		if d <= 0 {
			return fmt.Errorf("ecsapi: WithRequestTimeout: must be positive, got %v", d)
		}
		h.timeout = d
		return nil
	}
}

// WithClock replaces time.Now for checking the requests' dates (for tests).
func WithClock(now func() time.Time) Option {
	return func(h *Handler) error {
		h.now = now
		return nil
	}
}

// WithLogger logs refused requests and internal errors through l (default:
// discard). Secrets and signatures are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(h *Handler) error {
		h.log = l
		return nil
	}
}

// New returns a Handler serving o.
func New(o *stevedore.Orchestrator, opts ...Option) (*Handler, error) {
	if o == nil {
		return nil, errors.New("ecsapi: New: nil Orchestrator")
	}
	h := &Handler{
		o: o, credentials: map[string]Credentials{}, maxBody: DefaultMaxBodyBytes, timeout: DefaultRequestTimeout,
		now: time.Now, log: slog.New(slog.DiscardHandler), signer: v4.NewSigner(),
	}
	for _, opt := range opts {
		if err := opt(h); err != nil {
			return nil, err
		}
	}
	if len(h.credentials) == 0 {
		return nil, errors.New("ecsapi: New: no credentials (see WithCredentials)")
	}
	return h, nil
}

// NewServer returns an http.Server for h on addr, with timeouts that keep
// slow or idle clients from holding connections.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      DefaultRequestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// action serves one ECS action: it decodes its input from body and returns
// its output, to be encoded as JSON.
type action func(ctx context.Context, h *Handler, name string, body []byte) (any, error)

// Actions are the ECS actions the Handler serves, sorted.
func Actions() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for name := range actions {
			if !yield(name) {
				return
			}
		}
	})
}

// ServeHTTP serves one ECS request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, "", &Error{Type: "UnknownOperationException", Message: "ECS requests are POSTs.", Status: http.StatusMethodNotAllowed})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.fail(w, "", errTooLarge)
			return
		}
		h.fail(w, "", clientError("SerializationException", "Cannot read the request body."))
		return
	}
	if e := h.verify(r.Context(), r, body); e != nil {
		h.log.Info("ecsapi: request refused", "remote", r.RemoteAddr, "type", e.Type)
		h.fail(w, "", e)
		return
	}
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	act := actions[name]
	if !ok || act == nil {
		h.fail(w, "", clientError("UnknownOperationException", "Unknown operation "+r.Header.Get("X-Amz-Target")+"."))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	out, err := act(ctx, h, name, body)
	if err != nil {
		e := toError(name, err)
		if e.Status >= 500 {
			h.log.Error("ecsapi: action failed", "action", name, "err", err)
		}
		h.fail(w, name, e)
		return
	}
	js, err := json.Marshal(out)
	if err != nil {
		h.log.Error("ecsapi: cannot encode an answer", "action", name, "err", err)
		h.fail(w, name, toError(name, err))
		return
	}
	w.Header().Set("Content-Type", ContentType)
	_, _ = w.Write(js)
}

func (h *Handler) fail(w http.ResponseWriter, _ string, e *Error) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	js, _ := json.Marshal(map[string]string{"__type": e.Type, "message": e.Message})
	_, _ = w.Write(js)
}
