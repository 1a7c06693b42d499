# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 02-gateway-kill: kill -9 of the gateway; healthy again with a new
# gateway, and no "PID file race lost" in the journal.
#
# e2e-aliases: b

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local old new; old=$(gateways)
    ns kill -KILL "$old"
    wait_for "$T" eval '[ "$(gateways)" != "$old" ] && healthy' || fail "not healed after kill -9 of $old"
    new=$(gateways)
    [ "$new" != "$old" ] || fail "same pid"
    pidfile_check || fail "pidfile check exit $?"
    log "gateway $old -> $new"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || fail "race lost in the journal"
}
