# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's and lib-user.sh's.
#
# 23-migrate: from Hermes' own user unit to ours and back. The user has
# what `hermes gateway install` writes (tests/e2e/units/hermes-user.service:
# ~/.config/systemd/user/hermes-gateway.service, Restart=always,
# RestartSec=5, no daemon, the stub as its gateway), enabled and running.
# Asserts: `hermes-gatewayctl status --user` warns that it shadows the
# package's unit; `migrate --user --dry-run` prints the plan and changes
# nothing; `migrate --user` leaves exactly one gateway of ~/.hermes, under
# our daemon (user_healthy, loaded from the package's file), Hermes' unit
# disabled and its file gone (kept in ~/.local/state), and status no longer
# warns; gatewayd.conf names Hermes' command; a second migrate is refused (already migrated); `migrate --undo`
# brings Hermes' unit back, enabled and running its own gateway (no daemon),
# ours stopped, the drop-in and gatewayd.conf gone; at no sample point do two gateways of the home run.

run_scenario() {
    trap user_units_down EXIT
    user_manager_up
    local home=$TUSER_HERMES theirs=$TUSER_UNITS/hermes-gateway.service
    local conf=$TUSER_HOME/.config/hermes/gatewayd.conf
    # A Hermes user has no gatewayd.conf: migrate writes the command there.
    as_user rm -f "$conf"
    as_user mkdir -p "$TUSER_UNITS"
    ns sh -c 'sed "s|@HOME@|$1|g" /run/hgw-e2e-input/units/hermes-user.service.in' sh "$TUSER_HOME" |
        as_user sh -c 'cat > "$1"' sh "$theirs"
    user_systemctl daemon-reload
    user_systemctl enable --now hermes-gateway.service || user_fail hermes-gateway.service "Hermes' unit did not start"
    stock_healthy() {
        [ "$(user_systemctl is-active hermes-gateway.service)" = active ] &&
            [ "$(home_gateways "$home" | grep -c .)" = 1 ] &&
            [ "$(user_mainpid hermes-gateway.service)" = "$(home_gateways "$home")" ] &&
            record_true "$home" "$(home_gateways "$home")"
    }
    wait_for "$T" stock_healthy || user_fail hermes-gateway.service "Hermes' unit not running its gateway"
    [ "$(user_systemctl show -P FragmentPath hermes-gateway.service)" = "$theirs" ] || fail "Hermes' unit not the one loaded"

    local warn
    warn=$(as_user hermes-gatewayctl status --user 2>&1 >/dev/null || true)
    grep -q "warning: $theirs runs a Hermes gateway" <<<"$warn" || fail "status does not warn of the shadowing unit: $warn"
    grep -q 'migrate --user' <<<"$warn" || fail "status does not say how to migrate: $warn"

    local g0 out; g0=$(home_gateways "$home")
    out=$(as_user hermes-gatewayctl migrate --user --dry-run) || fail "migrate --dry-run exit $?"
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    grep -q 'Dry run: nothing was changed' <<<"$out" || fail "no dry-run line"
    ns test -e "$theirs" || fail "the dry run removed Hermes' unit"
    [ "$(home_gateways "$home")" = "$g0" ] || fail "the dry run touched the gateway"

    # A sampler counts the home's gateways every 20 ms through the migration.
    local samples=/tmp/hgw-migrate-samples
    ns sh -c 'rm -f "$3"; while [ ! -e "$3.stop" ]; do n=0
        for p in $(pgrep -f "$1"); do tr "\0" "\n" 2>/dev/null < "/proc/$p/environ" | grep -qxF "HERMES_HOME=$2" && n=$((n+1)); done
        echo "$n" >> "$3"; sleep 0.02; done; rm -f "$3.stop"' sh "$GW_PAT" "$home" "$samples" &
    local sampler=$!
    out=$(as_user hermes-gatewayctl migrate --user 2>&1) || { printf '%s\n' "$out" >&2; fail "migrate exit $?"; }
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    wait_for "$T" user_healthy hermes-gateway.service "$home" || user_fail hermes-gateway.service "not healthy after migrate"
    ns touch "$samples.stop"; wait "$sampler" || true
    log "gateways of the home during migrate (samples): $(ns sort "$samples" | uniq -c | tr '\n' ' ')"
    ! ns grep -qx '[2-9]' "$samples" || fail "two gateways of $home ran at once during migrate"
    [ "$(user_systemctl show -P FragmentPath hermes-gateway.service)" = /usr/lib/systemd/user/hermes-gateway.service ] ||
        fail "ours is not loaded from the package's file after migrate"
    ! ns test -e "$theirs" || fail "Hermes' unit file is still in place"
    ns test -e "$TUSER_HOME/.local/state/hermes-gatewayd/migrate/hermes-gateway.service/hermes-gateway.service" ||
        fail "no copy of Hermes' unit kept"
    [ "$(home_gateways "$home")" != "$g0" ] || fail "the gateway is still Hermes' one"
    ns grep -qxF 'command = ["/usr/lib/hermes-gateway-test/hermes", "gateway", "run"]' "$conf" ||
        fail "gatewayd.conf does not name Hermes' command"
    warn=$(as_user hermes-gatewayctl status --user 2>&1 >/dev/null || true)
    [ -z "$warn" ] || fail "status still warns after migrate: $warn"
    out=$(as_user hermes-gatewayctl migrate --user 2>&1) && fail "a second migrate succeeded"
    grep -q 'already migrated' <<<"$out" || fail "a second migrate did not say already migrated: $out"

    out=$(as_user hermes-gatewayctl migrate --user --undo 2>&1) || { printf '%s\n' "$out" >&2; fail "migrate --undo exit $?"; }
    printf '%s\n' "$out" | sed 's/^/    /' >&2
    wait_for "$T" stock_healthy || user_fail hermes-gateway.service "Hermes' unit not back after --undo"
    [ "$(user_systemctl show -P FragmentPath hermes-gateway.service)" = "$theirs" ] || fail "Hermes' unit not loaded after --undo"
    [ "$(user_systemctl is-enabled hermes-gateway.service)" = enabled ] || fail "Hermes' unit not enabled after --undo"
    ! ns pgrep -u "$TUSER" -x hermes-gatewayd >/dev/null || fail "a daemon still runs after --undo"
    ns test ! -e "$TUSER_UNITS/hermes-gateway.service.d/50-migrated-from-hermes.conf" || fail "the drop-in is left"
    ns test ! -e "$conf" || fail "the gatewayd.conf migrate wrote is left"
    # Hermes' unit goes, so that user_units_down leaves no gateway behind.
    user_systemctl disable --now hermes-gateway.service
    as_user rm -f "$theirs"
    user_systemctl daemon-reload
}
