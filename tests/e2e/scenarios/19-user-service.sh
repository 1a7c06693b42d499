# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's and lib-user.sh's.
#
# 19-user-service: the user unit under a real user manager (a test user
# with lingering, no login): `systemctl --user enable --now
# hermes-gateway`, status, kill -9 of the gateway, kill -9 of the daemon,
# `systemctl --user reload`.
# Asserts: `systemd-analyze --user verify` of the user units prints
# nothing; the unit systemd loads is the package's (nothing shadows it);
# after the start, each kill and the reload: user_healthy (one gateway of
# ~/.hermes, the daemon's child, the user's, a true record, ready on the
# session bus); `hermes-gatewayctl status --user` as the user exits 0 and
# names the gateway; the killed daemon is restarted by the user manager;
# the reload keeps the daemon and replaces the gateway (generation +1); no
# "PID file race lost" in the unit's journal.

run_scenario() {
    trap user_units_down EXIT
    user_manager_up
    local u=hermes-gateway.service home=$TUSER_HERMES
    # The user units, as installed, must pass systemd's own check.
    local verify
    verify=$(as_user systemd-analyze --user verify "$u" hermes-gateway@work.service hermes-gateway-update.path \
        hermes-gateway-update.service 2>&1) || fail "systemd-analyze --user verify failed: $verify"
    [ -z "$verify" ] || fail "systemd-analyze --user verify complained: $verify"
    local frag; frag=$(user_systemctl show -P FragmentPath "$u")
    log "$u is $frag"
    [ "$frag" = /usr/lib/systemd/user/$u ] || fail "$u is loaded from $frag, not the package's unit"
    user_systemctl enable --now "$u" || user_fail "$u" "systemctl --user enable --now $u"
    wait_for "$T" user_healthy "$u" "$home" || fail "not healthy after enable --now"

    # Here-strings, not printf | grep -q: with the runner's pipefail, grep
    # leaving early would fail the pipe (printf gets EPIPE).
    local st; st=$(user_systemctl status --no-pager "$u" 2>&1 || true)
    printf '%s\n' "$st" | sed 's/^/    /' >&2
    local g; g=$(home_gateways "$home")
    grep -q "Status: \".*gateway.*pid $g)" <<<"$st" || fail "no Status: line naming gateway $g"
    local out; out=$(as_user hermes-gatewayctl status --user) || fail "hermes-gatewayctl status --user exit $?"
    grep -q "$g" <<<"$out" || fail "hermes-gatewayctl status does not name gateway $g: $out"

    # kill -9 of the gateway: the daemon heals.
    ns kill -KILL "$g"
    wait_for "$T" eval '[ "$(home_gateways "$home")" != "$g" ] && user_healthy "$u" "$home"' ||
        fail "not healed after kill -9 of gateway $g"
    log "gateway $g -> $(home_gateways "$home")"

    # kill -9 of the daemon: the user manager restarts it (RestartSec=10s).
    local mp; mp=$(user_mainpid "$u")
    ns kill -KILL "$mp"
    wait_for 60 eval '[ "$(user_mainpid "$u")" != "$mp" ] && user_healthy "$u" "$home"' ||
        fail "not healthy after kill -9 of daemon $mp"
    log "daemon $mp -> $(user_mainpid "$u")"

    # reload: a safe replace by the same daemon.
    mp=$(user_mainpid "$u"); g=$(home_gateways "$home")
    local gen; gen=$(user_prop "" Generation)
    user_systemctl reload "$u" || fail "systemctl --user reload failed"
    user_healthy "$u" "$home" || fail "not healthy right after reload returned"
    [ "$(user_mainpid "$u")" = "$mp" ] || fail "the daemon was restarted by the reload"
    [ "$(home_gateways "$home")" != "$g" ] || fail "gateway not replaced by the reload"
    [ "$(user_prop "" Generation)" = $((gen + 1)) ] || fail "generation not +1 after the reload"
    [ "$(user_race_lost "$u")" = 0 ] || fail "race lost in the journal"
}
