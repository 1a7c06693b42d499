# shellcheck shell=bash disable=SC2016,SC2317,SC2154
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's, $work the runner's
# scratch directory.
#
# 91-remove (--deb only): removal while the gateway runs: everything
# stops, nothing of the package is left but its configuration; the account
# and the home stay.
#
# e2e-aliases: remove
# e2e-when: deb

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local mp g u left
    mp=$(mainpid); g=$(gateways)
    ns dpkg-query -L "$PKG" >"$work/package-files" || fail "dpkg-query -L"
    dpkg_do --remove "$PKG" || fail "dpkg --remove failed"
    [ "$(pkg_status)" = "deinstall ok config-files" ] || fail "status after remove: $(pkg_status)"
    ! ns kill -0 "$mp" 2>/dev/null || fail "daemon $mp still runs"
    ! ns kill -0 "$g" 2>/dev/null || fail "gateway $g still runs"
    [ "$(ngateways)" = 0 ] || fail "gateways left: $(gateways)"
    ! ns test -e /var/lib/hermes/gateway.pid || fail "record left"
    if ns test -e /var/lib/hermes/gateway.lock; then
        ns flock -n /var/lib/hermes/gateway.lock true || fail "gateway.lock still held"
    fi
    for u in hermes-gateway.service hermes-gateway-update.path hermes-gateway-update.service; do
        [ "$(ns systemctl show -P LoadState "$u")" = not-found ] || fail "$u still loaded"
    done
    ! ns systemctl --failed --no-legend --plain | grep -q hermes || fail "failed units: $(ns systemctl --failed --no-legend --plain)"
    ! ns busctl status "$HGW_BUS_NAME" >/dev/null 2>&1 || fail "$HGW_BUS_NAME still owned"
    ! activatable || fail "$HGW_BUS_NAME still activatable"
    # Every file of the package is gone but the conffile; directories that
    # other packages share may stay.
    local files; mapfile -t files <"$work/package-files"
    left=$(ns sh -c 'for f; do [ -d "$f" ] && continue; if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done' sh "${files[@]}")
    [ "$left" = /etc/hermes/gatewayd.conf ] || fail "left after remove: ${left//$'\n'/ }"
    for u in /usr/libexec/hermes-gateway /usr/share/doc/hermes-gatewayd; do
        ! ns test -e "$u" || fail "$u left"
    done
    ns getent passwd hermes >/dev/null || fail "account hermes removed"
    # Removal keeps the admin's enable link (a reinstall restores it); purge
    # must take it.
    ns test -L /etc/systemd/system/multi-user.target.wants/hermes-gateway.service || fail "enable link gone before purge"
    log "removed: daemon $mp and gateway $g stopped, units and bus name gone; kept: $left, account hermes, home ($(ns ls -A /var/lib/hermes | tr '\n' ' '))"
}
