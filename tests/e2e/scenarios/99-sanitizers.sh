# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 99-sanitizers (a sanitizer build's install tree only): no AddressSanitizer
# or UndefinedBehaviorSanitizer report in the whole journal, whatever else
# ran. Runs whatever --only says.
#
# e2e-aliases: sanitizers
# e2e-when: sanitized
# e2e-always: yes

run_scenario() {
    if ns journalctl -q --no-pager | grep -E 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' >&2; then
        fail "a sanitizer report in the journal"
    fi
}
