# shellcheck shell=bash
# What the end-to-end scenarios share: sourced by tests/e2e/run before the
# sandbox boots, so the scenarios (tests/e2e/scenarios/NN-name.sh, each run
# in a subshell of the runner) find these helpers and settings. ns and
# everything built on it need PID1, the sandbox's PID 1 as the host sees it,
# which the runner sets once systemd is up.
# SC2016: eval/sh -c bodies are single-quoted on purpose; SC2034: the
# settings are the scenarios'; SC2154: src and here are the runner's.
# shellcheck disable=SC2016,SC2034,SC2154

# The bus names, read from src/util/bus_names.h (HGW_BUS_NAME,
# HGW_BUS_PATH, HGW_BUS_INTERFACE, the methods, properties and errors), and
# busctl's three arguments that name the daemon's object.
bus_names=$(python3 -B "$(dirname "${BASH_SOURCE[0]}")/../support/bus_names.py" --shell) ||
    { echo "tests/e2e/lib.sh: cannot read the bus names of src/util/bus_names.h" >&2; exit 2; }
eval "$bus_names"
MANAGER=("$HGW_BUS_NAME" "$HGW_BUS_PATH" "$HGW_BUS_INTERFACE")

T=30            # generous timeout (s) for every wait
NRESTARTS=${HGW_E2E_RESTARTS:-50}   # 04-restarts

log() { printf '%s [e2e] %s\n' "$(date +%T)" "$*" >&2; }

ns() { nsenter -t "$PID1" -a "$@"; }
# wait_for SECONDS CMD...: polls CMD until it succeeds (state checks only).
wait_for() {
    local t=$1; shift
    local end=$((SECONDS + t))
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.2
    done
}

# The gateway the daemon runs: the stub, short back-off so healing is quick.
# --fault-file: 07-config-error, 08-crash-loop and 11-failed-update make the
# next starts fail without a new command line.
gatewayd_conf() {
    cat <<'CONF'
# e2e: the stub gateway, short back-off so healing is quick.
command = ["/usr/lib/hermes-gateway-test/hermes", "gateway", "run", "--fault-file", "/var/lib/hermes/fault"]
restart-delay = 200ms
drain-timeout = 5s
stop-timeout = 5s
CONF
}

# [n]: the pattern does not match a command line that contains it (the
# sampler's own shell in 04-restarts).
GW_PAT='hermes-gateway-test/hermes gateway ru[n]'
STOCK_HOME=/var/lib/hermes-stock
gateways() { ns pgrep -f -- "$GW_PAT" | sort -n; }   # pids in the sandbox
ngateways() { gateways | wc -l; }
mainpid() { ns systemctl show -P MainPID hermes-gateway.service; }
# The user helpers (lib-user.sh) spell them so.
BUS_NAME=$HGW_BUS_NAME
BUS_PATH=$HGW_BUS_PATH
BUS_IFACE=$HGW_BUS_INTERFACE
prop() { ns busctl get-property "${MANAGER[@]}" "$1" | awk '{print $2}' | tr -d '"'; }
# record_pid [HOME]: the pid in HOME's gateway.pid (default: the system unit's home).
record_pid() { ns cat "${1:-/var/lib/hermes}/gateway.pid" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null; }
pidfile_check() { ns hermes-gatewayctl pidfile check --home "${1:-/var/lib/hermes}"; }
race_lost() { ns journalctl -q --no-pager -u "$1" | grep -c 'PID file race lost'; }
# The stub's other refusal: a second gateway found the first one's lock.
# A refusal a Hermes status reader caused (its probe flock at the instant
# the gateway took the lock: Hermes' own race, which the daemon answers with
# a start at once) is not counted; the stub says who held the lock.
lock_refused() {
    ns journalctl -q --no-pager -u "$1" | grep 'runtime lock is already held' |
        grep -cvE "stub: (held by Hermes' status reader|nobody holds it now)"
}
# Healthy: active unit, exactly one gateway, it is the daemon's child, the
# record names it and validates, the bus says ready.
healthy() {
    [ "$(ns systemctl is-active hermes-gateway.service)" = active ] || return 1
    local g; g=$(gateways)
    [ "$(printf '%s\n' "$g" | grep -c .)" = 1 ] || return 1
    [ "$(ns ps -o ppid= -p "$g" | tr -d ' ')" = "$(mainpid)" ] || return 1
    record_true /var/lib/hermes "$g" || return 1
    [ "$(prop GatewayPID)" = "$g" ] || return 1
    [ "$(prop Ready)" = true ]
}
# record_true HOME PID: HOME's record names PID, `pidfile check` says live,
# and PID holds gateway.lock, as /proc/locks shows and the daemon's
# validator must see.
record_true() {
    [ "$(record_pid "$1")" = "$2" ] || return 1
    local out; out=$(pidfile_check "$1" 2>&1) || return 1
    grep -q 'not held' <<<"$out" && return 1
    ns grep -Eq "FLOCK +ADVISORY +WRITE +$2 " /proc/locks
}
fail() { log "FAIL: $*"; return 1; }
# The journal's position now, to read only what a scenario caused
# (--since has one-second granularity and overlaps the previous scenario).
jcursor() { ns journalctl -q -n 1 -o cat --show-cursor | sed -n 's/^-- cursor: //p'; }

# The package's life (00-install, 9x-*, --deb only).
PKG=hermes-gatewayd
dpkg_do() {   # dpkg ARGS..., output to the log; stdin closed so a prompt fails
    local out rc=0
    out=$(ns env DEBIAN_FRONTEND=noninteractive dpkg "$@" </dev/null 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/    | /' >&2
    return "$rc"
}
pkg_status() { ns dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null; }
activatable() {
    ns busctl list --activatable --no-legend 2>/dev/null | awk -v name="$HGW_BUS_NAME" '$1 == name { found = 1 } END { exit !found }'
}

# A user's own service, under a real user manager (19-user-service and after).
# shellcheck source=tests/e2e/lib-user.sh
. "$here/lib-user.sh"
