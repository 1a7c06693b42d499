# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 18-polkit: the daemon asks polkit (Debian's polkitd, D-Bus activated on
# the sandbox's system bus) about callers other than root and hermes. A
# rules file grants one user the action "manage": that user may replace,
# another may not (the refusal names the action), with interaction allowed
# and no agent the refusal is quick and clean, and the shipped rule lets the
# group hermes in. Then the daemon's other paths: polkit stalled (SIGSTOP)
# does not stall the daemon and times out; polkit that cannot start denies
# all but root (fail closed); no polkit on the bus: the daemon's own rule.

PK_RULES=/etc/polkit-1/rules.d/10-hgw-e2e.rules
PK_ACTIVATION=/usr/share/dbus-1/system-services/org.freedesktop.PolicyKit1.service
PK_SAVED=/run/hgw-e2e-polkit-activation.service

# busctl ARGS... as USER (busctl's own timeout is 25 s; `timeout` catches a hang).
call_as() {
    local user=$1; shift
    ns timeout 60 runuser -u "$user" -- busctl "$@" 2>&1
}
replace_as() {   # USER INTERACTIVE(yes|no)
    call_as "$1" --allow-interactive-authorization="$2" call org.hermes.Gateway1 /org/hermes/Gateway1 \
        org.hermes.Gateway1.Manager Replace 'a{sv}' 1 reason s e2e-polkit
}
clean_as() { call_as "$1" --allow-interactive-authorization=no call org.hermes.Gateway1 /org/hermes/Gateway1 \
    org.hermes.Gateway1.Manager CleanPidFile; }
# The error's name, as gdbus shows it (busctl shows only the message).
gdbus_replace_as() {
    ns timeout 60 runuser -u "$1" -- gdbus call --system --dest org.hermes.Gateway1 --object-path /org/hermes/Gateway1 \
        --method org.hermes.Gateway1.Manager.Replace '@a{sv} {}' 2>&1
}
polkit_pid() { ns systemctl show -P MainPID polkit.service; }
polkit_active() { [ "$(ns systemctl is-active polkit.service)" = active ]; }
# A replace by USER that must succeed: generation +1, healthy after.
expect_replace() {
    local user=$1 gen out
    gen=$(prop Generation)
    out=$(replace_as "$user" no) || fail "Replace as $user: $out"
    log "Replace as $user: $out"
    [ "$(prop Generation)" = $((gen + 1)) ] || fail "generation $gen -> $(prop Generation) after $user's Replace"
    wait_for "$T" healthy || fail "not healthy after $user's Replace"
}
# A Replace by USER that must fail within SECONDS, its output matching each PATTERN.
expect_refused() {
    local user=$1 interactive=$2 within=$3 rc=0 out t0 gen g0 p; shift 3
    gen=$(prop Generation); g0=$(gateways); t0=$SECONDS
    out=$(replace_as "$user" "$interactive") || rc=$?
    log "Replace as $user (interactive $interactive): exit $rc after $((SECONDS - t0)) s: $out"
    [ "$rc" != 0 ] || fail "Replace as $user succeeded"
    [ "$rc" != 124 ] || fail "Replace as $user hung"
    [ $((SECONDS - t0)) -le "$within" ] || fail "Replace as $user took $((SECONDS - t0)) s, more than $within"
    for p in "$@"; do printf '%s\n' "$out" | grep -qE -- "$p" || fail "Replace as $user: no '$p' in: $out"; done
    [ "$(prop Generation)" = "$gen" ] || fail "generation changed by $user's refused Replace"
    [ "$(gateways)" = "$g0" ] || fail "gateway changed by $user's refused Replace"
    healthy || fail "not healthy after $user's refused Replace"
}
restore_polkit() {
    ns systemctl unmask --runtime polkit.service >/dev/null 2>&1 || true
    if ns test -e "$PK_SAVED"; then ns cp "$PK_SAVED" "$PK_ACTIVATION"; ns rm -f "$PK_SAVED"; fi
    ns busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null 2>&1 || true
    local p; p=$(polkit_pid 2>/dev/null) || true
    [ -z "$p" ] || [ "$p" = 0 ] || ns kill -CONT "$p" 2>/dev/null || true
}

