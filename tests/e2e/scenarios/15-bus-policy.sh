# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 15-bus-policy: the bus policy lets anyone call (reads are open, and the
# daemon refuses state changes itself: through polkit, or its own rule where
# polkit is absent; 18-polkit tries both); only the service account may own
# our names; a member of group hermes may replace.
#
# e2e-aliases: l

run_scenario() {
    wait_for "$T" healthy || fail "not healthy before"
    local g0 gen0 out rc
    g0=$(gateways); gen0=$(prop Generation)
    ! ns id -nG nobody | grep -qw hermes || fail "nobody is in group hermes"
    out=$(ns runuser -u nobody -- busctl call "${MANAGER[@]}" "$HGW_BUS_METHOD_GET_STATUS" 2>&1) ||
        fail "GetStatus as nobody: $out"
    printf '%s\n' "$out" | grep -q "\"pid\" u $g0" || fail "GetStatus as nobody does not name gateway $g0"
    out=$(ns runuser -u nobody -- busctl get-property "${MANAGER[@]}" "$HGW_BUS_PROPERTY_GATEWAY_PID" 2>&1) ||
        fail "get-property as nobody: $out"
    [ "$out" = "u $g0" ] || fail "GatewayPID as nobody: $out"
    rc=0; out=$(ns runuser -u nobody -- gdbus call --system --dest "$HGW_BUS_NAME" --object-path "$HGW_BUS_PATH" --method "$HGW_BUS_INTERFACE.$HGW_BUS_METHOD_REPLACE" '@a{sv} {}' 2>&1) || rc=$?
    log "Replace as nobody (gdbus): exit $rc: $out"
    [ "$rc" != 0 ] || fail "Replace as nobody succeeded"
    # The daemon's refusal, not the bus's: polkit wants a password
    # (InteractiveAuthorizationRequired), or, without polkit, AccessDenied.
    printf '%s\n' "$out" | grep -qE "org\.freedesktop\.DBus\.Error\.InteractiveAuthorizationRequired|$HGW_BUS_ERROR_ACCESS_DENIED" ||
        fail "Replace as nobody: not refused by the daemon"
    printf '%s\n' "$out" | grep -q 'may not call Replace' || fail "Replace as nobody: the refusal does not name the method"
    rc=0; out=$(ns runuser -u nobody -- busctl call "${MANAGER[@]}" "$HGW_BUS_METHOD_REPLACE" 'a{sv}' 0 2>&1) || rc=$?
    log "Replace as nobody (busctl): exit $rc: $out"
    [ "$rc" != 0 ] || fail "Replace as nobody (busctl) succeeded"
    printf '%s\n' "$out" | grep -q 'may not call Replace' || fail "Replace as nobody (busctl): unexpected error"
    rc=0; out=$(ns runuser -u nobody -- hermes-gatewayctl replace --system 2>&1) || rc=$?
    log "hermes-gatewayctl replace as nobody: exit $rc: $out"
    [ "$rc" = 5 ] || fail "hermes-gatewayctl replace as nobody exit $rc, want 5"
    [ "$(gateways)" = "$g0" ] || fail "gateway changed: $g0 -> $(gateways)"
    [ "$(prop Generation)" = "$gen0" ] || fail "generation changed"
    healthy || fail "not healthy after"
    # Owning the names (a profile's name as the probe): the service account
    # only. Flag 4: do not queue.
    request_name() {
        ns runuser -u "$1" -- dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.RequestName "string:$HGW_BUS_NAME.e2eprobe" uint32:4 2>&1
    }
    rc=0; out=$(request_name nobody) || rc=$?
    log "RequestName as nobody: exit $rc: $out"
    { [ "$rc" != 0 ] && printf '%s\n' "$out" | grep -q AccessDenied; } || fail "nobody may own a name of ours"
    out=$(request_name hermes) || fail "RequestName as hermes: $out"
    printf '%s\n' "$out" | grep -q 'uint32 1$' || fail "hermes is not primary owner: $out"
    # A member of the group hermes may change state (policy and daemon).
    ns useradd --system --no-create-home --shell /usr/sbin/nologin --groups hermes hgw-operator
    out=$(ns runuser -u hgw-operator -- hermes-gatewayctl replace --system --reason e2e 2>&1) ||
        fail "replace as a member of hermes: $out"
    log "hermes-gatewayctl replace as hgw-operator (group hermes): ${out//$'\n'/ | }"
    [ "$(prop Generation)" = $((gen0 + 1)) ] || fail "generation $gen0 -> $(prop Generation) after the operator's replace"
    wait_for "$T" healthy || fail "not healthy after the operator's replace"
    [ "$(gateways)" != "$g0" ] || fail "gateway not replaced by the operator"
}
