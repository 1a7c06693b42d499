# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's and lib-user.sh's.
#
# 22-user-linger: lingering is what keeps a user's gateway alive without a
# login. With the user unit enabled and running: `loginctl disable-linger`
# (the user has no session, as after the last logout), then
# `loginctl enable-linger` (as at boot, or the next login).
# Asserts: without lingering the user manager stops, and with it the daemon
# and the gateway, cleanly: no gateway of the home, no gateway.pid
# (`pidfile check` exits 3); with lingering again the manager starts and
# the enabled unit comes up on its own (WantedBy=default.target) and passes
# user_healthy; no "PID file race lost".

run_scenario() {
    trap user_units_down EXIT
    user_manager_up
    local u=hermes-gateway.service home=$TUSER_HERMES uid
    uid=$(tuid)
    user_systemctl enable --now "$u" || user_fail "$u" "systemctl --user enable --now $u"
    wait_for "$T" user_healthy "$u" "$home" || fail "not healthy before"

    ns loginctl disable-linger "$TUSER"
    manager_gone() { [ "$(ns systemctl is-active "user@$uid.service")" = inactive ]; }
    wait_for 60 manager_gone || fail "user@$uid.service is $(ns systemctl is-active "user@$uid.service") without lingering"
    [ -z "$(home_gateways "$home")" ] || fail "a gateway of $home outlived its user manager"
    local rc=0; pidfile_check "$home" >/dev/null 2>&1 || rc=$?
    [ "$rc" = 3 ] || fail "pidfile check exit $rc after the manager stopped (want 3: no record)"
    log "without lingering: user@$uid.service stopped, no gateway, no record"

    ns loginctl enable-linger "$TUSER"
    wait_for "$T" user_manager_active || fail "user@$uid.service did not start again"
    wait_for "$T" user_healthy "$u" "$home" || user_fail "$u" "the enabled unit did not come up with the manager"
    [ "$(user_race_lost "$u")" = 0 ] || fail "race lost in the journal"
}
