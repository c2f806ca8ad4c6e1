package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"slices"

	"github.com/stevedore-io/stevedore/internal/ocitest"
)

// webappScript is the image's entrypoint. It writes the one page the app
// serves (its version, the container's hostname and its address), then runs busybox's
// httpd in the background so that the shell, as PID 1, can turn the SIGTERM
// of a stopping task into a clean exit: PID 1 ignores signals it has no
// handler for, which would cost every stop its full stopTimeout.
const webappScript = `#!/bin/sh
mkdir -p /www
addr=$(ip -o -4 addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
echo "webapp ${VERSION:-unknown} on $(hostname)${addr:+ ($addr)}" >/www/index.html
httpd -f -p 8080 -h /www &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
wait "$pid"
`

// webappPort is where the app listens, in its task's network namespace.
const webappPort = 8080

// webappRef returns the reference of the webapp image of a version.
func webappRef(version string) string { return "stevedore.local/webapp:" + version }

// webappImage describes the webapp image of one version: the host's static
// busybox, the entrypoint script, and VERSION in the image's environment.
func webappImage(version string) (ocitest.Image, error) {
	img, err := ocitest.Busybox(webappRef(version), nil)
	if err != nil {
		return ocitest.Image{}, err
	}
	img.Files = append(img.Files,
		ocitest.File{Path: "usr/local/bin/webapp", Mode: 0o755, Data: []byte(webappScript)},
		// The app runs as UID 1000 (the restricted task policy wants a
		// non-root user) and writes its page here.
		ocitest.File{Path: "www", Mode: fs.ModeDir | 0o777},
	)
	img.Config.Env = append(slices.Clone(img.Config.Env), "VERSION="+version)
	img.Config.Entrypoint = []string{"/usr/local/bin/webapp"}
	img.Config.Cmd = nil
	img.Config.ExposedPorts = map[string]struct{}{fmt.Sprintf("%d/tcp", webappPort): {}}
	return img, nil
}

// webappArchive writes one OCI image layout holding the webapp image of
// every version.
func webappArchive(versions ...string) ([]byte, []*ocitest.Built, error) {
	built := make([]*ocitest.Built, 0, len(versions))
	for _, v := range versions {
		img, err := webappImage(v)
		if err != nil {
			return nil, nil, fmt.Errorf("webapp image %s: %w", v, err)
		}
		b, err := ocitest.Build(img)
		if err != nil {
			return nil, nil, fmt.Errorf("webapp image %s: %w", v, err)
		}
		built = append(built, b)
	}
	var buf bytes.Buffer
	if err := ocitest.WriteArchive(&buf, built...); err != nil {
		return nil, nil, fmt.Errorf("webapp images: %w", err)
	}
	return buf.Bytes(), built, nil
}
