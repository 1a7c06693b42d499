# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 09-update-path: the update marker touched twice at once, with the path
# unit watching: the marker is consumed, the generation increases, the
# gateway is new, the update service succeeds, no race lost. One replace or
# two: a marker that lands after the hook claimed the first is a new
# request and gets its own replace.
#
# e2e-aliases: f

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local gen0 g0 gen1 runs
    gen0=$(prop Generation); g0=$(gateways)
    ns systemctl start hermes-gateway-update.path
    local since; since=$(jcursor); [ -n "$since" ] || fail "no journal cursor"
    ns sh -c 'touch /var/lib/hermes/update-requested & touch /var/lib/hermes/update-requested & wait'
    wait_for 60 eval '! ns test -e /var/lib/hermes/update-requested && ! ns test -e /var/lib/hermes/update-requested.claimed && [ "$(ns systemctl is-active hermes-gateway-update.service)" != activating ]' ||
        fail "marker not consumed"
    wait_for "$T" healthy || fail "not healthy after the update"
    gen1=$(prop Generation)
    runs=$(ns journalctl -q --no-pager -u hermes-gateway-update.service --after-cursor "$since" | grep -c 'hermes-gateway.service: replaced' || true)
    log "generation $gen0 -> $gen1, gateway $g0 -> $(gateways), replaces: $runs"
    ns journalctl -q --no-pager -u hermes-gateway-update.service --after-cursor "$since" | sed 's/^/    /' >&2 || true
    [ "$gen1" -gt "$gen0" ] || fail "generation did not increase"
    { [ "$runs" -ge 1 ] && [ "$runs" -le 2 ]; } || fail "$runs replaces, want 1 or 2"
    [ "$(gateways)" != "$g0" ] || fail "gateway not replaced"
    [ "$(ns systemctl show -P Result hermes-gateway-update.service)" = success ] || fail "update service result"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || fail "race lost in the journal"
    [ "$(lock_refused hermes-gateway.service)" = 0 ] || fail "a gateway found the lock held"
}
