# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 17-hermes-reader (issue 9, the last "What must show" bullet): Hermes' own
# "is a gateway running?" (the faithful model in tests/stub: it unlinks
# gateway.pid and gateway.lock when it cannot vouch for them, taking no lock)
# polls every 1 ms as the service's user while the service is reloaded 20
# times and its gateway killed -9 10 times. The gateway is the faithful model
# too, holding its lock empty for 5 ms at each start (Hermes' acquire
# window); its storm breaker is off and the daemon's burst raised, so that
# 30 starts in a minute test the files, not items 6 and the crash-loop
# policy. After each: healthy (active, one gateway, the daemon's, its record
# true, the bus ready), the path gateway.lock held by the gateway or the
# daemon and nobody else, and no second acquire possible.
#
# e2e-aliases: hermes-reader

run_scenario() {
    local conf=/etc/hermes/gatewayd.conf rd=/run/hgw-e2e-reader bad='' i g0 reader since summary
    ns cp "$conf" /run/hgw-e2e-gatewayd.conf.orig
    ns sh -c 'cat >"$1"' sh "$conf" <<'CONF'
# e2e scenario hermes-reader: the faithful Hermes gateway.
command = ["/usr/lib/hermes-gateway-test/hermes", "gateway", "run", "--acquire-window-ms", "5", "--fault-file", "/var/lib/hermes/fault"]
env = ["HERMES_STUB_FAITHFUL=1", "HERMES_GATEWAY_MAX_STARTS=0"]
restart-delay = 200ms
drain-timeout = 5s
stop-timeout = 5s
burst = 100
CONF
    ns systemctl restart hermes-gateway.service || bad="start with the faithful gateway failed"
    [ -n "$bad" ] || wait_for "$T" healthy || bad="not healthy with the faithful gateway"
    # The path gateway.lock names a file (by inode: the /var overlay shows
    # another device than /proc/locks) held by the gateway or the daemon.
    lock_whole() {
        local ino holders h g m
        g=$(gateways); m=$(mainpid)
        ino=$(ns stat -c %i /var/lib/hermes/gateway.lock 2>/dev/null) || return 1
        holders=$(ns awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, a, ":"); if (a[n] == ino) print $5 }' /proc/locks | sort -u)
        [ -n "$holders" ] || return 1
        for h in $holders; do [ "$h" = "$g" ] || [ "$h" = "$m" ] || return 1; done
    }
    # A second gateway's acquire, as Hermes does it (open, creating; flock
    # without waiting), as the service's user, must fail.
    second_acquire() { ns setpriv --reuid=hermes --regid=hermes --init-groups flock -n /var/lib/hermes/gateway.lock true; }
    sound() { healthy && lock_whole && ! second_acquire; }
    # Why not, for the message.
    unsound() { echo "healthy: $(healthy && echo yes || echo no), lock whole: $(lock_whole && echo yes || echo no), pidfile check: $(pidfile_check 2>&1 | head -1)"; }
    if [ -z "$bad" ]; then
        since=$(jcursor)
        ns rm -rf "$rd"; ns install -d -o hermes -g hermes -m 0755 "$rd"
        ns sh -c 'echo $$ >"$1/pid"; exec setpriv --reuid=hermes --regid=hermes --init-groups /usr/bin/python3 /usr/lib/hermes-gateway-test/hermes_status.py --faithful --home /var/lib/hermes --poll 1 --events "$1/events" >"$1/summary" 2>&1' sh "$rd" &
        reader=$!
        wait_for 10 ns test -s "$rd/pid" || bad="the reader did not start"
    fi
    if [ -z "$bad" ]; then
        for i in $(seq 20); do
            ns systemctl reload hermes-gateway.service || { bad="reload $i failed"; break; }
            wait_for "$T" sound || { bad="reload $i: not sound ($(unsound))"; break; }
        done
    fi
    if [ -z "$bad" ]; then
        for i in $(seq 10); do
            g0=$(gateways)
            ns kill -KILL "$g0"
            wait_for "$T" eval '[ "$(gateways)" != "$g0" ] && sound' ||
                { bad="kill -9 $i of $g0: not sound again ($(unsound))"; break; }
        done
    fi
    if [ -n "${reader-}" ]; then
        ns sh -c 'kill -TERM "$(cat "$1/pid")"' sh "$rd" || true
        wait "$reader" || true
        summary=$(ns cat "$rd/summary" 2>/dev/null)
        log "reader: ${summary:-no summary}; deletions: $(ns sh -c 'cat "$1/events" 2>/dev/null | wc -l' sh "$rd")"
        printf '%s\n' "$summary" | grep -q '"probes": [1-9]' || bad="${bad:-the reader did not run}"
    fi
    if [ -n "${since-}" ]; then
        ns journalctl -q --no-pager -u hermes-gateway.service --after-cursor "$since" |
            grep -iE 'repair|split|not ready|already running|race lost|lock is already held' | head -6 | sed 's/^/    /' >&2 || true
    fi
    [ "$(race_lost hermes-gateway.service)" = 0 ] || bad="${bad:-race lost in the journal}"
    [ "$(lock_refused hermes-gateway.service)" = 0 ] || bad="${bad:-a gateway found the lock held}"
    if [ -n "$bad" ]; then
        ns journalctl -q --no-pager -u hermes-gateway.service -n 30 | sed 's/^/    /' >&2 || true
    fi
    # Restore the normal config whatever happened.
    ns cp /run/hgw-e2e-gatewayd.conf.orig "$conf"
    ns systemctl reset-failed hermes-gateway.service || true
    ns systemctl restart hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy after restoring the config"
    [ -z "$bad" ] || fail "$bad"
}
