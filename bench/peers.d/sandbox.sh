# shellcheck shell=bash
# systemd 252 as PID 1 in private namespaces, for bench/peers: the same
# boot as tests/e2e/run (its tests/e2e/sandbox-init makes /tmp, /run, /var,
# /etc and /usr private before systemd starts, and masks every unit that
# could touch the host), with the bench's child and probe laid over /usr
# and one unit of ours instead of the package. Sourced after lib.sh.

SANDBOX_UNIT=hgw-peers-child.service
SANDBOX_REPORT=/run/hgw-peers/report.sock   # inside the sandbox
PID1=""
SANDBOX_CGROUP=""
HOST_MARKER=""

# Runs a command inside the sandbox (all its namespaces).
ns() { nsenter -t "$PID1" -a "$@"; }

# The unit under test: Type=notify, restarted at once whatever happens.
sandbox_unit() {
    cat <<EOF
# bench/peers: the C child under systemd, as a notify service that is
# restarted at once (RestartSec=0) and never rate-limited.
[Unit]
Description=bench/peers notify child
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
ExecStart=/usr/lib/hgw-peers/hermes-gateway --mode notify --report $SANDBOX_REPORT
Restart=always
RestartSec=0
EOF
}

# Boots the sandbox; sets PID1 (host PID of its systemd).
sandbox_boot() {
    local dir=$WORK/sandbox
    local stage=$dir/stage scratch=$dir/scratch input=$dir/input state i
    mkdir -p "$stage/usr/lib/hgw-peers" "$stage/etc" "$scratch" "$input/units"
    install -m 0755 "$CHILD" "$PROBE" "$stage/usr/lib/hgw-peers/"
    cp "$SRC/tests/e2e/units/hgw-test.target" "$input/units/"
    sandbox_unit >"$input/units/$SANDBOX_UNIT"

    # A cgroup of our own becomes the root of the sandbox's cgroup namespace.
    SANDBOX_CGROUP=/sys/fs/cgroup/unified/hgw-peers-$$
    [[ -d /sys/fs/cgroup/unified ]] || SANDBOX_CGROUP=/sys/fs/cgroup/hgw-peers-$$
    mkdir "$SANDBOX_CGROUP"
    # tests/e2e/run's check that the host's /tmp survives the boot.
    HOST_MARKER=$(mktemp /tmp/hgw-peers-marker.XXXXXX)
    log "booting systemd in private namespaces"
    # MODE tree: the staged tree is laid over /usr and /etc (the service
    # account it adds to the overlay's passwd is not used here).
    # shellcheck disable=SC2016 # $$ and $1 are the inner shell's
    spawn sandbox-wrapper "$dir/console.log" \
        sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$SANDBOX_CGROUP" \
        unshare --pid --fork --mount --uts --ipc --net --cgroup --propagation private --mount-proc \
        "$SRC/tests/e2e/sandbox-init" "$stage" "$scratch" "$input" tree
    # The wrapper execs unshare, whose child is PID 1: sandbox-init, which
    # then execs systemd.
    for ((i = 0; i < 100; i++)); do
        PID1=$(pgrep -P "$SPAWNED" | head -1 || true)
        [[ -n $PID1 && $(cat "/proc/$PID1/comm" 2>/dev/null) == systemd ]] && break
        PID1=""
        sleep 0.1
    done
    [[ -n $PID1 ]] || { tail -20 "$dir/console.log" >&2; die "no systemd in the sandbox"; }
    register sandbox-pid1 "$PID1"
    for ((i = 0; i < 600; i++)); do
        state=$(ns systemctl is-system-running 2>/dev/null || true)
        [[ $state == running || $state == degraded ]] && break
        kill -0 "$PID1" 2>/dev/null || { tail -20 "$dir/console.log" >&2; die "the sandbox's systemd exited"; }
        sleep 0.1
    done
    [[ $state == running || $state == degraded ]] || die "systemd did not come up ($state)"
    # From now on PID 1 logs to the sandbox's journal, not the host console.
    ns systemd-analyze set-log-target journal
    [[ -e $HOST_MARKER ]] || die "the host's /tmp marker vanished during the boot"
    ns mkdir -p /run/hgw-peers
    ns systemctl start "$SANDBOX_UNIT" || die "systemctl start $SANDBOX_UNIT failed"
    log "systemd $(ns systemctl --version | head -1 | awk '{print $2}') up as host pid $PID1 ($state); $SANDBOX_UNIT active"
}

sandbox_mainpid() { ns systemctl show -P MainPID "$SANDBOX_UNIT"; }

# Runs the probe inside the sandbox, so that nsenter is not timed and PIDs
# and the report socket are the sandbox's.
sandbox_probe() { ns /usr/lib/hgw-peers/peers-probe "$@"; }

# After stop_recorded killed PID 1: the host's /tmp marker (checked) and
# our cgroup, once empty.
sandbox_cleanup() {
    if [[ -n ${HOST_MARKER:-} ]]; then
        [[ -e $HOST_MARKER ]] || log "WARNING: the host's /tmp marker vanished"
        rm -f "$HOST_MARKER"
    fi
    [[ -n $SANDBOX_CGROUP && -d $SANDBOX_CGROUP ]] || return 0
    local i
    for ((i = 0; i < 50; i++)); do
        find "$SANDBOX_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [[ -d $SANDBOX_CGROUP ]] || return 0
        sleep 0.1
    done
    log "warning: could not remove $SANDBOX_CGROUP"
}
