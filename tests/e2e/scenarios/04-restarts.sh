# shellcheck shell=bash disable=SC2016,SC2317,SC2154
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's, $work the runner's
# scratch directory.
#
# 04-restarts: systemctl restart 50 times (HGW_E2E_RESTARTS); after each, at
# most one gateway and healthy; a sampler in the sandbox counts gateways
# every 20 ms throughout and never sees two; no race lost, no gateway finds
# the lock held.
#
# e2e-aliases: d

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local i n max=0 smax
    # A sampler in the sandbox counts live gateways every 20 ms while the
    # restarts run, to catch an overlap between old and new gateway.
    local samples=$work/d-samples
    # It stops itself when told to (killing nsenter would leave it running).
    ns rm -f /run/hgw-e2e-sampler-stop
    ns sh -c 'while [ ! -e /run/hgw-e2e-sampler-stop ]; do pgrep -fc -- "$1"; sleep 0.02; done' \
        sh "$GW_PAT" >"$samples" 2>/dev/null &
    local sampler=$!
    for i in $(seq "$NRESTARTS"); do
        # Manual restarts count against StartLimitBurst=5/30min of the unit.
        ns systemctl reset-failed hermes-gateway.service
        ns systemctl restart hermes-gateway.service || fail "restart $i failed"
        n=$(ngateways); [ "$n" -gt "$max" ] && max=$n
        [ "$n" -le 1 ] || fail "restart $i: $n gateways"
        healthy || fail "restart $i: not healthy right after the restart returned"
    done
    ns touch /run/hgw-e2e-sampler-stop; wait "$sampler" || true
    smax=$(sort -n "$samples" | tail -1)
    log "$NRESTARTS restarts; max gateways after a restart: $max; sampler: max $smax in $(wc -l <"$samples") samples"
    [ "$(wc -l <"$samples")" -gt "$NRESTARTS" ] || fail "sampler did not run"
    [ "$smax" -le 1 ] || fail "sampler saw $smax gateways at once"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || fail "race lost in the journal"
    [ "$(lock_refused hermes-gateway.service)" = 0 ] || fail "a gateway found the lock held"
}
