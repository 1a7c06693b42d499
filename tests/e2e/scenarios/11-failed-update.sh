# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 11-failed-update: a replace that fails must give the update request back
# (the hook's contract: "On failure it is put back"), whoever created the
# marker: hermes (case hermes) or root (case root), both allowed by
# hermes-gateway-update.path.
#
# e2e-aliases: h-hermes h-root
# e2e-cases: hermes root

run_scenario() {
    local who=$1
    wait_for "$T" healthy || fail "not healthy before"
    local since; since=$(jcursor); [ -n "$since" ] || fail "no journal cursor"
    # The next gateway start exits 78 (configuration error: not restarted).
    ns sh -c 'echo "exit 78" > /var/lib/hermes/fault && chmod 0644 /var/lib/hermes/fault'
    ns systemctl start hermes-gateway-update.path
    if [ "$who" = root ]; then
        ns touch /var/lib/hermes/update-requested
    else
        ns runuser -u hermes -- touch /var/lib/hermes/update-requested
    fi
    ns stat -c 'marker owner: %U mode %a' /var/lib/hermes/update-requested >&2 || true
    wait_for 60 eval 'ns journalctl -q --no-pager -u hermes-gateway-update.service --after-cursor "$since" | grep -q "replace failed"' ||
        fail "the replace did not fail (fault file ignored?)"
    # The failed run ends (auto-restart in 30 s) after its give_back.
    wait_for "$T" eval '[ "$(ns systemctl show -P SubState hermes-gateway-update.service)" = auto-restart ] || [ "$(ns systemctl is-failed hermes-gateway-update.service)" = failed ]'
    local kept=no
    if ns test -e /var/lib/hermes/update-requested || ns test -e /var/lib/hermes/update-requested.claimed; then kept=yes; fi
    ns journalctl -q --no-pager -u hermes-gateway-update.service --after-cursor "$since" | sed 's/^/    /' >&2 || true
    log "marker created by $who; request kept after the failed replace: $kept"
    # Clean up before judging: no retries, no fault, a healthy gateway again.
    ns systemctl stop hermes-gateway-update.path hermes-gateway-update.service
    ns rm -f /var/lib/hermes/update-requested /var/lib/hermes/update-requested.claimed /var/lib/hermes/fault
    # (Fails for units that stopping has unloaded: nothing to reset then.)
    ns systemctl reset-failed hermes-gateway-update.path hermes-gateway-update.service hermes-gateway.service || true
    ns systemctl restart hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy after the cleanup"
    [ "$kept" = yes ] || fail "the failed update request was lost (marker created by $who)"
}
