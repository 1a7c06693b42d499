# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 14-record-other-boot: a record from another boot names a live process of
# the same user, even with its real start time; only the boot id tells it
# is stale. It is replaced at start, and the process is never signalled.
#
# e2e-aliases: k

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    ns systemctl stop hermes-gateway.service
    ! ns test -e /var/lib/hermes/gateway.pid || fail "record left after stop"
    local sp st boot other rec since out rc=0
    sp=$(ns setpriv --reuid=hermes --regid=hermes --init-groups sh -c 'sleep 600 </dev/null >/dev/null 2>&1 & echo $!')
    { [ -n "$sp" ] && ns kill -0 "$sp"; } || fail "no sleep process"
    st=$(ns awk '{print $22}' "/proc/$sp/stat")
    boot=$(ns cat /proc/sys/kernel/random/boot_id)
    other=$(cat /proc/sys/kernel/random/uuid)
    [ "$other" != "$boot" ] || fail "same boot id?"
    rec=$(printf '{"pid":%s,"kind":"hermes-gateway","argv":["/usr/lib/hermes-gateway-test/hermes","gateway","run","--fault-file","/var/lib/hermes/fault"],"start_time":%s,"hermes_home":"/var/lib/hermes","boot_id":"%s"}' "$sp" "$st" "$other")
    printf '%s' "$rec" | ns setpriv --reuid=hermes --regid=hermes --init-groups sh -c 'umask 022; cat >/var/lib/hermes/gateway.pid'
    out=$(pidfile_check 2>&1) || rc=$?
    log "planted record for sleep $sp (start $st, boot ${other:0:8}); pidfile check exit $rc: $out"
    printf '%s\n' "$out" | grep -q 'another boot' || { ns kill "$sp"; fail "pidfile check does not see another boot"; }
    since=$(jcursor)
    local bad=''
    ns systemctl start hermes-gateway.service || bad="start failed"
    [ -n "$bad" ] || wait_for "$T" healthy || bad="not healthy after start"
    local g; g=$(gateways)
    { [ "$(record_pid)" = "$g" ] && [ "$g" != "$sp" ]; } || bad="${bad:-record not replaced (names $(record_pid))}"
    ns kill -0 "$sp" || bad="${bad:-sleep $sp is gone: it was signalled}"
    local state; state=$(ns awk '{print $3}' "/proc/$sp/stat" 2>/dev/null)
    [ "$state" = S ] || bad="${bad:-sleep $sp in state '$state', want S}"
    local rl; rl=$(ns journalctl -q --no-pager -u hermes-gateway.service --after-cursor "$since" | grep -c 'race lost' || true)
    [ "$rl" = 0 ] || bad="${bad:-race lost in the journal}"
    ns journalctl -q --no-pager -u hermes-gateway.service --after-cursor "$since" | grep -iE 'stale|boot|record' | head -4 | sed 's/^/    /' >&2 || true
    log "sleep $sp state $state; gateway $g; record names $(record_pid)"
    ns kill "$sp"
    [ -z "$bad" ] || fail "$bad"
}
