# shellcheck shell=bash
# What bench/peers and bench/scale share: a time budget, one measurement at
# a time on the machine, a record of every process started (stopped by PID
# on any exit), the build, /proc readings and the machine's facts.
# Sourced; the caller sets NAME (for messages) before sourcing.

# ------------------------------------------------------------ budget

# Re-runs the calling script under timeout(1) once. At the deadline timeout
# sends SIGTERM to our process group, and the EXIT trap stops what is left
# within the --kill-after grace.
bounded() {
    local budget=$1 script=$2
    shift 2
    if [[ -z ${HGW_BENCH_BOUNDED:-} ]]; then
        export HGW_BENCH_BOUNDED=1
        exec timeout --kill-after=30 "$budget" bash "$script" "$@"
    fi
}

log() { printf '%s %s: %s\n' "$(date +%T)" "$NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------ one at a time

# The machine has 2 cores shared with other people: two benchmarks at once
# would measure each other. Every bench here takes this lock (in the
# benches' common work directory) for its whole run and refuses to start,
# rather than wait, when another holds it.
take_measure_lock() {
    mkdir -p "$BENCH_WORK"
    exec {MEASURE_LOCK_FD}>>"$BENCH_WORK/measure.lock"
    if ! flock -n "$MEASURE_LOCK_FD"; then
        die "another measurement holds $BENCH_WORK/measure.lock (last taken by: $(cat "$BENCH_WORK/measure.owner" 2>/dev/null || echo '?')); refusing to measure two rows at once"
    fi
    echo "$NAME pid $$ since $(date -u '+%F %T UTC')" >"$BENCH_WORK/measure.owner"
}

# Asserts the lock is ours before a row is measured.
assert_measure_lock() {
    if [[ -z ${MEASURE_LOCK_FD:-} ]] || ! flock -n "$MEASURE_LOCK_FD"; then
        die "measuring without the measurement lock"
    fi
}

# ------------------------------------------------------------ processes

# Start time of PID (field 22 of /proc/PID/stat, read after the last ')').
start_time_of() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -ra fields <<<"${stat##*) }"
    echo "${fields[19]}"
}

# True while PID $1 is the process that started at tick $2 and is not a
# zombie (this machine's PID 1 does not reap orphans).
same_process() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -ra fields <<<"${stat##*) }"
    [[ ${fields[19]:-} == "$2" && ${fields[0]} != Z ]]
}

# Records a process we started (ROLE PID), so that the clean-up can stop it
# even if this script is killed between two steps.
register() {
    local start
    start=$(start_time_of "$2") || { log "warning: $1 $2 already gone"; return 0; }
    echo "$1 $2 $start" >>"$WORK/pids"
}

# Every live descendant of PID, depth first, as "pid start" lines.
descendants() {
    local child
    # The children files hold space-separated PIDs: word splitting is meant.
    # shellcheck disable=SC2013
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        descendants "$child"
        echo "$child $(start_time_of "$child")"
    done
}

wait_gone() { # PID START TENTHS
    local i
    for ((i = 0; i < $3; i++)); do
        same_process "$1" "$2" || return 0
        sleep 0.1
    done
    return 1
}

# Stops every recorded process, newest first, each only while its PID still
# names the process we recorded. Supervisors get SIGTERM (each stops its
# children itself); whatever they leave, noted before the signal, gets
# SIGKILL; a sandbox's PID 1 gets SIGKILL at once (its namespace dies with
# it). Then our work directory goes.
stop_recorded() {
    [[ -n ${WORK:-} && -f $WORK/pids ]] || return 0
    local role pid start leftovers=() d
    while read -r role pid start; do
        same_process "$pid" "$start" || continue
        while read -r d; do [[ -n $d ]] && leftovers+=("$d"); done < <(descendants "$pid")
        case $role in
        sandbox-pid1 | child) kill -KILL "$pid" 2>/dev/null || true ;;
        *) kill -TERM "$pid" 2>/dev/null || true ;;
        esac
        if ! wait_gone "$pid" "$start" 50; then
            log "$role $pid did not stop on SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" "$start" 30 || log "warning: $role $pid still there"
        fi
    done < <(tac "$WORK/pids")
    for d in "${leftovers[@]}"; do
        read -r pid start <<<"$d"
        if same_process "$pid" "$start"; then
            log "killing leftover $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60))"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Reap our own children so that none stays a zombie.
    wait 2>/dev/null || true
}

