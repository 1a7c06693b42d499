# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 08-crash-loop: gateways that keep crashing make the daemon give up after
# its burst and exit 1; systemd schedules a restart (Restart=on-failure).
#
# e2e-aliases: crash-loop

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local bad='' g nr0
    g=$(gateways); nr0=$(ns systemctl show -P NRestarts hermes-gateway.service)
    ns sh -c 'echo crash > /var/lib/hermes/fault && chmod 0644 /var/lib/hermes/fault'
    ns kill -KILL "$g"
    # Five crashes with back-off 200 ms, 400 ms, ... take about 7 s.
    wait_for 60 eval '[ "$(ns systemctl show -P SubState hermes-gateway.service)" = auto-restart ]' ||
        bad="the unit never waited to restart the daemon"
    log "after the crash loop: SubState $(ns systemctl show -P SubState hermes-gateway.service), Result $(ns systemctl show -P Result hermes-gateway.service), ExecMainStatus $(ns systemctl show -P ExecMainStatus hermes-gateway.service)"
    [ -n "$bad" ] || [ "$(ns systemctl show -P ExecMainStatus hermes-gateway.service)" = 1 ] || bad="daemon exit status not 1"
    [ "$(ngateways)" = 0 ] || bad="${bad:-$(ngateways) gateways}"
    ! ns test -e /var/lib/hermes/gateway.pid || bad="${bad:-record left}"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || bad="${bad:-race lost in the journal}"
    ns rm -f /var/lib/hermes/fault
    # systemd's own restart, 10 s later, brings it back.
    wait_for 60 eval 'healthy' || bad="${bad:-not healthy after systemd restarted the daemon}"
    [ "$(ns systemctl show -P NRestarts hermes-gateway.service)" -gt "$nr0" ] || bad="${bad:-NRestarts did not increase}"
    [ -z "$bad" ] || fail "$bad"
}
