# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 06-reload: `systemctl reload` is ExecReload=, a safe replace: the daemon
# stays (same MainPID), the gateway is new, and systemd waits for it.
#
# e2e-aliases: reload

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local mp g0 gen0 since
    mp=$(mainpid); g0=$(gateways); gen0=$(prop Generation); since=$(jcursor)
    ns systemctl reload hermes-gateway.service || fail "systemctl reload failed"
    # reload returns once ExecReload= (which waits for the new gateway) ended.
    healthy || fail "not healthy right after reload returned"
    log "reload: daemon $mp -> $(mainpid), gateway $g0 -> $(gateways), generation $gen0 -> $(prop Generation)"
    ns journalctl -q --no-pager -u hermes-gateway.service --after-cursor "$since" | grep -iE 'reload|replace' | head -4 | sed 's/^/    /' >&2 || true
    [ "$(mainpid)" = "$mp" ] || fail "the daemon was restarted"
    [ "$(gateways)" != "$g0" ] || fail "gateway not replaced"
    [ "$(prop Generation)" = $((gen0 + 1)) ] || fail "generation not +1"
    [ "$(ns systemctl show -P Result hermes-gateway.service)" = success ] || fail "unit result after reload"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || fail "race lost in the journal"
}
