# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 03-daemon-kill: kill -9 of the daemon; systemd restarts it, exactly one
# gateway runs, its record names it, no race lost.
#
# e2e-aliases: c

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local mp old; mp=$(mainpid); old=$(gateways)
    ns kill -KILL "$mp"
    # RestartSec=10s in the shipped unit.
    wait_for 60 eval '[ "$(mainpid)" != "$mp" ] && [ "$(mainpid)" != 0 ] && healthy' ||
        fail "daemon not restarted/healthy (main pid was $mp)"
    [ "$(ngateways)" = 1 ] || fail "not exactly one gateway"
    [ "$(record_pid)" = "$(gateways)" ] || fail "record does not name the gateway"
    log "daemon $mp -> $(mainpid), gateway $old -> $(gateways), NRestarts=$(ns systemctl show -P NRestarts hermes-gateway.service)"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || fail "race lost in the journal"
}
