# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 10-update-hook-twice: two updaters that each run the hook themselves and
# wait for it (as its header allows), at once, for one request: the runs
# serialize, the first replaces, the second finds the request served. With
# the path unit (09-update-path) a second replace is right when the second
# marker lands after the first run claimed the first; here the count must be
# exactly one.
#
# e2e-aliases: f-direct

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local gen0 g0 gen1 rcs n1 n0
    gen0=$(prop Generation); g0=$(gateways)
    ns systemctl stop hermes-gateway-update.path
    ns touch /var/lib/hermes/update-requested
    rcs=$(ns sh -c 'h=/usr/libexec/hermes-gateway/hermes-gateway-update
        "$h" >/run/hgw-u1.log 2>&1 & a=$!
        "$h" >/run/hgw-u2.log 2>&1 & b=$!
        wait $a; ra=$?; wait $b; echo "$ra $?"')
    ns cat /run/hgw-u1.log /run/hgw-u2.log | sed 's/^/    /' >&2
    n1=$(ns cat /run/hgw-u1.log /run/hgw-u2.log | grep -c '^hermes-gateway.service: replaced$' || true)
    n0=$(ns cat /run/hgw-u1.log /run/hgw-u2.log | grep -c '^no update requested' || true)
    gen1=$(prop Generation)
    ns systemctl start hermes-gateway-update.path
    log "hook exits: $rcs; replaces: $n1; generation $gen0 -> $gen1; gateway $g0 -> $(gateways)"
    [ "$rcs" = "0 0" ] || fail "hook exit statuses $rcs, want 0 0"
    { [ "$n1" = 1 ] && [ "$n0" = 1 ]; } || fail "$n1 replaces and $n0 'no update requested', want 1 and 1"
    [ "$gen1" = $((gen0 + 1)) ] || fail "generation $gen0 -> $gen1, want +1"
    ! ns test -e /var/lib/hermes/update-requested || fail "marker left"
    ! ns test -e /var/lib/hermes/update-requested.claimed || fail "claim left"
    wait_for "$T" healthy || fail "not healthy after"
    [ "$(gateways)" != "$g0" ] || fail "gateway not replaced"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || fail "race lost in the journal"
}
