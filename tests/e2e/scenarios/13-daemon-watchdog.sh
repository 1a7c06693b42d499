# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 13-daemon-watchdog: the daemon itself hangs (SIGSTOP); systemd's watchdog
# kills it and Restart=on-failure starts a new one, which cleans up after
# the old gateway.
#
# e2e-aliases: j

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local dir=/etc/systemd/system/hermes-gateway.service.d bad='' mp g0 since nr0
    ns mkdir -p "$dir"
    # RestartSec=1s: only to keep the run short. LimitCORE=0: no core file of
    # the aborted daemon (core_pattern is the host's).
    printf '[Service]\nWatchdogSec=3s\nRestartSec=1s\nLimitCORE=0\n' | ns sh -c 'cat >"$1"' sh "$dir/e2e-watchdog.conf"
    ns systemctl daemon-reload
    ns systemctl restart hermes-gateway.service || bad="restart with WatchdogSec=3s failed"
    [ -n "$bad" ] || wait_for "$T" healthy || bad="not healthy with WatchdogSec=3s"
    if [ -z "$bad" ]; then
        [ "$(ns systemctl show -P WatchdogUSec hermes-gateway.service)" = 3s ] || bad="WatchdogUSec not 3s"
        mp=$(mainpid); g0=$(gateways); since=$(jcursor)
        nr0=$(ns systemctl show -P NRestarts hermes-gateway.service)
        # First prove the daemon keeps a 3 s watchdog happy on its own.
        sleep 5
        [ "$(mainpid)" = "$mp" ] || bad="${bad:-daemon $mp replaced before it was stopped (does it pet a 3 s watchdog?)}"
    fi
    if [ -z "$bad" ]; then
        ns kill -STOP "$mp"
        # PID 1's own messages about the unit ("hermes-gateway.service: ...").
        pid1log() { ns journalctl -q --no-pager -o cat -u hermes-gateway.service --after-cursor "$since" | grep '^hermes-gateway.service: '; }
        wait_for "$T" eval 'pid1log | grep -q "Watchdog timeout"' ||
            bad="systemd did not log 'Watchdog timeout'"
        wait_for 60 eval 'm=$(mainpid); [ "$m" != "$mp" ] && [ "$m" != 0 ] && healthy' ||
            bad="${bad:-daemon not restarted/healthy after the watchdog (main pid was $mp)}"
        pid1log | head -6 | sed 's/^/    /' >&2 || true
        log "daemon $mp -> $(mainpid), gateway $g0 -> $(gateways), NRestarts $nr0 -> $(ns systemctl show -P NRestarts hermes-gateway.service)"
        pid1log | grep -q "Failed with result 'watchdog'" ||
            bad="${bad:-no \"Failed with result 'watchdog'\"}"
        ! ns kill -0 "$mp" 2>/dev/null || bad="${bad:-old daemon $mp still alive}"
        [ "$(ngateways)" = 1 ] || bad="${bad:-$(ngateways) gateways}"
        [ "$(record_pid)" = "$(gateways)" ] || bad="${bad:-record does not name the gateway}"
        [ "$(ns systemctl show -P NRestarts hermes-gateway.service)" -gt "$nr0" ] || bad="${bad:-NRestarts did not increase}"
        [ "$(race_lost hermes-gateway.service)" = 0 ] || bad="${bad:-race lost in the journal}"
    fi
    if [ -n "$bad" ]; then
        ns journalctl -q --no-pager -u hermes-gateway.service -n 30 | sed 's/^/    /' >&2 || true
        ns systemctl status --no-pager hermes-gateway.service 2>&1 | sed 's/^/    /' >&2 || true
    fi
    # Wake it in case systemd did not kill it, then drop the drop-in.
    if [ -n "${mp-}" ]; then ns kill -CONT "$mp" 2>/dev/null || true; fi
    ns rm -f "$dir/e2e-watchdog.conf"
    ns systemctl daemon-reload
    ns systemctl reset-failed hermes-gateway.service || true
    ns systemctl restart hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy after removing the drop-in"
    [ "$(ns systemctl show -P WatchdogUSec hermes-gateway.service)" = 1min ] || fail "WatchdogUSec not back to 1min"
    [ -z "$bad" ] || fail "$bad"
}
