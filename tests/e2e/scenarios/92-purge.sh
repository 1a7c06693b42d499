# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 92-purge (--deb only): the configuration and the (empty) home go, enable
# links too; the account stays (files of a reused uid would be a risk).
#
# e2e-aliases: purge
# e2e-when: deb

run_scenario() {
    [ "$(pkg_status)" = "deinstall ok config-files" ] || fail "not removed first: $(pkg_status)"
    dpkg_do --purge "$PKG" || fail "dpkg --purge failed"
    local st; st=$(pkg_status || true)
    { [ -z "$st" ] || [ "$st" = "unknown ok not-installed" ]; } || fail "status after purge: $st"
    ! ns test -e /etc/hermes || fail "/etc/hermes left"
    # The home goes if empty; Hermes' own files (gateway.lock) keep it. Ours
    # (the update request) go in any case.
    local home=''
    if ns test -e /var/lib/hermes; then
        home=$(ns ls -A /var/lib/hermes | tr '\n' ' ')
        [ -n "$home" ] || fail "/var/lib/hermes left, empty"
        ! ns test -e /var/lib/hermes/update-requested || fail "update request left"
        ! ns test -e /var/lib/hermes/update-requested.claimed || fail "claimed update request left"
        ! ns test -e /var/lib/hermes/gateway.pid || fail "gateway.pid left"
    fi
    local links
    links=$(ns find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
        -name '*hermes-gateway*' 2>/dev/null || true)
    [ -z "$links" ] || fail "left: $links"
    [ -z "$(ns systemctl list-unit-files --no-legend 'hermes-gateway*')" ] || fail "unit files left"
    ns getent passwd hermes >/dev/null || fail "account hermes removed"
    log "purged: no configuration, unit or link left; account hermes kept; home: ${home:-removed}"
}
