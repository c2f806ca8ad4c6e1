//go:build !linux

package cgroupclean

// Remove does nothing: cgroups are Linux's.
func Remove(string, bool) (int, error) { return 0, nil }
