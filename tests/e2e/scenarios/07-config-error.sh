# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 07-config-error: a gateway that exits 78 (Hermes: configuration error)
# makes the daemon exit 78 (--exit-on-failure), which the unit does not
# restart (RestartPreventExitStatus=78): `systemctl restart` fails, the unit
# is failed, not waiting to restart.
#
# e2e-aliases: config-error

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local rc=0 bad='' since
    since=$(jcursor)
    ns sh -c 'echo "exit 78" > /var/lib/hermes/fault && chmod 0644 /var/lib/hermes/fault'
    ns systemctl restart hermes-gateway.service 2>/dev/null || rc=$?
    local sub result status
    sub=$(ns systemctl show -P SubState hermes-gateway.service)
    result=$(ns systemctl show -P Result hermes-gateway.service)
    status=$(ns systemctl show -P ExecMainStatus hermes-gateway.service)
    log "systemctl restart: exit $rc; SubState $sub, Result $result, ExecMainStatus $status"
    ns systemctl status --no-pager hermes-gateway.service 2>&1 | sed -n '1,12p' | sed 's/^/    /' >&2 || true
    [ "$rc" != 0 ] || bad="systemctl restart succeeded"
    [ "$sub" = failed ] || bad="${bad:-SubState $sub, want failed (no restart)}"
    [ "$result" = exit-code ] || bad="${bad:-Result $result}"
    [ "$status" = 78 ] || bad="${bad:-ExecMainStatus $status, want 78}"
    [ "$(ngateways)" = 0 ] || bad="${bad:-$(ngateways) gateways}"
    ! ns test -e /var/lib/hermes/gateway.pid || bad="${bad:-record left}"
    ns journalctl -q --no-pager -u hermes-gateway.service --after-cursor "$since" | grep -q 'exiting with status 78' ||
        bad="${bad:-the journal does not say why the daemon exited}"
    ns rm -f /var/lib/hermes/fault
    ns systemctl reset-failed hermes-gateway.service
    ns systemctl start hermes-gateway.service || bad="${bad:-start after the fix failed}"
    wait_for "$T" healthy || fail "not healthy after the fix"
    [ -z "$bad" ] || fail "$bad"
}
