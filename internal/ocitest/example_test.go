package ocitest_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stevedore-io/stevedore/internal/ocitest"
)

// An image of two files, written as an OCI image layout tar.
func ExampleBuild() {
	built, err := ocitest.Build(ocitest.Image{
		Ref: "example.local/hello:1",
		Files: []ocitest.File{
			{Path: "/app/hello.sh", Mode: 0o755, Data: []byte("#!/bin/sh\necho hello\n")},
			{Path: "/app/run", Mode: fs.ModeSymlink, Target: "hello.sh"},
		},
		Config: ocispec.ImageConfig{Entrypoint: []string{"/app/run"}},
	})
	if err != nil {
		panic(err)
	}
	var layout bytes.Buffer
	if err := built.WriteLayout(&layout); err != nil {
		panic(err)
	}
	fmt.Println("tag:", built.Tag(), "blobs:", len(built.Blobs))
	tr := tar.NewReader(&layout)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		if hdr.Typeflag == tar.TypeReg && len(hdr.Name) < 20 {
			fmt.Println(hdr.Name)
		}
	}
	// Output:
	// tag: 1 blobs: 3
	// oci-layout
	// index.json
}
