//go:build unix

package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// secureMkdir opens root/elems one component at a time from "/", with
// O_NOFOLLOW, creating what is missing: root and the directories on the
// way 0700, the last of elems with mode. It refuses a symbolic link at root
// or below it, or above it unless root or the agent's user owns the link
// (see walk); a directory above root that is neither root's nor the
// agent's or that others may write to without the sticky bit (as /tmp has);
// and at root and below a directory that is not the agent's. The
// state directory root is made 0700 if it is more open. It returns the
// directories it created, shallowest first.
func secureMkdir(root string, elems []string, mode os.FileMode) (made []string, err error) {
	return walk(root, elems, mode, true)
}

// secureExists reports whether root exists, with the checks of secureMkdir.
func secureExists(root string) (bool, error) {
	_, err := walk(root, nil, 0, false)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// maxLinks bounds the symbolic links followed above a state directory.
const maxLinks = 40

// walk is secureMkdir (create) or secureExists. Above the state directory,
// it follows a symbolic link that root or the agent's user owns (as /var is
// on some systems, or a state directory's parent moved to a larger disk), as
// Linux's protected_symlinks does in sticky directories: another user cannot
// make one. The state directory itself and what is below it are never links.
func walk(root string, elems []string, mode os.FileMode, create bool) (made []string, err error) {
	for range maxLinks {
		m, resolved, err := walkOnce(root, elems, mode, create)
		made = append(made, m...)
		if resolved == "" {
			return made, err
		}
		root = resolved
	}
	return made, fmt.Errorf("%w: %s: more than %d symbolic links above it", ErrUnsafeStateDir, root, maxLinks)
}

// walkOnce walks root/elems once; when it meets a link above the state
// directory that it may follow, it returns root with the link resolved, to
// walk again.
func walkOnce(root string, elems []string, mode os.FileMode, create bool) (made []string, resolved string, err error) {
	if !filepath.IsAbs(root) {
		return nil, "", fmt.Errorf("%w: %s is not an absolute path", ErrUnsafeStateDir, root)
	}
	above := strings.Split(strings.TrimPrefix(filepath.Clean(root), "/"), "/")
	if above[0] == "" {
		above = nil // root is "/"
	}
	parts := append(above, elems...)
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: "/", Err: err}
	}
	defer func() { unix.Close(fd) }()
	uid := os.Geteuid()
	path := "/"
	for i, name := range parts {
		if name == "" || name == "." || name == ".." {
			return made, "", fmt.Errorf("%w: %q is not a path element", ErrUnsafeStateDir, name)
		}
		path = filepath.Join(path, name)
		mine := i >= len(above)-1 // root and below
		perm := uint32(0o700)
		if i == len(parts)-1 && len(elems) > 0 {
			perm = uint32(mode.Perm())
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err := unix.Mkdirat(fd, name, perm); err != nil && !errors.Is(err, unix.EEXIST) {
				return made, "", &os.PathError{Op: "mkdir", Path: path, Err: err}
			} else if err == nil {
				made = append(made, path)
			}
			next, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				if mine || (st.Uid != 0 && int(st.Uid) != uid) {
					return made, "", fmt.Errorf("%w: %s is a symbolic link; the agent does not follow links in its state directory", ErrUnsafeStateDir, path)
				}
				target, err := readlinkat(fd, name)
				if err != nil {
					return made, "", &os.PathError{Op: "readlink", Path: path, Err: err}
				}
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(path), target)
				}
				return made, filepath.Join(append([]string{target}, above[i+1:]...)...), nil
			}
			return made, "", &os.PathError{Op: "open", Path: path, Err: err}
		}
		unix.Close(fd)
		fd = next
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return made, "", &os.PathError{Op: "stat", Path: path, Err: err}
		}
		switch {
		case mine && int(st.Uid) != uid:
			return made, "", fmt.Errorf("%w: %s is owned by uid %d, not by the agent's uid %d", ErrUnsafeStateDir, path, st.Uid, uid)
		case !mine && st.Uid != 0 && int(st.Uid) != uid:
			return made, "", fmt.Errorf("%w: %s, above the state directory, is owned by uid %d, neither root nor the agent's uid %d", ErrUnsafeStateDir, path, st.Uid, uid)
		case !mine && st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0:
			return made, "", fmt.Errorf("%w: %s, above the state directory, is writable by others (mode %#o)", ErrUnsafeStateDir, path, st.Mode&0o7777)
		case i == len(above)-1 && st.Mode&0o077 != 0:
			// The state directory keeps everyone else out of what is below.
			if err := unix.Fchmod(fd, 0o700); err != nil {
				return made, "", &os.PathError{Op: "chmod", Path: path, Err: err}
			}
		}
	}
	return made, "", nil
}

// readlinkat reads the target of the link name in directory fd.
func readlinkat(fd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
