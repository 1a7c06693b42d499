# shellcheck shell=bash
# What the scenarios of a user's own service share (19-user-service and
# after): a test user with lingering, whose user manager (user@UID.service,
# with its own session bus) runs without a login, as on a server after
# `loginctl enable-linger`. Sourced by lib.sh; needs its ns, wait_for, fail
# and bus names.
# SC2016: sh -c bodies are single-quoted on purpose; SC2034: the settings
# are the scenarios'.
# shellcheck disable=SC2016,SC2034

TUSER=hgwuser
TUSER_HOME=/home/$TUSER
TUSER_HERMES=$TUSER_HOME/.hermes
# What `systemctl --user` reads: the user's own units shadow the package's.
TUSER_UNITS=$TUSER_HOME/.config/systemd/user

tuid() { ns id -u "$TUSER"; }

# as_user CMD...: CMD as the test user, with what a login gives (runtime
# directory, session bus), and nothing of root's environment.
as_user() {
    local uid; uid=$(tuid) || return 1
    ns runuser -u "$TUSER" -- env -i HOME="$TUSER_HOME" USER="$TUSER" LOGNAME="$TUSER" \
        PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="/run/user/$uid" \
        DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@"
}
user_systemctl() { as_user systemctl --user "$@"; }

user_manager_active() {
    local uid; uid=$(tuid) || return 1
    [ "$(ns systemctl is-active "user@$uid.service")" = active ] && ns test -S "/run/user/$uid/bus"
}

# user_manager_up: the test user exists, lingers, and its manager and
# session bus run; it has a Hermes home (~/.hermes, as Hermes' setup
# leaves it), and its gateway runs the stub.
user_manager_up() {
    if ! ns id -u "$TUSER" >/dev/null 2>&1; then
        ns useradd --create-home --shell /bin/bash "$TUSER" || fail "useradd $TUSER"
    fi
    as_user mkdir -p -m 0700 "$TUSER_HERMES"
    ns loginctl enable-linger "$TUSER" || fail "loginctl enable-linger $TUSER"
    wait_for "$T" user_manager_active ||
        fail "user@$(tuid).service is $(ns systemctl is-active "user@$(tuid).service"), no session bus"
    user_gatewayd_conf
}

# The user's gatewayd.conf (~/.config/hermes/gatewayd.conf, which the user
# units read): the stub, short back-off as for the system unit.
user_gatewayd_conf() {
    as_user sh -c 'mkdir -p "$HOME/.config/hermes" && cat > "$HOME/.config/hermes/gatewayd.conf"' <<'CONF'
# e2e: the stub gateway, short back-off so healing is quick.
command = ["/usr/lib/hermes-gateway-test/hermes", "gateway", "run"]
restart-delay = 200ms
drain-timeout = 5s
stop-timeout = 5s
CONF
}

# home_gateways HOME: the stub gateways whose HERMES_HOME is HOME.
home_gateways() {
    ns sh -c 'for p in $(pgrep -f "$1"); do
        tr "\0" "\n" 2>/dev/null < "/proc/$p/environ" | grep -qxF "HERMES_HOME=$2" && echo "$p"
    done; true' sh "$GW_PAT" "$1"
}
# user_prop PROFILE PROPERTY: a property of the user's daemon for PROFILE
# ("" for the default one), read on the user's session bus.
user_prop() {
    as_user busctl --user get-property "$BUS_NAME${1:+.$1}" "$BUS_PATH" "$BUS_IFACE" "$2" | awk '{print $2}' | tr -d '"'
}
user_mainpid() { user_systemctl show -P MainPID "$1"; }
# (Not --user-unit: as root, that matches root's own user units only.)
user_journal() { ns journalctl -q --no-pager "_SYSTEMD_USER_UNIT=$1" + "USER_UNIT=$1"; }
# user_fail UNIT MESSAGE: fail, with the end of UNIT's journal to say why.
user_fail() {
    user_journal "$1" | tail -25 | sed 's/^/    | /' >&2
    fail "$2"
}
user_race_lost() { user_journal "$1" | grep -c 'PID file race lost'; }

# user_healthy UNIT HOME [PROFILE]: as healthy, for a user unit: active,
# exactly one gateway of HOME, the daemon's child and the user's, a true
# record, and the daemon on the session bus says ready with its PID.
user_healthy() {
    local unit=$1 home=$2 profile=${3-} g
    [ "$(user_systemctl is-active "$unit")" = active ] || return 1
    g=$(home_gateways "$home")
    [ "$(printf '%s\n' "$g" | grep -c .)" = 1 ] || return 1
    [ "$(ns ps -o ppid= -p "$g" | tr -d ' ')" = "$(user_mainpid "$unit")" ] || return 1
    [ "$(ns ps -o user= -p "$g")" = "$TUSER" ] || return 1
    record_true "$home" "$g" || return 1
    [ "$(user_prop "$profile" GatewayPID)" = "$g" ] || return 1
    [ "$(user_prop "$profile" Ready)" = true ]
}

# user_units_down: every hermes-gateway unit of the user stopped and
# disabled, so that the system scenarios after these count only their own
# gateway. Scenarios run it on exit, pass or fail; it never fails (the
# runner's pipefail and set -e would turn an empty list into a failure).
user_units_down() {
    local units
    units=$(user_systemctl list-units --plain --no-legend --all 'hermes-gateway*' 2>/dev/null | awk '{print $1}') || true
    # shellcheck disable=SC2086 # one word per unit
    [ -z "$units" ] || user_systemctl stop $units || true
    units=$(user_systemctl list-unit-files --plain --no-legend --state=enabled 'hermes-gateway*' 2>/dev/null |
        awk '{print $1}') || true
    # shellcheck disable=SC2086
    [ -z "$units" ] || user_systemctl disable --quiet $units || true
}
