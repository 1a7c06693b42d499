# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 90-upgrade (--deb only): an upgrade (here: the same package again,
# dpkg -i over itself while it runs) restarts the running daemon and keeps
# the admin's configuration.
#
# e2e-aliases: reinstall
# e2e-when: deb

run_scenario() {
    ns systemctl start hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy before"
    local mp g; mp=$(mainpid); g=$(gateways)
    dpkg_do -i /run/hgw-e2e-input/hermes-gatewayd.deb || fail "dpkg -i over the installed package failed"
    wait_for "$T" eval '[ "$(mainpid)" != "$mp" ] && healthy' || fail "daemon $mp not restarted and healthy"
    [ "$(gateways)" != "$g" ] || fail "gateway $g survived the daemon's restart"
    log "daemon $mp -> $(mainpid), gateway $g -> $(gateways)"
    ns grep -q -- --fault-file /etc/hermes/gatewayd.conf || fail "the admin's gatewayd.conf was replaced"
    [ "$(ns systemctl is-active hermes-gateway-update.path)" = active ] || fail "update path not active"
    [ "$(race_lost hermes-gateway.service)" = 0 ] || fail "race lost in the journal"
    [ "$(lock_refused hermes-gateway.service)" = 0 ] || fail "a gateway found the lock held"
}
