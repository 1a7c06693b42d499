# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 24-fleet-frozen: fleet mode under a real systemd watchdog. A one-member
# etcd runs in the sandbox as a transient unit (data on /run, loopback
# only); gatewayd.conf puts the daemon in fleet mode (TTL 10 s,
# stop-timeout 1s) and a drop-in sets WatchdogSec=3s, as docs/fleet.md
# says. Once it leads and its gateway runs, the daemon is frozen with
# SIGSTOP. Measured on CLOCK_MONOTONIC from the SIGSTOP (pidfds
# for the daemon and the gateway, the journal's monotonic stamps for systemd
# and the new daemon, etcd polled every 100 ms for the lease's key):
# systemd's watchdog fires, the daemon dies, its gateway with it
# (PR_SET_PDEATHSIG), the old key lapses, and the restarted daemon leads
# with a new gateway. Asserts: the gateway is gone within the documented
# bound, watchdog + stop timeout + 1 s (5 s here, no margin), before the
# lease's key lapsed and before the deadline the daemon itself gave
# (FleetDeadline + the stop); systemd logged "Watchdog timeout" and
# "Failed with result 'watchdog'"; a new daemon leads with one new gateway
# (healthy), NRestarts increased, no race lost. Then the update hook on
# the leader hands over (alone in line, it leads again with a new
# gateway). Then the refusal: the same
# fleet options under the shipped WatchdogSec=1min make the daemon refuse
# to start (exit 78, configuration error: not restarted), saying why, with
# no key in etcd and no gateway. The configuration is restored and etcd
# stopped at the end.

ETCD_UNIT=hgw-e2e-etcd
# The sandbox has a network namespace of its own (loopback only): nothing
# else listens there; etcd_up checks anyway.
ETCD_PORT=23791
ETCD_PEER_PORT=23801
ETCD_URL=http://127.0.0.1:$ETCD_PORT
FLEET_NAME=e2e-frozen
FLEET_PREFIX=/hermes-gatewayd/fleet/$FLEET_NAME/
# TTL 10 s (the default) and a 1 s stop: the daemon accepts a watchdog
# below 10 s x 0.99 - 10 s / 3 - 1 s - (1 s + 1 s) = 3.57 s.
FLEET_TTL_S=10
FLEET_STOP_S=1
FLEET_WATCHDOG_S=3
FLEET_BOUND_S=$((FLEET_WATCHDOG_S + FLEET_STOP_S + 1))
FLEET_DROPIN=/etc/systemd/system/hermes-gateway.service.d/e2e-fleet.conf
FLEET_CONF=/etc/hermes/gatewayd.conf
FLEET_CONF_ORIG=/run/hgw-e2e-gatewayd.conf.fleet-orig

