// Fencing by time: when the gateway must be dead and when its stop must
// begin, and which configurations cannot keep that promise.

#include "fleet/fence.h"

#include <catch2/catch.hpp>

using namespace hgw::fleet;
using namespace std::chrono_literals;

TEST_CASE("the stop begins so that the gateway is dead before the lease can lapse on a slower clock", "[fleet][fence]")
{
    FenceRule r{10s, 0.01, 3s, 1s};
    const std::uint64_t sent = 1'000'000'000;
    CHECK(r.dead_by(sent) == sent + 9'900'000);
    CHECK(r.fence_at(sent) == sent + 6'900'000);
    CHECK(r.renew_every() == std::chrono::microseconds(3'333'333));
    // A later renewal moves both; nothing but the send time matters.
    CHECK(r.fence_at(sent + 3'333'333) == sent + 3'333'333 + 6'900'000);
}

TEST_CASE("a rule that cannot keep its promise is refused with what to change", "[fleet][fence]")
{
    CHECK_FALSE(fence_problem(FenceRule{10s, 0.01, 3s, 1s}, std::nullopt));
    // The stop takes longer than what a lease leaves after one renewal.
    auto p = fence_problem(FenceRule{10s, 0.01, 10s, 1s}, std::nullopt);
    REQUIRE(p);
    CHECK_THAT(*p, Catch::Contains("raise --fleet-ttl or lower --stop-timeout"));
    CHECK(fence_problem(FenceRule{1s, 0.01, 0s, 100ms}, std::nullopt));
    CHECK(fence_problem(FenceRule{10s, 0.6, 1s, 1s}, std::nullopt));
    // systemd's watchdog of 1 min cannot stop a frozen daemon within a 10 s lease.
    auto w = fence_problem(FenceRule{10s, 0.01, 3s, 1s}, std::chrono::microseconds(60s));
    REQUIRE(w);
    CHECK_THAT(*w, Catch::Contains("WatchdogSec="));
    CHECK_FALSE(fence_problem(FenceRule{60s, 0.01, 3s, 1s}, std::chrono::microseconds(20s)));
}

TEST_CASE("the watchdogs docs/fleet.md names for the default lease", "[fleet][fence]")
{
    // TTL 10 s leaves 9.9 - 3.33 - 1 = 5.57 s of a lease frozen just before a
    // renewal: WatchdogSec=3s fits --stop-timeout 1s (3 + 1 + 1 s, as the e2e
    // scenario 24-fleet-frozen runs it), not --stop-timeout 3s (3 + 3 + 1 s),
    // which needs --fleet-ttl 15s.
    CHECK_FALSE(fence_problem(FenceRule{10s, 0.01, 2s, 1s}, std::chrono::microseconds(3s)));
    CHECK(fence_problem(FenceRule{10s, 0.01, 4s, 1s}, std::chrono::microseconds(3s)));
    CHECK_FALSE(fence_problem(FenceRule{15s, 0.01, 4s, 1s}, std::chrono::microseconds(3s)));
    CHECK_FALSE(fence_problem(FenceRule{10s, 0.01, 3s, 1s}, std::chrono::microseconds(2s)));
}
