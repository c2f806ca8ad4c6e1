package ocitest

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNoBusybox means no statically linked busybox was found on this host.
var ErrNoBusybox = errors.New("ocitest: no static busybox (install busybox-static)")

// BusyboxPaths are where FindBusybox looks, in order.
var BusyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox"}

// Users of a Busybox image, in its /etc/passwd and /etc/group.
const (
	// UserName is an unprivileged user with UID and GID 1000.
	UserName = "stevedore"
	UserUID  = 1000
	UserGID  = 1000
)

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"stevedore:x:1000:1000:stevedore:/home/stevedore:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\n" +
		"stevedore:x:1000:\n" +
		"extra:x:2000:stevedore\n" +
		"nogroup:x:65534:\n"
)

// FindBusybox returns the path of a statically linked busybox binary.
func FindBusybox() (string, error) {
	for _, p := range BusyboxPaths {
		static, err := isStatic(p)
		if err != nil || !static {
			continue
		}
		return p, nil
	}
	return "", ErrNoBusybox
}

func isStatic(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// Busybox describes an image made of the host's static busybox: the binary
// at /bin/busybox, a symbolic link for each of its applets at the path busybox
// itself lists (/bin/sh, /usr/bin/env, /sbin/ifconfig, ...), /etc/passwd and
// /etc/group with root, "stevedore" (1000:1000, also in group "extra" 2000)
// and nobody, an empty /tmp (mode 1777) and /root, and extraFiles (path to
// content, mode 0644; they may replace the defaults). The config sets
// PATH and Cmd ["sh"].
func Busybox(ref string, extraFiles map[string][]byte) (Image, error) {
	bin, err := FindBusybox()
	if err != nil {
		return Image{}, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return Image{}, fmt.Errorf("read busybox: %w", err)
	}
	applets, err := busyboxApplets(bin)
	if err != nil {
		return Image{}, err
	}

	files := map[string]File{
		"bin/busybox": {Path: "bin/busybox", Mode: 0o755, Data: data},
		"etc/passwd":  {Path: "etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		"etc/group":   {Path: "etc/group", Mode: 0o644, Data: []byte(group)},
		"tmp":         {Path: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		"root":        {Path: "root", Mode: fs.ModeDir | 0o700},
	}
	for _, a := range applets {
		if _, ok := files[a]; ok {
			continue
		}
		files[a] = File{Path: a, Mode: fs.ModeSymlink, Target: "/bin/busybox"}
	}
	for p, content := range extraFiles {
		c, err := cleanPath(p)
		if err != nil {
			return Image{}, err
		}
		files[c] = File{Path: c, Mode: 0o644, Data: content}
	}

	img := Image{
		Ref: ref,
		Config: ocispec.ImageConfig{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"sh"},
		},
	}
	for _, f := range files {
		img.Files = append(img.Files, f)
	}
	sort.Slice(img.Files, func(i, j int) bool { return img.Files[i].Path < img.Files[j].Path })
	return img, nil
}

// busyboxApplets returns the applet paths busybox reports, relative to /.
func busyboxApplets(bin string) ([]string, error) {
	out, err := exec.Command(bin, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", bin, err)
	}
	var applets []string
	for _, line := range strings.Split(string(bytes.TrimSpace(out)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || path.Base(line) == "busybox" {
			continue
		}
		c, err := cleanPath(line)
		if err != nil {
			return nil, fmt.Errorf("%s --list-full: %w", bin, err)
		}
		applets = append(applets, c)
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("%s --list-full: no applets", bin)
	}
	return applets, nil
}

// BusyboxArchive writes a busybox image named ref (see Busybox) to w as an
// OCI image layout tar, ready for containerd's import.
func BusyboxArchive(w io.Writer, ref string, extraFiles map[string][]byte) error {
	img, err := Busybox(ref, extraFiles)
	if err != nil {
		return err
	}
	built, err := Build(img)
	if err != nil {
		return err
	}
	return built.WriteLayout(w)
}