# Starts a command in the background, closed off from the lock (a process
# we leave behind must not hold it) and from our stdin; prints nothing;
# sets SPAWNED to its PID and records it under ROLE.
spawn() {
    local role=$1 out=$2
    shift 2
    "$@" </dev/null >>"$out" 2>&1 {MEASURE_LOCK_FD}>&- &
    SPAWNED=$!
    register "$role" "$SPAWNED"
}

# ------------------------------------------------------------ build

# Release build of the daemon, the client and the two bench programs.
build() {
    log "building Release into $BUILD"
    mkdir -p "$BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHGW_BUILD_TESTS=OFF \
        -DHGW_BUILD_BENCH=ON >"$BUILD/${NAME##*/}-build.log" 2>&1 ||
        { tail -30 "$BUILD/${NAME##*/}-build.log" >&2; die "cmake configure failed"; }
    cmake --build "$BUILD" -j"$(nproc)" --target hermes-gatewayd hermes-gatewayctl peers_child peers_probe rss_floor \
        >>"$BUILD/${NAME##*/}-build.log" 2>&1 ||
        { tail -50 "$BUILD/${NAME##*/}-build.log" >&2; die "build failed"; }
    DAEMON=$BUILD/src/hermes-gatewayd
    CTL=$BUILD/src/hermes-gatewayctl
    CHILD=$BUILD/bench/peers/hermes-gateway
    PROBE=$BUILD/bench/peers/peers-probe
    FLOOR=$BUILD/bench/rss-floor
    local f
    for f in "$DAEMON" "$CTL" "$CHILD" "$PROBE" "$FLOOR"; do [[ -x $f ]] || die "the build did not produce $f"; done
}

# ------------------------------------------------------------ a private bus

# The PID of the gateway that the daemon of the profile $1 (of the default
# home if empty) on our bus runs, as `hermes-gatewayctl status` reports it:
# the bus names stay the client's (src/util/bus_names.h). Its exit status
# (3 while the gateway is not ready) does not matter as long as it answers.
gateway_pid() {
    local json
    json=$("$CTL" status --json --address "$BUS_ADDRESS" ${1:+--profile "$1"}) || [[ -n $json ]] ||
        die "hermes-gatewayctl status${1:+ --profile $1} did not answer"
    python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])' <<<"$json"
}

# Our own dbus-daemon, configured as the tests' private bus and
# bench/daemon_bench's (tests/support/private_bus.conf: every uid admitted).
# Sets BUS_ADDRESS.
start_bus() {
    local dir=$1 out
    sed "s|@SOCKET@|$dir/bus.socket|" "$SRC/tests/support/private_bus.conf" >"$dir/bus.conf"
    # --fork: the bus daemon prints its address and pid, then detaches.
    out=$(dbus-daemon --config-file="$dir/bus.conf" --fork --print-address=1 --print-pid=1 \
        {MEASURE_LOCK_FD}>&- </dev/null) || die "dbus-daemon did not start"
    # shellcheck disable=SC2034 # used by the sourcing script
    BUS_ADDRESS=$(sed -n 1p <<<"$out")
    register dbus-daemon "$(sed -n 2p <<<"$out")"
}

# ------------------------------------------------------------ /proc readings

load1() { cut -d' ' -f1 /proc/loadavg; }

# "rss_kb pss_kb private_kb" of the processes given, summed (smaps_rollup).
memory_of() {
    local pid
    for pid in "$@"; do cat "/proc/$pid/smaps_rollup"; done |
        awk '/^Rss:/ {r += $2} /^Pss:/ {p += $2} /^Private_(Clean|Dirty):/ {q += $2}
             END {printf "%d %d %d\n", r, p, q}'
}

# Context switches (voluntary + involuntary) of every thread of the
# processes given, summed: each one is a wake-up of a thread.
switches_of() {
    local pid
    for pid in "$@"; do cat /proc/"$pid"/task/*/status; done |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ {s += $2} END {print s + 0}'
}

# ------------------------------------------------------------ facts

machine_facts() {
    local cpu virt
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    virt=$(systemd-detect-virt 2>/dev/null || true)
    echo "- machine: $(nproc) cores, ${cpu:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)${virt:+, virtualization: $virt}"
    echo "- system: $(. /etc/os-release && echo "$PRETTY_NAME"), $(cc --version | head -1), $(dbus-daemon --version | head -1)"
    echo "- source: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$SRC" diff --quiet HEAD 2>/dev/null || echo ' plus uncommitted changes'), run at $RUN_DATE"
    echo "- load average (1, 5, 15 min) at the start: $LOAD_AT_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}
