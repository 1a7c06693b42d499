// The restart policy alone, with the clock passed in.

#include "daemon/restart_policy.h"

#include <catch2/catch.hpp>

using namespace hgw::daemon;
using namespace std::chrono_literals;
using Kind = RestartDecision::Kind;

namespace {

RestartLimits limits()
{
    RestartLimits l;
    l.delay = 1s;
    l.delay_max = 8s;
    l.burst = 5;
    l.burst_window = 120s;
    return l;
}

constexpr std::uint64_t kSecond = 1'000'000;

} // namespace

TEST_CASE("the first crash after a healthy run restarts at once, then the back-off doubles up to its cap")
{
    RestartLimits l = limits();
    l.burst = 100;
    RestartPolicy p(l);
    std::uint64_t t = 1000 * kSecond;
    auto d = p.on_exit(ExitClass::Crash, t);
    CHECK(d.kind == Kind::Now);
    std::vector<std::chrono::microseconds> delays;
    for (int i = 0; i < 6; ++i) {
        t += 10 * kSecond;
        d = p.on_exit(ExitClass::Crash, t);
        REQUIRE(d.kind == Kind::After);
        delays.push_back(d.delay);
    }
    CHECK(delays == std::vector<std::chrono::microseconds>{1s, 2s, 4s, 8s, 8s, 8s});
}

TEST_CASE("readiness resets the back-off but not the burst count")
{
    RestartPolicy p(limits());
    std::uint64_t t = 1000 * kSecond;
    p.on_exit(ExitClass::Crash, t);
    CHECK(p.on_exit(ExitClass::Crash, t + kSecond).kind == Kind::After);
    p.on_ready();
    CHECK(p.on_exit(ExitClass::Crash, t + 2 * kSecond).kind == Kind::Now);
    CHECK(p.consecutive_crashes() == 1);
}

TEST_CASE("more crashes than the burst within the window fail, older ones fall out of the window")
{
    RestartPolicy p(limits());
    std::uint64_t t = 1000 * kSecond;
    for (int i = 0; i < 5; ++i) {
        CHECK(p.on_exit(ExitClass::Crash, t) .kind != Kind::Fail);
        p.on_ready();
        t += 10 * kSecond;
    }
    auto d = p.on_exit(ExitClass::Crash, t);
    CHECK(d.kind == Kind::Fail);
    CHECK(d.why.find("crashed 6 times within 120s") != std::string::npos);

    RestartPolicy q(limits());
    t = 1000 * kSecond;
    for (int i = 0; i < 5; ++i) {
        q.on_exit(ExitClass::Crash, t);
        q.on_ready();
        t += 30 * kSecond; // the sixth comes 150 s after the first
    }
    CHECK(q.on_exit(ExitClass::Crash, t).kind != Kind::Fail);
}

TEST_CASE("exit 75 after readiness restarts at once and is no crash, exit 78 fails at once")
{
    RestartPolicy p(limits());
    std::uint64_t t = 1000 * kSecond;
    for (int i = 0; i < 50; ++i)
        CHECK(p.on_exit(ExitClass::RestartMe, t + static_cast<std::uint64_t>(i)).kind == Kind::Now);
    auto d = p.on_exit(ExitClass::ConfigError, t + 100);
    CHECK(d.kind == Kind::Fail);
    CHECK(d.why.find("configuration error") != std::string::npos);
}

TEST_CASE("reset forgets the crash history")
{
    RestartPolicy p(limits());
    std::uint64_t t = 1000 * kSecond;
    for (int i = 0; i < 5; ++i)
        p.on_exit(ExitClass::Crash, t + static_cast<std::uint64_t>(i));
    p.reset();
    CHECK(p.on_exit(ExitClass::Crash, t + 10).kind == Kind::Now);
}
