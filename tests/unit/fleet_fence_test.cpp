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
