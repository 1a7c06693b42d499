# shellcheck shell=bash disable=SC2016,SC2317
# Sourced by tests/e2e/run (see docs/e2e.md), which runs run_scenario in a
# subshell with set -e; the helpers are tests/e2e/lib.sh's.
#
# 16-stock-unit-bug: contrast. The stock Hermes-style unit (Type=simple,
# Restart=always, no daemon) and a kill -9 give "PID file race lost" in the
# journal: the original bug, which proves the suite can see it.
#
# e2e-aliases: g

run_scenario() {
    ns systemctl stop hermes-gateway.service
    ns systemctl start hermes-stock.service
    stock_up() { [ "$(ns systemctl is-active hermes-stock.service)" = active ] && ns test -e "$STOCK_HOME/gateway.pid"; }
    wait_for "$T" stock_up || fail "stock unit did not come up"
    local mp; mp=$(ns systemctl show -P MainPID hermes-stock.service)
    ns kill -KILL "$mp"
    wait_for "$T" eval '[ "$(race_lost hermes-stock.service)" -ge 1 ]' ||
        fail "no race lost with the stock unit (the test could not catch the bug)"
    ns journalctl -q --no-pager -u hermes-stock.service | grep 'race lost' | head -3 | sed 's/^/    /' >&2 || true
    ns systemctl stop hermes-stock.service
}
