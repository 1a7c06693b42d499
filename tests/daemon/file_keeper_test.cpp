// Issue 9, item 2: a tool deleting the gateway's files in a loop gets a
// rate-limited daemon, never a busy loop: a burst of 100 repairs, then 100
// a second, reported once; and the files are true again once it stops.

#include "fault_helpers.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::fh;
using namespace std::chrono_literals;

namespace {

std::size_t count(const std::string& text, const std::string& what)
{
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

} // namespace

TEST_CASE("a tool deleting gateway.pid in a loop gets rate-limited repairs, and the record is true once it stops",
          "[daemon][issue9][repair]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {}));
    ManagerClient client(bus);
    const pid_t gateway = require_one_true_gateway(events, daemon, client, site);

    // Deletes it as fast as it can for 3 s.
    std::atomic<long> deletions{0};
    const auto pid_file = site.paths().pid_file;
    std::thread deleter([&] {
        const auto until = std::chrono::steady_clock::now() + 3s;
        while (std::chrono::steady_clock::now() < until)
            if (::unlink(pid_file.c_str()) == 0)
                ++deletions;
    });
    deleter.join();
    INFO(deletions << " deletions; daemon log:\n" << daemon.log());
    REQUIRE(deletions > 100); // it did put it back, over and over

    // Back, true, once the deleter has stopped: at most a second later, plus
    // generous slack.
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    Verdict v = validate(site.paths());
    while ((v.kind != VerdictKind::Live || !v.record() || v.record()->pid != gateway) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        v = validate(site.paths());
    }
    CHECK(v.kind == VerdictKind::Live);
    CHECK((v.record() && v.record()->pid == gateway));

    const std::string log = daemon.log();
    const std::size_t repairs = count(log, "published the gateway's record again");
    // A burst of 100, then 100 a second over 3 s (and one at the end);
    // unlimited, a repair a few syscalls long would come thousands of times
    // a second.
    CHECK(repairs >= 100);
    CHECK(repairs <= 450);
    CHECK(count(log, "something keeps deleting the gateway's files") == 1);
    CHECK(daemon.alive());
    CHECK(status_pid(*try_status(client)) == gateway);
}
