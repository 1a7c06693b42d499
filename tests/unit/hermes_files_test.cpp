// What the daemon reads of Hermes' own files (issue 9): the takeover marker
// `hermes gateway run --replace` writes, and the start log behind Hermes'
// respawn-storm breaker. Written by others: bad bytes give nothing.

#include "core/hermes_files.h"

#include <catch2/catch.hpp>

using namespace hgw;
using namespace std::chrono_literals;

TEST_CASE("a takeover marker names the old gateway and its replacer", "[hermes-files]")
{
    auto m = parse_takeover_marker(R"({"target_pid": 4242, "target_start_time": 123456, "target_hermes_home": "/h",
        "replacer_pid": 5151, "replacer_hermes_home": "/h", "written_at": "2026-12-07T03:00:00Z"})");
    REQUIRE(m);
    CHECK(m->target_pid == 4242);
    CHECK(m->target_start_time == std::optional<std::uint64_t>(123456));
    CHECK(m->replacer_pid == 5151);

    auto bare = parse_takeover_marker(R"({"target_pid": 7})");
    REQUIRE(bare);
    CHECK_FALSE(bare->target_start_time);
    CHECK(bare->replacer_pid == 0);
}

TEST_CASE("a takeover marker without a usable target is no marker", "[hermes-files]")
{
    for (const char* bad : {"", "{", "[]", "42", R"({"target_pid": "42"})", R"({"target_pid": -1})",
                            R"({"target_pid": 0})", R"({"target_pid": 1e3})", R"({"target_pid": 99999999999})",
                            R"({"replacer_pid": 5})"}) {
        INFO(bad);
        CHECK_FALSE(parse_takeover_marker(bad));
    }
}

TEST_CASE("the start log reads one epoch time a line and skips the rest", "[hermes-files]")
{
    auto starts = parse_starts_log("1765000000.25\n\ngarbage\n1765000010\n-5\nnan\ninf\n1765000020.5");
    CHECK(starts == std::vector<double>{1765000000.25, 1765000010, 1765000020.5});
    CHECK(parse_starts_log("").empty());
}

TEST_CASE("the storm breaker sleeps from the sixth start within the window, doubling to 300 s", "[hermes-files]")
{
    const double now = 1'765'000'000;
    auto starts = [&](int n) {
        std::vector<double> v;
        for (int i = 0; i < n; ++i)
            v.push_back(now - i);
        return v;
    };
    const StormRule rule;
    CHECK(storm_backoff(starts(5), now, rule) == 0s);
    CHECK(storm_backoff(starts(6), now, rule) == 10s);
    CHECK(storm_backoff(starts(7), now, rule) == 20s);
    CHECK(storm_backoff(starts(8), now, rule) == 40s);
    CHECK(storm_backoff(starts(9), now, rule) == 80s);
    CHECK(storm_backoff(starts(10), now, rule) == 160s);
    CHECK(storm_backoff(starts(11), now, rule) == 300s);
    CHECK(storm_backoff(starts(40), now, rule) == 300s);

    SECTION("starts older than the window do not count")
    {
        std::vector<double> old = starts(5);
        for (int i = 0; i < 10; ++i)
            old.push_back(now - 121 - i);
        CHECK(storm_backoff(old, now, rule) == 0s);
    }
    SECTION("the gateway's own variables: a smaller limit, a shorter window, or off")
    {
        CHECK(storm_backoff(starts(3), now, StormRule{2, 120}) == 10s);
        CHECK(storm_backoff(starts(6), now + 60, StormRule{5, 30}) == 0s);
        CHECK(storm_backoff(starts(40), now, StormRule{0, 120}) == 0s);
    }
}
