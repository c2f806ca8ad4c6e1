package ocitest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// Registry is a read-only registry serving built images over the pull half
// of the registry HTTP API: GET /v2/, and GET or HEAD of manifests (by tag or
// digest) and blobs. A repository is the path of an image's reference without
// its host, so "stevedore.local/busybox:test" is pulled as
// "<server>/busybox:test".
//
// Registry is an http.Handler; serve it on loopback, for example with
// httptest.NewServer. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	manifests map[string]*Built // "repo:tag" and "repo@digest"
	blobs     map[string]map[digest.Digest][]byte
	user      string
	password  string
	requests  atomic.Int64
}

// NewRegistry returns a registry serving imgs.
func NewRegistry(imgs ...*Built) *Registry {
	r := &Registry{manifests: make(map[string]*Built), blobs: make(map[string]map[digest.Digest][]byte)}
	for _, img := range imgs {
		r.Add(img)
	}
	return r
}

// Add serves img too, replacing an image with the same repository and tag.
func (r *Registry) Add(img *Built) {
	name, tag := splitRef(img.Ref)
	repo := name[strings.Index(name, "/")+1:]
	r.mu.Lock()
	defer r.mu.Unlock()
	r.manifests[repo+":"+tag] = img
	r.manifests[repo+"@"+img.Manifest.Digest.String()] = img
	if r.blobs[repo] == nil {
		r.blobs[repo] = make(map[digest.Digest][]byte)
	}
	for d, data := range img.Blobs {
		r.blobs[repo][d] = data
	}
}

// RequireBasicAuth makes every request need these credentials.
func (r *Registry) RequireBasicAuth(user, password string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.password = user, password
}

// Requests returns how many requests the registry has received.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// ServeHTTP implements http.Handler.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	r.mu.RLock()
	defer r.mu.RUnlock()

	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.user != "" {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(r.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(r.password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="ocitest"`)
			registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		registryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "read-only registry")
		return
	}
	p := strings.TrimPrefix(req.URL.Path, "/v2/")
	if p == "" || req.URL.Path == "/v2" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
		return
	}
	if i := strings.LastIndex(p, "/manifests/"); i > 0 {
		r.serveManifest(w, req, p[:i], p[i+len("/manifests/"):])
		return
	}
	if i := strings.LastIndex(p, "/blobs/"); i > 0 {
		r.serveBlob(w, req, p[:i], p[i+len("/blobs/"):])
		return
	}
	registryError(w, http.StatusNotFound, "NOT_FOUND", "no such route")
}

func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, repo, ref string) {
	sep := ":"
	if _, err := digest.Parse(ref); err == nil {
		sep = "@"
	}
	img, ok := r.manifests[repo+sep+ref]
	if !ok {
		registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}
	serveContent(w, req, img.Manifest.MediaType, img.Manifest.Digest, img.Blobs[img.Manifest.Digest])
}

func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, repo, ref string) {
	d, err := digest.Parse(ref)
	if err != nil {
		registryError(w, http.StatusBadRequest, "DIGEST_INVALID", err.Error())
		return
	}
	data, ok := r.blobs[repo][d]
	if !ok {
		registryError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
		return
	}
	serveContent(w, req, "application/octet-stream", d, data)
}

func serveContent(w http.ResponseWriter, req *http.Request, mediaType string, d digest.Digest, data []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Etag", `"`+d.String()+`"`)
	// ServeContent handles HEAD, Content-Length and the Range requests that
	// resumable fetches make.
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(data))
}

func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": message}},
	})
}
