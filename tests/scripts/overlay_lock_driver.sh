#!/bin/bash
# A Hermes home on overlayfs, for tests/integration/overlay_lock_test.cpp.
# Runs in a private mount namespace (the test starts it with
# `unshare --mount --propagation private`), so its mounts vanish with it.
#
# The overlay's upper layer is a tmpfs and its lower layer a directory of
# the test's, so the layers lie on different filesystems: then fstat() of a
# file may give the layer's device while /proc/locks names the overlay's.
#
#  1. start the stub gateway in the overlay home; wait for its record;
#  2. replace the record by a legacy one, the bare PID: without a start
#     time, only the held lock proves the gateway is the recorded process;
#  3. run `pidfile check --json` (into check.json) and `pidfile clean`
#     (into clean.out), and tell whether the record survived;
#  4. stop the stub.
#
# Usage: overlay_lock_driver.sh DIR CTL STUB
# It judges nothing: the test asserts on DIR/check.json, DIR/clean.out and
# the lines printed.
set -euo pipefail
dir=$1 ctl=$2 stub=$3
mkdir -p "$dir/lower" "$dir/layers" "$dir/merged"
mount -t tmpfs hgw-overlay-test "$dir/layers"
mkdir "$dir/layers/upper" "$dir/layers/work"
mount -t overlay overlay -o "lowerdir=$dir/lower,upperdir=$dir/layers/upper,workdir=$dir/layers/work" "$dir/merged"
home=$dir/merged
echo "FSTYPE $(stat -f -c %T "$home")"

HERMES_HOME=$home "$stub" gateway run </dev/null >"$dir/stub.log" 2>&1 &
gw=$!
trap 'kill "$gw" 2>/dev/null; wait "$gw" 2>/dev/null; umount "$dir/merged" "$dir/layers"' EXIT
for _ in $(seq 300); do
    [ -s "$home/gateway.pid" ] && grep -q "FLOCK.* $gw " /proc/locks && break
    sleep 0.1
done
echo "GATEWAY $gw"
echo "FILE_DEV $(stat -c '%Hd:%Ld:%i' "$home/gateway.lock")"
echo "LOCKS $(grep "FLOCK.* $gw " /proc/locks || echo none)"

printf '%s\n' "$gw" >"$home/gateway.pid.new"
mv "$home/gateway.pid.new" "$home/gateway.pid"

rc=0; "$ctl" pidfile check --home "$home" --json >"$dir/check.json" || rc=$?
echo "CHECK_EXIT $rc"
rc=0; "$ctl" pidfile clean --home "$home" >"$dir/clean.out" 2>&1 || rc=$?
echo "CLEAN_EXIT $rc"
echo "RECORD_AFTER $(cat "$home/gateway.pid" 2>/dev/null || echo missing)"