fleet_etcdctl() { ns env ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" --command-timeout 2s "$@"; }
fleet_keys() { fleet_etcdctl get --prefix --keys-only "$FLEET_PREFIX" | grep .; }

etcd_up() {
    if ns ss -Hltn | awk '{print $4}' | grep -Eq ":($ETCD_PORT|$ETCD_PEER_PORT)\$"; then
        fail "port $ETCD_PORT or $ETCD_PEER_PORT is taken in the sandbox"; return 1
    fi
    ns systemd-run --quiet --unit="$ETCD_UNIT" --property=RuntimeDirectory="$ETCD_UNIT" \
        /usr/bin/etcd --name e2e --data-dir "/run/$ETCD_UNIT/data" \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster-state new --initial-cluster-token hgw-e2e-frozen \
        --logger zap --log-outputs stderr
    wait_for "$T" fleet_etcdctl endpoint health || { fail "etcd not healthy"; return 1; }
}
etcd_down() {
    ns systemctl stop "$ETCD_UNIT" 2>/dev/null || true
    ns systemctl reset-failed "$ETCD_UNIT" 2>/dev/null || true
}

# fleet_setup WATCHDOG: fleet mode as docs/fleet.md sets it up: the fleet
# options and a 1 s stop in gatewayd.conf (the original is kept aside), a
# drop-in with WatchdogSec=WATCHDOG and LimitCORE=0 (the aborted daemon
# dumps no core, whose writing would delay its death; core_pattern is the
# host's anyway). RestartSec=1s only keeps the run short.
fleet_setup() {
    ns test -e "$FLEET_CONF_ORIG" || ns cp -p "$FLEET_CONF" "$FLEET_CONF_ORIG"
    { ns grep -v '^stop-timeout' "$FLEET_CONF_ORIG"
      printf '# e2e 24-fleet-frozen\nfleet-endpoints = %s\nfleet-name = %s\nfleet-ttl = %ss\nstop-timeout = %ss\n' \
          "$ETCD_URL" "$FLEET_NAME" "$FLEET_TTL_S" "$FLEET_STOP_S"; } | ns sh -c 'cat >"$1"' sh "$FLEET_CONF"
    ns mkdir -p "$(dirname "$FLEET_DROPIN")"
    printf '[Service]\nWatchdogSec=%s\nRestartSec=1s\nLimitCORE=0\n' "$1" | ns sh -c 'cat >"$1"' sh "$FLEET_DROPIN"
    ns systemctl daemon-reload
}
fleet_teardown() {
    if ns test -e "$FLEET_CONF_ORIG"; then ns mv "$FLEET_CONF_ORIG" "$FLEET_CONF"; fi
    ns rm -f "$FLEET_DROPIN"
    ns systemctl daemon-reload
}

leads() { [ "$(prop FleetRole)" = leader ] && healthy; }

# fleet_freeze DAEMON GATEWAY KEY: SIGSTOPs DAEMON and prints, in µs of
# CLOCK_MONOTONIC, "t0=... daemon=... gateway=... key=...": the SIGSTOP,
# when DAEMON and GATEWAY were gone (their pidfds), and when etcd no longer
# had KEY (polled every 100 ms from a thread of its own). Gives up after 60 s.
fleet_freeze() {
    ns env ETCDCTL_API=3 python3 - "$1" "$2" "$ETCD_URL" "$3" <<'PY'
import os, select, signal, subprocess, sys, threading, time
daemon, gateway, url, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
now = lambda: time.monotonic_ns() // 1000
gone = {}
names = {os.pidfd_open(daemon): "daemon", os.pidfd_open(gateway): "gateway"}
poller = select.poll()
for fd in names:
    poller.register(fd, select.POLLIN)
t0 = now()
end = t0 + 60_000_000
def watch_key():
    while now() < end:
        r = subprocess.run(["etcdctl", "--endpoints", url, "--command-timeout", "1s", "get", key, "--keys-only"],
                           capture_output=True, text=True)
        if r.returncode == 0 and key not in r.stdout:
            gone["key"] = now()
            return
        time.sleep(0.1)
os.kill(daemon, signal.SIGSTOP)
watcher = threading.Thread(target=watch_key)
watcher.start()
while names and now() < end:
    for fd, _ in poller.poll(100):
        gone[names.pop(fd)] = now()
        poller.unregister(fd)
watcher.join()
print(f"t0={t0} " + " ".join(f"{k}={gone.get(k, 0)}" for k in ("daemon", "gateway", "key")))
PY
}

run_scenario() {
    # Started by 01-start; run alone (--only 24), started here.
    ns systemctl start hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy before"
    local bad='' mp='' g0 g1 key deadline since nr0 out t0 daemon gw keygone wd led rc sub status
    # ms FROM TO: TO - FROM, µs to ms.
    ms() { echo $((($2 - $1) / 1000)); }
    # The first journal entry of the unit (PID 1's too) since $since whose
    # message holds $1: its CLOCK_MONOTONIC stamp in µs.
    jmono() {
        ns journalctl -q --no-pager -o json -u hermes-gateway.service --after-cursor "$since" |
            python3 -c 'import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if sys.argv[1] in str(e.get("MESSAGE", "")):
        print(e["__MONOTONIC_TIMESTAMP"]); break' "$1"
    }
    etcd_up || bad="etcd did not start"
    if [ -z "$bad" ]; then
        fleet_setup "${FLEET_WATCHDOG_S}s" || bad="no fleet configuration"
    fi
    if [ -z "$bad" ]; then
        ns systemctl restart hermes-gateway.service || bad="restart in fleet mode failed"
        [ -n "$bad" ] || wait_for "$T" leads || bad="the daemon did not lead with a healthy gateway"
    fi
    if [ -z "$bad" ]; then
        [ "$(ns systemctl show -P WatchdogUSec hermes-gateway.service)" = "${FLEET_WATCHDOG_S}s" ] ||
            bad="WatchdogUSec not ${FLEET_WATCHDOG_S}s"
        ns hermes-gatewayctl status --system | grep -q '^ *Fleet: *leader' ||
            bad="${bad:-hermes-gatewayctl status shows no 'Fleet: leader' line}"
        ns hermes-gatewayctl status --system 2>&1 | sed 's/^/    /' >&2 || true
        mp=$(mainpid); g0=$(gateways)
        nr0=$(ns systemctl show -P NRestarts hermes-gateway.service)
        # A leader keeps a 3 s watchdog happy on its own.
        sleep 5
        [ "$(mainpid)" = "$mp" ] || bad="${bad:-daemon $mp replaced before it was frozen (does it pet a ${FLEET_WATCHDOG_S} s watchdog in fleet mode?)}"
        [ "$(gateways)" = "$g0" ] || bad="${bad:-gateway $g0 replaced before the freeze}"
        key=$(fleet_keys) || true
        [ "$(printf '%s\n' "$key" | grep -c .)" = 1 ] || bad="${bad:-want one key under $FLEET_PREFIX, etcd has: $key}"
    fi
    if [ -z "$bad" ]; then
        # When the daemon would begin the stop unless a renewal came back
        # (CLOCK_MONOTONIC µs); read before the freeze, so at most the real one.
        deadline=$(prop FleetDeadline)
        since=$(jcursor)
        out=$(fleet_freeze "$mp" "$g0" "$key") || bad="the freeze's measurement failed"
        log "frozen daemon $mp (gateway $g0, key $key): $out"
        for v in $out; do
            case $v in t0=*) t0=${v#t0=} ;; daemon=*) daemon=${v#daemon=} ;; gateway=*) gw=${v#gateway=} ;; key=*) keygone=${v#key=} ;; esac
        done
        [ -n "$bad" ] || [ "${gw:-0}" != 0 ] || bad="gateway $g0 still alive 60 s after the freeze"
        [ -n "$bad" ] || [ "${daemon:-0}" != 0 ] || bad="daemon $mp still alive 60 s after the freeze"
        [ -n "$bad" ] || [ "${keygone:-0}" != 0 ] || bad="key $key still in etcd 60 s after the freeze"
    fi
    if [ -z "$bad" ]; then
        wait_for 60 eval 'm=$(mainpid); [ "$m" != "$mp" ] && [ "$m" != 0 ] && leads' ||
            bad="no new daemon leads with a healthy gateway after the watchdog (main pid was $mp)"
        wd=$(jmono 'Watchdog timeout')
        led=$(jmono 'fleet: this host leads')
        g1=$(gateways)
        log "measured from the SIGSTOP: watchdog timeout +$(ms "$t0" "${wd:-$t0}") ms, daemon gone +$(ms "$t0" "$daemon") ms," \
            "gateway gone +$(ms "$t0" "$gw") ms (bound ${FLEET_BOUND_S} s), lease key gone +$(ms "$t0" "$keygone") ms (100 ms polls)," \
            "new daemon $(mainpid) leads +$(ms "$t0" "${led:-$t0}") ms, gateway $g0 -> $g1;" \
            "the daemon's own deadline (FleetDeadline + stop budget) was +$(ms "$t0" $((deadline + (FLEET_STOP_S + 1) * 1000000))) ms"
        ns journalctl -q --no-pager -o cat -u hermes-gateway.service --after-cursor "$since" |
            grep -E '^hermes-gateway.service: |fleet: ' | head -12 | sed 's/^/    /' >&2 || true
        [ $((gw - t0)) -le $((FLEET_BOUND_S * 1000000)) ] ||
            bad="${bad:-gateway gone $(ms "$t0" "$gw") ms after the freeze, over the bound of ${FLEET_BOUND_S} s}"
        [ "$gw" -lt "$keygone" ] || bad="${bad:-gateway gone after the key of its lease}"
        [ "$gw" -le $((deadline + (FLEET_STOP_S + 1) * 1000000)) ] ||
            bad="${bad:-gateway gone after the deadline the daemon gave (FleetDeadline $deadline + the stop)}"
        [ -n "$wd" ] || bad="${bad:-systemd did not log 'Watchdog timeout'}"
        [ -n "$led" ] || bad="${bad:-the new daemon did not log that it leads}"
        ns journalctl -q --no-pager -o cat -u hermes-gateway.service --after-cursor "$since" |
            grep -q "^hermes-gateway.service: Failed with result 'watchdog'" ||
            bad="${bad:-no \"Failed with result 'watchdog'\"}"
        [ -z "$led" ] || [ "$led" -gt "$gw" ] || bad="${bad:-the new daemon led before the old gateway was gone}"
        ! ns kill -0 "$mp" 2>/dev/null || bad="${bad:-old daemon $mp still alive}"
        [ "$(ngateways)" = 1 ] || bad="${bad:-$(ngateways) gateways}"
        [ "$g1" != "$g0" ] || bad="${bad:-the gateway was not replaced}"
        [ "$(ns systemctl show -P NRestarts hermes-gateway.service)" -gt "$nr0" ] || bad="${bad:-NRestarts did not increase}"
        [ "$(race_lost hermes-gateway.service)" = 0 ] || bad="${bad:-race lost in the journal}"
        key=$(fleet_keys) || true
        [ "$(printf '%s\n' "$key" | grep -c .)" = 1 ] || bad="${bad:-want one key, the new daemon one, etcd has: $key}"
    fi
    if [ -n "$bad" ]; then
        ns journalctl -q --no-pager -u hermes-gateway.service -n 30 | sed 's/^/    /' >&2 || true
        ns systemctl status --no-pager hermes-gateway.service 2>&1 | sed 's/^/    /' >&2 || true
    fi
    # Wake it in case systemd did not kill it.
    if [ -n "$mp" ]; then ns kill -CONT "$mp" 2>/dev/null || true; fi

    # The update hook on a fleet's leader hands over instead of a replace;
    # this host, alone in line, then leads again with a new gateway.
    if [ -z "$bad" ]; then
        out=$(ns /usr/libexec/hermes-gateway/hermes-gateway-update --always 2>&1) ||
            bad="hermes-gateway-update failed: $out"
        log "update hook on the leader: $out"
        printf '%s\n' "$out" | grep -q 'handed over to the next host in line' ||
            bad="${bad:-the update hook did not hand over}"
        wait_for "$T" leads || bad="${bad:-no leader with a healthy gateway after the handover by the hook}"
        [ "$(gateways)" != "$g1" ] || bad="${bad:-the gateway $g1 was not replaced by the handover}"
        [ "$(ngateways)" = 1 ] || bad="${bad:-$(ngateways) gateways after the handover}"
    fi

    # The refusal: the shipped watchdog (1 min) cannot stop a frozen daemon
    # within a 10 s lease.
    if [ -z "$bad" ]; then
        ns systemctl stop hermes-gateway.service
        wait_for "$T" eval '! fleet_keys' || bad="the key of the stopped daemon is still in etcd"
        fleet_setup 1min || bad="${bad:-no fleet configuration}"
        since=$(jcursor); rc=0
        ns systemctl start hermes-gateway.service 2>/dev/null || rc=$?
        sub=$(ns systemctl show -P SubState hermes-gateway.service)
        status=$(ns systemctl show -P ExecMainStatus hermes-gateway.service)
        log "fleet mode with WatchdogSec=1min: systemctl start exit $rc; SubState $sub, ExecMainStatus $status"
        ns journalctl -q --no-pager -o cat -u hermes-gateway.service --after-cursor "$since" | grep 'hermes-gatewayd: ' |
            head -3 | sed 's/^/    /' >&2 || true
        [ "$rc" != 0 ] || bad="${bad:-systemctl start succeeded with WatchdogSec=1min in fleet mode}"
        [ "$sub" = failed ] || bad="${bad:-SubState $sub, want failed (no restart)}"
        [ "$status" = 78 ] || bad="${bad:-ExecMainStatus $status, want 78 (configuration error)}"
        ns journalctl -q --no-pager -o cat -u hermes-gateway.service --after-cursor "$since" |
            grep -q "watchdog (1min) plus the gateway's stop" || bad="${bad:-the journal does not say why it refused}"
        [ "$(ngateways)" = 0 ] || bad="${bad:-$(ngateways) gateways}"
        ! fleet_keys >/dev/null || bad="${bad:-the refused daemon stood for election}"
    fi

    fleet_teardown
    ns systemctl reset-failed hermes-gateway.service || true
    etcd_down
    ns systemctl restart hermes-gateway.service
    wait_for "$T" healthy || fail "not healthy after removing the drop-in"
    [ "$(prop FleetRole)" = standalone ] || fail "FleetRole $(prop FleetRole) after removing the drop-in"
    [ "$(ns systemctl show -P WatchdogUSec hermes-gateway.service)" = 1min ] || fail "WatchdogUSec not back to 1min"
    [ -z "$bad" ] || fail "$bad"
}
