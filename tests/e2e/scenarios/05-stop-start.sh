# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 05-stop-start: systemctl stop, then start. After stop: no gateway, no
# record, pidfile check exits 3; hermes-gatewayctl status as nobody exits 4
# and does not start the service by D-Bus activation. After start: healthy.
#
# e2e-aliases: e

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    ns systemctl stop hermes-gateway.service
    [ "$(ngateways)" = 0 ] || fail "gateway left after stop"
    ! ns test -e /var/lib/hermes/gateway.pid || fail "record left after stop"
    local rc=0; pidfile_check >/dev/null 2>&1 || rc=$?
    [ "$rc" = 3 ] || fail "pidfile check exit $rc, want 3"
    # Reading the status must not start it again by D-Bus activation.
    rc=0; ns runuser -u nobody -- hermes-gatewayctl status --system >/dev/null 2>&1 || rc=$?
    [ "$rc" = 4 ] || fail "hermes-gatewayctl status of a stopped service: exit $rc, want 4 (no daemon)"
    [ "$(ns systemctl is-active hermes-gateway.service)" = inactive ] || fail "a status read started the service"
    [ "$(ngateways)" = 0 ] || fail "a status read started a gateway"
    ns systemctl start hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy after start again"
}
