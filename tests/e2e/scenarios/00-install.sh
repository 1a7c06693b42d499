# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 00-install (--deb only): dpkg -i of the package. The postinst makes the
# account hermes and its private home; the gateway's unit is neither enabled
# nor started, the update path is; the bus lists the daemon's name as
# activatable; man, bash, zsh and fish find the man pages and completions.
# Then what the admin does next (README): write
# gatewayd.conf, systemctl enable. Runs whatever --only says, and nothing
# after it runs if it fails.
#
# e2e-aliases: install
# e2e-when: deb
# e2e-always: yes
# e2e-gate: yes

run_scenario() {
    ! ns getent passwd hermes >/dev/null || fail "an account hermes exists before the install"
    dpkg_do -i /run/hgw-e2e-input/hermes-gatewayd.deb || fail "dpkg -i failed"
    [ "$(pkg_status)" = "install ok installed" ] || fail "status after dpkg -i: $(pkg_status)"
    # The postinst made the account and its private home.
    local pw home out
    pw=$(ns getent passwd hermes) || fail "no account hermes"
    [ "$(printf '%s' "$pw" | cut -d: -f6,7)" = /var/lib/hermes:/usr/sbin/nologin ] || fail "account: $pw"
    [ "$(ns id -gn hermes)" = hermes ] || fail "primary group of hermes: $(ns id -gn hermes)"
    home=$(ns stat -c '%U:%G %a' /var/lib/hermes) || fail "no /var/lib/hermes"
    [ "$home" = "hermes:hermes 700" ] || fail "/var/lib/hermes is $home"
    # The gateway waits for its configuration; the update path runs.
    [ "$(ns systemctl is-enabled hermes-gateway.service)" = disabled ] || fail "hermes-gateway.service enabled by the install"
    [ "$(ns systemctl is-active hermes-gateway.service)" = inactive ] || fail "hermes-gateway.service started by the install"
    [ "$(ns systemctl is-enabled hermes-gateway-update.path)" = enabled ] || fail "update path not enabled"
    [ "$(ns systemctl is-active hermes-gateway-update.path)" = active ] || fail "update path not active"
    wait_for "$T" activatable || fail "the bus does not list $HGW_BUS_NAME as activatable"
    # The man pages, and the completions where each shell finds them by itself.
    ns man -w hermes-gatewayd hermes-gatewayctl >/dev/null || fail "man does not find the man pages"
    ns bash -c '. /usr/share/bash-completion/bash_completion && __load_completion hermes-gatewayctl &&
        complete -p hermes-gatewayctl' >/dev/null || fail "bash-completion does not find the completion"
    ns zsh -fc 'found=(${^fpath}/_hermes-gatewayctl(N)); (($#found))' || fail "zsh's fpath has no _hermes-gatewayctl"
    # fish makes its own directories under HOME: the sandbox's /tmp, not the
    # host's /root. (With --no-config it would have no completion path.)
    out=$(ns env HOME=/tmp XDG_CONFIG_HOME=/tmp/.config XDG_DATA_HOME=/tmp/.local/share \
        fish -c 'complete -C"hermes-gatewayctl pidfile "' 2>&1) || true
    printf '%s\n' "$out" | grep -q '^check' || fail "fish does not complete hermes-gatewayctl pidfile: $out"

    log "installed: $pw; home $home; update path enabled and active; man pages and completions found"
    # What the admin does next (README): configure the gateway, enable it.
    gatewayd_conf | ns sh -c 'cat >/etc/hermes/gatewayd.conf'
    ns systemctl enable hermes-gateway.service
    [ "$(ns systemctl is-enabled hermes-gateway.service)" = enabled ] || fail "enable failed"
}
