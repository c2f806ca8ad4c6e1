//go:build !unix

package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// secureMkdir creates root/elems (root and the directories on the way 0700,
// the last of elems with mode), refusing symbolic links on the way from
// root down. Without O_NOFOLLOW and file owners, it checks with Lstat only.
func secureMkdir(root string, elems []string, mode os.FileMode) (made []string, err error) {
	path := root
	parts := append([]string{""}, elems...)
	for i, name := range parts {
		path = filepath.Join(path, name)
		perm := os.FileMode(0o700)
		if i == len(parts)-1 && len(elems) > 0 {
			perm = mode
		}
		fi, err := os.Lstat(path)
		if errors.Is(err, os.ErrNotExist) {
			if i == 0 {
				if err := os.MkdirAll(path, 0o700); err != nil {
					return made, err
				}
				made = append(made, path)
			} else if err := os.Mkdir(path, perm); err != nil && !errors.Is(err, os.ErrExist) {
				return made, err
			}
			fi, err = os.Lstat(path)
		}
		if err != nil {
			return made, err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return made, fmt.Errorf("%w: %s is a symbolic link; the agent does not follow links in its state directory", ErrUnsafeStateDir, path)
		}
		if !fi.IsDir() {
			return made, fmt.Errorf("%w: %s is not a directory", ErrUnsafeStateDir, path)
		}
	}
	return made, nil
}

// secureExists reports whether root exists and is a directory, not a link.
func secureExists(root string) (bool, error) {
	fi, err := os.Lstat(root)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return false, fmt.Errorf("%w: %s is not a directory", ErrUnsafeStateDir, root)
	}
	return true, nil
}
