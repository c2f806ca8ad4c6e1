// Package cgroupclean removes the cgroups runc leaves for a containerd
// namespace. containerd puts a container in /<namespace>/<id> of every
// cgroup hierarchy; runc removes the container's cgroup with the container
// and leaves /<namespace>. Tests and the chaos trials, each with a
// namespace of their own, remove theirs once nothing creates containers
// there any more: runc fails to create a container in a cgroup removed
// under it.
package cgroupclean
