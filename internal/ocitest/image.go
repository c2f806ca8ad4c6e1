package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// AnnotationContainerdImageName is the index annotation containerd's import
// reads for an image's full reference.
const AnnotationContainerdImageName = "io.containerd.image.name"

// ErrInvalidImage means an Image cannot be built (bad reference or file list).
var ErrInvalidImage = errors.New("ocitest: invalid image")

// epoch is the modification time of every file in a built layer, so that
// builds are reproducible.
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// File is one entry of an image's only layer.
type File struct {
	// Path in the image, such as "/bin/busybox" or "etc/passwd".
	Path string
	// Mode holds the permission bits, plus fs.ModeDir for a directory or
	// fs.ModeSymlink for a symbolic link. Zero means 0644 for a file.
	Mode fs.FileMode
	// Data is a regular file's content.
	Data []byte
	// Target is a symbolic link's target.
	Target string
}

// Image describes an image with a single layer.
type Image struct {
	// Ref is the full reference the image is known by, for example
	// "stevedore.local/busybox:test".
	Ref string
	// Files are the layer's entries. Missing parent directories are added
	// with mode 0755.
	Files []File
	// Config is the image's runtime configuration (Env, Cmd, Entrypoint...).
	Config ocispec.ImageConfig
}

// Built is an Image serialised into content-addressed blobs.
type Built struct {
	// Ref is the image's full reference.
	Ref string
	// Manifest, Config and Layer describe the three blobs of the image.
	Manifest ocispec.Descriptor
	Config   ocispec.Descriptor
	Layer    ocispec.Descriptor
	// Blobs holds every blob by digest.
	Blobs map[digest.Digest][]byte
}

// Build serialises img: a gzip-compressed tar layer, an image config for
// linux on the current architecture, and a manifest.
func Build(img Image) (*Built, error) {
	if err := validateRef(img.Ref); err != nil {
		return nil, err
	}
	layer, diffID, err := buildLayer(img.Files)
	if err != nil {
		return nil, err
	}
	b := &Built{Ref: img.Ref, Blobs: make(map[digest.Digest][]byte)}
	b.Layer = b.add(ocispec.MediaTypeImageLayerGzip, layer)

	created := epoch
	config, err := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   img.Config,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.Ref, err)
	}
	b.Config = b.add(ocispec.MediaTypeImageConfig, config)

	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    b.Config,
		Layers:    []ocispec.Descriptor{b.Layer},
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", img.Ref, err)
	}
	b.Manifest = b.add(ocispec.MediaTypeImageManifest, manifest)
	b.Manifest.Platform = &ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"}
	return b, nil
}

func (b *Built) add(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	b.Blobs[d] = data
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// Tag returns the tag of the image's reference ("latest" when it has none).
func (b *Built) Tag() string {
	_, tag := splitRef(b.Ref)
	return tag
}

// WriteLayout writes the image as an OCI image layout tar to w.
func (b *Built) WriteLayout(w io.Writer) error {
	return WriteArchive(w, b)
}

// WriteArchive writes one OCI image layout tar holding every image in imgs.
func WriteArchive(w io.Writer, imgs ...*Built) error {
	if len(imgs) == 0 {
		return fmt.Errorf("%w: no image to write", ErrInvalidImage)
	}
	blobs := make(map[digest.Digest][]byte)
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
	}
	for _, img := range imgs {
		for d, data := range img.Blobs {
			blobs[d] = data
		}
		desc := img.Manifest
		desc.Annotations = map[string]string{
			ocispec.AnnotationRefName:     img.Tag(),
			AnnotationContainerdImageName: img.Ref,
		}
		index.Manifests = append(index.Manifests, desc)
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("index.json: %w", err)
	}
	layoutJSON, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return fmt.Errorf("oci-layout: %w", err)
	}

	tw := tar.NewWriter(w)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch}); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	digests := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Slice(digests, func(i, j int) bool { return digests[i] < digests[j] })
	for _, d := range digests {
		if err := writeTarFile(tw, "blobs/sha256/"+d.Encoded(), blobs[d]); err != nil {
			return err
		}
	}
	if err := writeTarFile(tw, ocispec.ImageLayoutFile, layoutJSON); err != nil {
		return err
	}
	if err := writeTarFile(tw, ocispec.ImageIndexFile, indexJSON); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

