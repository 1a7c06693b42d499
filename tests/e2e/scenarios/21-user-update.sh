# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's and lib-user.sh's.
#
# 21-user-update: the update hook in user scope. The user's default unit
# and profile work run (profile play exists but is stopped); the user
# touches ~/.hermes/update-requested, as an updater would.
# Asserts: the user units pulled in hermes-gateway-update.path (no enable
# step); the marker is consumed; both running gateways are new and their
# generations +1, each healthy; play stays stopped; the user's
# hermes-gateway-update.service succeeded; no "PID file race lost".

run_scenario() {
    trap user_units_down EXIT
    user_manager_up
    local p
    for p in work play; do as_user mkdir -p -m 0700 "$TUSER_HERMES/profiles/$p"; done
    user_systemctl start hermes-gateway.service hermes-gateway@work.service ||
        user_fail hermes-gateway.service "systemctl --user start"
    both_healthy() {
        user_healthy hermes-gateway.service "$TUSER_HERMES" &&
            user_healthy hermes-gateway@work.service "$TUSER_HERMES/profiles/work" work
    }
    wait_for "$T" both_healthy || fail "not healthy before the update"
    [ "$(user_systemctl is-active hermes-gateway-update.path)" = active ] ||
        fail "hermes-gateway-update.path is $(user_systemctl is-active hermes-gateway-update.path), not pulled in"

    local d0 w0 gd gw
    d0=$(home_gateways "$TUSER_HERMES"); w0=$(home_gateways "$TUSER_HERMES/profiles/work")
    gd=$(user_prop "" Generation); gw=$(user_prop work Generation)
    as_user touch "$TUSER_HERMES/update-requested"
    updated() {
        ! ns test -e "$TUSER_HERMES/update-requested" && ! ns test -e "$TUSER_HERMES/update-requested.claimed" &&
            [ "$(user_systemctl show -P ActiveState hermes-gateway-update.service)" = inactive ] &&
            [ "$(home_gateways "$TUSER_HERMES")" != "$d0" ] &&
            [ "$(home_gateways "$TUSER_HERMES/profiles/work")" != "$w0" ] && both_healthy
    }
    wait_for 60 updated || user_fail hermes-gateway-update.service "the update was not served"
    user_journal hermes-gateway-update.service | tail -6 | sed 's/^/    /' >&2
    [ "$(user_systemctl show -P Result hermes-gateway-update.service)" = success ] || fail "update service result"
    [ "$(user_prop "" Generation)" = $((gd + 1)) ] || fail "default generation not +1"
    [ "$(user_prop work Generation)" = $((gw + 1)) ] || fail "work generation not +1"
    [ "$(user_systemctl is-active hermes-gateway@play.service)" != active ] || fail "the stopped profile play was started"
    [ -z "$(home_gateways "$TUSER_HERMES/profiles/play")" ] || fail "a gateway of play runs"
    for p in hermes-gateway.service hermes-gateway@work.service; do
        [ "$(user_race_lost "$p")" = 0 ] || fail "race lost in $p's journal"
    done
}
