# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 12-gateway-watchdog: the gateway stops pinging its own watchdog
# (WATCHDOG_USEC given by the daemon); the daemon replaces it, systemd is
# not involved (same MainPID).
#
# e2e-aliases: i

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local conf=/etc/hermes/gatewayd.conf bad='' mp g0 g1 since n
    ns cp "$conf" /run/hgw-e2e-gatewayd.conf.orig
    ns sh -c 'cat >"$1"' sh "$conf" <<'CONF'
# e2e scenario i: the stub stops sending WATCHDOG=1 after 3 s.
command = ["/usr/lib/hermes-gateway-test/hermes", "gateway", "run", "--watchdog-stop-after", "3", "--fault-file", "/var/lib/hermes/fault"]
child-watchdog = 2s
restart-delay = 200ms
drain-timeout = 5s
stop-timeout = 5s
CONF
    ns systemctl restart hermes-gateway.service || bad="restart with the watchdog config failed"
    if [ -z "$bad" ]; then
        wait_for "$T" healthy || bad="not healthy with the watchdog config"
    fi
    if [ -z "$bad" ]; then
        mp=$(mainpid); g0=$(gateways)
        since=$(jcursor)
        ns grep -q -- '--watchdog-stop-after' "/proc/$g0/cmdline" || bad="gateway $g0 runs without --watchdog-stop-after"
        ns sh -c 'tr "\0" "\n" </proc/$1/environ' sh "$g0" | grep -qx 'WATCHDOG_USEC=2000000' ||
            bad="${bad:-gateway $g0 has no WATCHDOG_USEC=2000000}"
    fi
    if [ -z "$bad" ]; then
        wait_for "$T" eval 'g1=$(gateways); [ -n "$g1" ] && [ "$g1" != "$g0" ] && healthy' ||
            bad="gateway $g0 not replaced after it stopped pinging"
        g1=$(gateways)
        n=$(ns journalctl -q --no-pager -u hermes-gateway.service --after-cursor "$since" | grep -c 'stopped pinging its watchdog' || true)
        log "gateway $g0 -> $g1 (daemon $mp -> $(mainpid)); watchdog lines: $n"
        ns journalctl -q --no-pager -u hermes-gateway.service --after-cursor "$since" | grep -i watchdog | head -3 | sed 's/^/    /' >&2 || true
        [ "$n" -ge 1 ] || bad="${bad:-the journal does not mention the gateway watchdog}"
        [ "$(mainpid)" = "$mp" ] || bad="${bad:-the daemon was restarted ($mp -> $(mainpid)), not the gateway replaced}"
        ! ns kill -0 "$g0" 2>/dev/null || bad="${bad:-old gateway $g0 still alive}"
        [ "$(race_lost hermes-gateway.service)" = 0 ] || bad="${bad:-race lost in the journal}"
    fi
    # Restore the normal config whatever happened.
    ns cp /run/hgw-e2e-gatewayd.conf.orig "$conf"
    ns systemctl reset-failed hermes-gateway.service || true
    ns systemctl restart hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy after restoring the config"
    ! ns grep -q -- '--watchdog-stop-after' "/proc/$(gateways)/cmdline" || fail "config not restored"
    [ -z "$bad" ] || fail "$bad"
}
