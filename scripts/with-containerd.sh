#!/bin/sh
# with-containerd.sh CMD...: runs CMD with a private containerd daemon.
#
# As root it installs what is missing (containerd, runc, nftables, iproute2,
# busybox-static, tini, awscli) with apt, starts containerd with its own root, state and
# socket under a temporary directory, exports STEVEDORE_CONTAINERD_ADDRESS for
# the tests and examples, runs CMD, and stops the daemon and removes the
# directory whatever CMD's outcome. Without root it runs CMD as it is: the
# integration tests then skip with a reason (and fail when CI=true).
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "with-containerd: not root; integration tests will skip" >&2
	exec "$@"
fi

need=""
command -v containerd >/dev/null 2>&1 || need="$need containerd"
command -v runc >/dev/null 2>&1 || need="$need runc"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
[ -x /bin/busybox ] || need="$need busybox-static"
# initProcessEnabled binds the host's static tini into containers.
command -v tini-static >/dev/null 2>&1 || need="$need tini"
# ecsapi's TestAWSCLI drives the aws CLI (Debian's awscli is v2).
command -v aws >/dev/null 2>&1 || need="$need awscli"
if [ -n "$need" ]; then
	echo "with-containerd: installing$need" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq $need >&2
fi

dir="$(mktemp -d /tmp/stevedore-containerd.XXXXXX)"
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = "$dir/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
TOML
containerd --config "$dir/config.toml" --log-level warn >"$dir/containerd.log" 2>&1 &
pid=$!

cleanup() {
	# runc makes a cgroup /<namespace>/<container> in every hierarchy and
	# leaves the namespace's: note this daemon's namespaces to remove
	# theirs once it is gone (rmdir removes only the empty ones).
	namespaces=$(ctr --address "$dir/containerd.sock" namespaces ls -q 2>/dev/null || true)
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# Shims outlive the daemon; stop the ones of this private instance.
	for p in $(pgrep -f "containerd-shim.*-address $dir/" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	for ns in $namespaces; do
		for h in /sys/fs/cgroup/*/; do
			if [ -d "$h$ns" ]; then find "$h$ns" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
		done
	done
	umount -R "$dir/state" 2>/dev/null || true
	grep " $dir/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$dir" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

i=0
until [ -S "$dir/containerd.sock" ]; do
	i=$((i + 1))
	if [ "$i" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "with-containerd: containerd did not start:" >&2
		cat "$dir/containerd.log" >&2
		exit 1
	fi
	sleep 0.1
done
export STEVEDORE_CONTAINERD_ADDRESS="$dir/containerd.sock"
echo "with-containerd: containerd at $STEVEDORE_CONTAINERD_ADDRESS" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
