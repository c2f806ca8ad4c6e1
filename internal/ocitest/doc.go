// Package ocitest builds small OCI images in Go, without Docker, a registry or
// the network, and serves them from an in-process registry.
//
// Stevedore's integration tests, examples and quickstart need an image with a
// shell and the usual tools. The busybox-static package provides one binary
// that is all of them; Busybox turns it into an image:
//
//	img, err := ocitest.Busybox("stevedore.local/busybox:test", nil)
//	built, err := ocitest.Build(img)
//	err = built.WriteLayout(w) // an OCI image layout tar
//
// or in one call:
//
//	err := ocitest.BusyboxArchive(w, "stevedore.local/busybox:test", nil)
//
// The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/…)
// whose index names the image both with org.opencontainers.image.ref.name
// and with io.containerd.image.name, so that containerd's import (and
// runtime/containerd's ImportArchive) registers it under its full reference.
//
// Build is deterministic: the same Image gives the same digests, because file
// times are fixed and entries are sorted. Any Image can be built, not only
// busybox: list its Files and its Config.
//
// Registry serves built images over the registry HTTP API (pull only: the
// /v2/ probe, manifests and blobs, optionally behind basic auth). Run it with
// net/http/httptest on loopback to test pulls with credentials:
//
//	reg := ocitest.NewRegistry(built)
//	reg.RequireBasicAuth("user", "secret")
//	srv := httptest.NewServer(reg)
//
// Despite its name the package is ordinary code, not a test helper: it has no
// dependency on the testing package.
package ocitest
