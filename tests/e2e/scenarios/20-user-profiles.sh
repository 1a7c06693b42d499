# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's and lib-user.sh's.
#
# 20-user-profiles: two profiles at once with the user template
# (hermes-gateway@work, hermes-gateway@play), beside the default user unit,
# under a real user manager; kill -9 of one profile's gateway, reload of
# the other.
# Asserts: all three pass user_healthy, each with its own home
# (~/.hermes/profiles/NAME) and bus name (org.hermes.Gateway1.NAME) on the
# session bus; `hermes-gatewayctl status --user --profile NAME` exits 0 and
# names that profile's gateway; a kill -9 heals only the killed profile and a
# reload replaces only the reloaded one's gateway (the others keep theirs);
# no "PID file race lost".

run_scenario() {
    trap user_units_down EXIT
    user_manager_up
    local p
    for p in work play; do
        # As `hermes profile create NAME` leaves it.
        as_user mkdir -p -m 0700 "$TUSER_HERMES/profiles/$p"
    done
    user_systemctl enable --now hermes-gateway.service hermes-gateway@work.service hermes-gateway@play.service ||
        user_fail hermes-gateway@work.service "systemctl --user enable --now of three units"
    all_healthy() {
        user_healthy hermes-gateway.service "$TUSER_HERMES" &&
            user_healthy hermes-gateway@work.service "$TUSER_HERMES/profiles/work" work &&
            user_healthy hermes-gateway@play.service "$TUSER_HERMES/profiles/play" play
    }
    wait_for "$T" all_healthy || fail "not all three healthy"
    local out
    for p in work play; do
        out=$(as_user hermes-gatewayctl status --user --profile "$p") || fail "status --profile $p exit $?"
        grep -q "$(home_gateways "$TUSER_HERMES/profiles/$p")" <<<"$out" ||
            fail "status --profile $p does not name its gateway: $out"
    done

    local d0 w0 p0
    d0=$(home_gateways "$TUSER_HERMES"); w0=$(home_gateways "$TUSER_HERMES/profiles/work")
    p0=$(home_gateways "$TUSER_HERMES/profiles/play")
    log "gateways: default $d0, work $w0, play $p0"
    ns kill -KILL "$w0"
    wait_for "$T" eval '[ "$(home_gateways "$TUSER_HERMES/profiles/work")" != "$w0" ] && all_healthy' ||
        fail "work not healed after kill -9 of $w0"
    [ "$(home_gateways "$TUSER_HERMES/profiles/play")" = "$p0" ] || fail "play's gateway changed when work's was killed"
    [ "$(home_gateways "$TUSER_HERMES")" = "$d0" ] || fail "the default gateway changed when work's was killed"

    w0=$(home_gateways "$TUSER_HERMES/profiles/work")
    user_systemctl reload hermes-gateway@play.service || fail "systemctl --user reload hermes-gateway@play"
    all_healthy || fail "not all healthy right after the reload of play"
    [ "$(home_gateways "$TUSER_HERMES/profiles/play")" != "$p0" ] || fail "play's gateway not replaced"
    [ "$(home_gateways "$TUSER_HERMES/profiles/work")" = "$w0" ] || fail "work's gateway changed by play's reload"
    [ "$(home_gateways "$TUSER_HERMES")" = "$d0" ] || fail "the default gateway changed by play's reload"
    for p in hermes-gateway.service hermes-gateway@work.service hermes-gateway@play.service; do
        [ "$(user_race_lost "$p")" = 0 ] || fail "race lost in $p's journal"
    done
}
