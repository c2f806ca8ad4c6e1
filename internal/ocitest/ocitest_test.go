package ocitest_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/ocitest"
)

// readTar returns a tar stream's regular files by name and its symlinks'
// targets by name.
func readTar(t *testing.T, r io.Reader) (files map[string][]byte, links map[string]string) {
	t.Helper()
	files, links = map[string][]byte{}, map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, links
		}
		require.NoError(t, err)
		switch hdr.Typeflag {
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[hdr.Name] = data
		case tar.TypeSymlink:
			links[hdr.Name] = hdr.Linkname
		}
	}
}

func busyboxOrSkip(t *testing.T) {
	t.Helper()
	if _, err := ocitest.FindBusybox(); err != nil {
		t.Skipf("no static busybox on this host: %v", err)
	}
}

func TestBusyboxArchiveIsAValidOCILayout(t *testing.T) {
	t.Parallel()
	busyboxOrSkip(t)
	const ref = "stevedore.local/busybox:test"

	var buf bytes.Buffer
	require.NoError(t, ocitest.BusyboxArchive(&buf, ref, map[string][]byte{"/etc/motd": []byte("hello\n")}))
	files, _ := readTar(t, &buf)

	var layout ocispec.ImageLayout
	require.NoError(t, json.Unmarshal(files["oci-layout"], &layout))
	assert.Equal(t, ocispec.ImageLayoutVersion, layout.Version)

	// Every blob is stored under its own digest.
	blob := func(d digest.Digest) []byte {
		t.Helper()
		data, ok := files["blobs/sha256/"+d.Encoded()]
		require.True(t, ok, "blob %s missing", d)
		require.Equal(t, d, digest.FromBytes(data))
		return data
	}

	var index ocispec.Index
	require.NoError(t, json.Unmarshal(files["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	desc := index.Manifests[0]
	assert.Equal(t, ref, desc.Annotations[ocitest.AnnotationContainerdImageName])
	assert.Equal(t, "test", desc.Annotations[ocispec.AnnotationRefName])
	assert.Equal(t, ocispec.MediaTypeImageManifest, desc.MediaType)

	var manifest ocispec.Manifest
	mdata := blob(desc.Digest)
	require.Equal(t, desc.Size, int64(len(mdata)))
	require.NoError(t, json.Unmarshal(mdata, &manifest))
	require.Len(t, manifest.Layers, 1)

	var config ocispec.Image
	require.NoError(t, json.Unmarshal(blob(manifest.Config.Digest), &config))
	assert.Equal(t, []string{"sh"}, config.Config.Cmd)
	assert.Equal(t, "linux", config.OS)
	require.Len(t, config.RootFS.DiffIDs, 1)

	zr, err := gzip.NewReader(bytes.NewReader(blob(manifest.Layers[0].Digest)))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, config.RootFS.DiffIDs[0], digest.FromBytes(raw), "diff ID is the digest of the uncompressed layer")

	layerFiles, layerLinks := readTar(t, bytes.NewReader(raw))
	assert.NotEmpty(t, layerFiles["bin/busybox"])
	assert.Equal(t, "hello\n", string(layerFiles["etc/motd"]))
	assert.Contains(t, string(layerFiles["etc/passwd"]), "stevedore:x:1000:1000")
	for _, applet := range []string{"bin/sh", "bin/sleep", "bin/cat", "bin/hostname", "usr/bin/env", "usr/bin/id", "bin/true", "bin/false", "usr/bin/wget", "usr/sbin/httpd"} {
		assert.Equal(t, "/bin/busybox", layerLinks[applet], "applet %s", applet)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	t.Parallel()
	img := ocitest.Image{
		Ref:    "example.local/app:1",
		Files:  []ocitest.File{{Path: "/app/run", Mode: 0o755, Data: []byte("#!/bin/sh\n")}, {Path: "/app/link", Mode: fs.ModeSymlink, Target: "run"}},
		Config: ocispec.ImageConfig{Entrypoint: []string{"/app/run"}},
	}
	a, err := ocitest.Build(img)
	require.NoError(t, err)
	b, err := ocitest.Build(img)
	require.NoError(t, err)
	assert.Equal(t, a.Manifest.Digest, b.Manifest.Digest)
	assert.Equal(t, "1", a.Tag())

	var x, y bytes.Buffer
	require.NoError(t, a.WriteLayout(&x))
	require.NoError(t, b.WriteLayout(&y))
	assert.Equal(t, x.Bytes(), y.Bytes())
}

func TestBuildRejectsInvalidImages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		img  ocitest.Image
	}{
		{"no reference", ocitest.Image{}},
		{"reference without host", ocitest.Image{Ref: "busybox:test"}},
		{"digest reference", ocitest.Image{Ref: "example.local/a@sha256:abc"}},
		{"path leaves the root", ocitest.Image{Ref: "example.local/a:1", Files: []ocitest.File{{Path: "../etc/x"}}}},
		{"root path", ocitest.Image{Ref: "example.local/a:1", Files: []ocitest.File{{Path: "/"}}}},
		{"duplicate", ocitest.Image{Ref: "example.local/a:1", Files: []ocitest.File{{Path: "a"}, {Path: "/a"}}}},
		{"file under a file", ocitest.Image{Ref: "example.local/a:1", Files: []ocitest.File{{Path: "a"}, {Path: "a/b"}}}},
		{"symlink without target", ocitest.Image{Ref: "example.local/a:1", Files: []ocitest.File{{Path: "a", Mode: fs.ModeSymlink}}}},
		{"device", ocitest.Image{Ref: "example.local/a:1", Files: []ocitest.File{{Path: "a", Mode: fs.ModeDevice}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ocitest.Build(tt.img)
			require.ErrorIs(t, err, ocitest.ErrInvalidImage)
		})
	}
}

func TestWriteArchiveNeedsAnImage(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, ocitest.WriteArchive(io.Discard), ocitest.ErrInvalidImage)
}

func TestRegistryServesPulls(t *testing.T) {
	t.Parallel()
	built, err := ocitest.Build(ocitest.Image{
		Ref:   "stevedore.local/tools/app:v1",
		Files: []ocitest.File{{Path: "hello", Data: []byte("hi")}},
	})
	require.NoError(t, err)
	reg := ocitest.NewRegistry(built)
	reg.RequireBasicAuth("user", "secret")
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)

	get := func(method, path string, auth bool) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		if auth {
			req.SetBasicAuth("user", "secret")
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}

	resp := get(http.MethodGet, "/v2/", false)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic")

	tests := []struct {
		name, method, path string
		status             int
		digest             digest.Digest
		mediaType          string
	}{
		{"probe", http.MethodGet, "/v2/", http.StatusOK, "", ""},
		{"manifest by tag", http.MethodGet, "/v2/tools/app/manifests/v1", http.StatusOK, built.Manifest.Digest, ocispec.MediaTypeImageManifest},
		{"manifest head", http.MethodHead, "/v2/tools/app/manifests/v1", http.StatusOK, built.Manifest.Digest, ocispec.MediaTypeImageManifest},
		{"manifest by digest", http.MethodGet, "/v2/tools/app/manifests/" + built.Manifest.Digest.String(), http.StatusOK, built.Manifest.Digest, ocispec.MediaTypeImageManifest},
		{"layer blob", http.MethodGet, "/v2/tools/app/blobs/" + built.Layer.Digest.String(), http.StatusOK, built.Layer.Digest, ""},
		{"unknown tag", http.MethodGet, "/v2/tools/app/manifests/v2", http.StatusNotFound, "", ""},
		{"unknown repository", http.MethodGet, "/v2/other/blobs/" + built.Layer.Digest.String(), http.StatusNotFound, "", ""},
		{"bad digest", http.MethodGet, "/v2/tools/app/blobs/sha256:nope", http.StatusBadRequest, "", ""},
		{"push refused", http.MethodPost, "/v2/tools/app/blobs/uploads/", http.StatusMethodNotAllowed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(tt.method, tt.path, true)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.digest == "" {
				return
			}
			assert.Equal(t, tt.digest.String(), resp.Header.Get("Docker-Content-Digest"))
			assert.Equal(t, int64(len(built.Blobs[tt.digest])), resp.ContentLength)
			if tt.mediaType != "" {
				assert.Equal(t, tt.mediaType, resp.Header.Get("Content-Type"))
			}
			if tt.method == http.MethodGet {
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				assert.Equal(t, tt.digest, digest.FromBytes(body))
			}
		})
	}
	assert.Positive(t, reg.Requests())
}