run_scenario() {
    trap 'restore_polkit; ns rm -f "$PK_RULES"' EXIT
    wait_for "$T" healthy || fail "not healthy before"
    ns test -x /usr/lib/polkit-1/polkitd || fail "polkitd is not installed (scripts/install-deps installs it)"
    # The action ids, from the installed policy (what polkit reads).
    local policy=/usr/share/polkit-1/actions/org.hermes.gateway1.policy manage clean out u
    manage=$(ns sed -n 's/.*<action id="\([^"]*\.manage\)".*/\1/p' "$policy")
    clean=$(ns sed -n 's/.*<action id="\([^"]*\.clean-pidfile\)".*/\1/p' "$policy")
    { [ -n "$manage" ] && [ -n "$clean" ]; } || fail "no actions in $policy"
    for u in hgw-alice hgw-bob; do
        ns id "$u" >/dev/null 2>&1 || ns useradd --system --no-create-home --shell /usr/sbin/nologin "$u"
    done
    ns id hgw-pk-member >/dev/null 2>&1 ||
        ns useradd --system --no-create-home --shell /usr/sbin/nologin --groups hermes hgw-pk-member
    ns sh -c 'cat >"$1"' sh "$PK_RULES" <<RULES
// e2e 18-polkit: hgw-alice may manage the gateway.
polkit.addRule(function(action, subject) {
    if (action.id == "$manage" && subject.user == "hgw-alice")
        return polkit.Result.YES;
});
RULES
    # polkitd reads its rules when it starts (Type=dbus: started once the
    # name is its own), so it has these at once.
    ns systemctl restart polkit.service
    out=$(ns pkaction --action-id "$manage" --verbose 2>&1) || fail "polkit does not know $manage: $out"
    log "pkaction: ${out//$'\n'/ | }"

    # The granted user may; it may clean the PID file too (implied).
    expect_replace hgw-alice
    out=$(clean_as hgw-alice) || fail "CleanPidFile as hgw-alice: $out"
    log "CleanPidFile as hgw-alice: $out"
    # The shipped rule: the daemon's allowed group, without a password.
    expect_replace hgw-pk-member
    # Another user may not: without interaction, polkit's challenge is
    # InteractiveAuthorizationRequired; the message names method and action.
    expect_refused hgw-bob no 15 "may not call Replace without authenticating for polkit action ${manage//./\\.}"
    out=$(gdbus_replace_as hgw-bob) && fail "gdbus Replace as hgw-bob succeeded: $out"
    printf '%s\n' "$out" | grep -q 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired' ||
        fail "gdbus Replace as hgw-bob: not InteractiveAuthorizationRequired: $out"
    # With interaction allowed and no agent: refused at once, AccessDenied.
    expect_refused hgw-bob yes 15 "may not call Replace: polkit action ${manage//./\\.} needs authentication" \
        "no authentication agent"
    out=$(clean_as hgw-bob) && fail "CleanPidFile as hgw-bob succeeded: $out"
    printf '%s\n' "$out" | grep -q "may not call CleanPidFile without authenticating for polkit action $clean" ||
        fail "CleanPidFile as hgw-bob: $out"
    local rc=0
    out=$(ns runuser -u hgw-bob -- hermes-gatewayctl replace --system 2>&1) || rc=$?
    log "hermes-gatewayctl replace as hgw-bob: exit $rc: $out"
    [ "$rc" = 5 ] || fail "hermes-gatewayctl replace as hgw-bob exit $rc, want 5"
    printf '%s\n' "$out" | grep -q "$manage" || fail "hermes-gatewayctl does not name the action: $out"

    # polkit stalled: the daemon keeps answering and supervising; the
    # caller is refused once polkit's 20 s are up.
    local pk bob_out=/run/hgw-e2e-bob.out t0
    pk=$(polkit_pid); [ "$pk" -gt 0 ] || fail "no polkitd"
    ns kill -STOP "$pk"
    t0=$SECONDS
    ns sh -c 'timeout 60 runuser -u hgw-bob -- busctl --allow-interactive-authorization=no call org.hermes.Gateway1 \
        /org/hermes/Gateway1 org.hermes.Gateway1.Manager Replace "a{sv}" 0 >"$1" 2>&1; echo "exit $?" >>"$1"' \
        sh "$bob_out" &
    local waiter=$! answered=0
    # Throughout bob's wait, the daemon answers at once, and root (whom it
    # does not ask polkit about) may replace.
    while kill -0 "$waiter" 2>/dev/null; do
        out=$(ns timeout 5 busctl call org.hermes.Gateway1 /org/hermes/Gateway1 org.hermes.Gateway1.Manager GetStatus 2>&1) ||
            fail "GetStatus while polkit is stopped: $out"
        answered=$((answered + 1))
        [ "$answered" != 2 ] || expect_replace root
        sleep 1
    done
    log "GetStatus answered $answered times while polkit was stopped"
    [ "$answered" -ge 5 ] || fail "only $answered GetStatus calls while bob waited"
    wait "$waiter" || true
    out=$(ns cat "$bob_out")
    log "Replace as hgw-bob with polkit stopped, after $((SECONDS - t0)) s: ${out//$'\n'/ | }"
    printf '%s\n' "$out" | grep -q "no answer from polkit within 20s" || fail "hgw-bob with polkit stopped: $out"
    printf '%s\n' "$out" | grep -q "$manage" || fail "hgw-bob with polkit stopped: action not named: $out"
    ns kill -CONT "$pk"
    healthy || fail "not healthy after polkit's stall"

    # polkit installed but unable to start: fail closed, root still allowed.
    ns systemctl stop polkit.service
    ns systemctl mask --runtime polkit.service
    expect_refused hgw-pk-member no 30 "polkit did not decide on action ${manage//./\\.}" \
        "only root and uid [0-9]+ may change the gateway"
    expect_replace root
    ns systemctl unmask --runtime polkit.service

    # No polkit on the bus at all: the daemon's own rule (root, hermes, the
    # group), and polkit rules no longer count.
    ns cp "$PK_ACTIVATION" "$PK_SAVED"
    ns rm "$PK_ACTIVATION"
    ns busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
    expect_replace hgw-pk-member
    expect_refused hgw-alice no 15 "uid [0-9]+ may not call Replace: only root, uid [0-9]+ and group hermes"
    restore_polkit
    # And back: polkit decides again.
    expect_refused hgw-bob no 15 "without authenticating for polkit action ${manage//./\\.}"
}