func writeTarFile(tw *tar.Writer, name string, data []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}

// buildLayer returns the gzip-compressed layer and the digest of its
// uncompressed tar (the diff ID).
func buildLayer(files []File) (layer []byte, diffID digest.Digest, err error) {
	entries := make(map[string]File)
	for _, f := range files {
		p, err := cleanPath(f.Path)
		if err != nil {
			return nil, "", err
		}
		if _, dup := entries[p]; dup {
			return nil, "", fmt.Errorf("%w: file %s listed twice", ErrInvalidImage, f.Path)
		}
		f.Path = p
		entries[p] = f
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if _, ok := entries[dir]; !ok {
				entries[dir] = File{Path: dir, Mode: fs.ModeDir | 0o755}
			}
		}
	}
	for p, f := range entries {
		if parent := path.Dir(p); parent != "." && !entries[parent].Mode.IsDir() {
			return nil, "", fmt.Errorf("%w: %s is inside %s, which is not a directory", ErrInvalidImage, f.Path, parent)
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, name := range names {
		if err := writeEntry(tw, entries[name]); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", fmt.Errorf("layer: %w", err)
	}
	diffID = digest.FromBytes(raw.Bytes())

	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return nil, "", fmt.Errorf("layer: %w", err)
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", fmt.Errorf("layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", fmt.Errorf("layer: %w", err)
	}
	return gz.Bytes(), diffID, nil
}

func writeEntry(tw *tar.Writer, f File) error {
	hdr := &tar.Header{Name: f.Path, Mode: int64(f.Mode.Perm()), ModTime: epoch, Format: tar.FormatPAX}
	switch {
	case f.Mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if f.Mode&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
	case f.Mode&fs.ModeSymlink != 0:
		if f.Target == "" {
			return fmt.Errorf("%w: symlink %s has no target", ErrInvalidImage, f.Path)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = f.Target
		hdr.Mode = 0o777
	case f.Mode.IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(len(f.Data))
		if f.Mode.Perm() == 0 {
			hdr.Mode = 0o644
		}
	default:
		return fmt.Errorf("%w: %s has unsupported mode %v", ErrInvalidImage, f.Path, f.Mode)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("layer %s: %w", f.Path, err)
	}
	if hdr.Typeflag == tar.TypeReg {
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("layer %s: %w", f.Path, err)
		}
	}
	return nil
}

// cleanPath turns "/bin/sh" or "bin/sh" into "bin/sh" and rejects paths that
// leave the root.
func cleanPath(p string) (string, error) {
	c := path.Clean("/" + p)
	if c == "/" || strings.Contains(p, "\x00") {
		return "", fmt.Errorf("%w: bad path %q", ErrInvalidImage, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: path %q leaves the image root", ErrInvalidImage, p)
		}
	}
	return c[1:], nil
}

// splitRef splits "host/repo/name:tag" into "host/repo/name" and "tag". A
// digest reference keeps its digest as the tag part.
func splitRef(ref string) (name, tag string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

func validateRef(ref string) error {
	name, tag := splitRef(ref)
	if name == "" || tag == "" || strings.ContainsAny(ref, " \t\n") || strings.Contains(ref, "@") {
		return fmt.Errorf("%w: reference %q: want name[:tag]", ErrInvalidImage, ref)
	}
	if !strings.Contains(name, "/") {
		return fmt.Errorf("%w: reference %q: want a full reference such as example.local/name:tag", ErrInvalidImage, ref)
	}
	return nil
}
