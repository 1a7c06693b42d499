// Issue 8, items 6 and 13: the restart policy and the joining of replaces.
// A gateway that exits 75 before it was ever ready is a crash (so a loop of
// them ends in `failed`), and systemd's watchdog stops being petted while
// the gateway is not healthy. A Replace that arrives after the replace in
// progress spawned its new gateway gets a gateway spawned after it asked.

#include "fault_helpers.h"

#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <latch>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::fh;
using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& message, const std::string& line)
{
    return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

} // namespace

// ---------------------------------------------------------------- item 6

TEST_CASE("item 6: a gateway that exits 75 at once for ever is a crash loop and ends in failed",
          "[daemon][faults][item6]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    DaemonOptions options = quick({"--burst", "3", "--burst-window", "60s", "--restart-delay", "50ms"},
                                  {"--exit-code", "75"});
    options.wait_ready = false;
    SiteDaemon daemon(bus, site, options);
    ManagerClient client(bus);

    // Today: restarted in a hot loop, never failed.
    auto failed = next_state(events, daemon, "failed");
    INFO("daemon log (tail):\n" << daemon.log().substr(daemon.log().size() > 4000 ? daemon.log().size() - 4000 : 0));
    REQUIRE(failed);
    auto s = try_status(client);
    REQUIRE(s);
    INFO("status: " << describe(*s));
    CHECK(text(*s, "phase") == "failed");
    CHECK_FALSE(text(*s, "failure_reason").empty());
    CHECK(text(*s, "generation") == "4"); // burst + 1 starts
    int exits = 0;
    for (const auto& e : events.since(0)) {
        if (e.member != "GatewayExited")
            continue;
        ++exits;
        CHECK(e.code == "exited");
        CHECK(e.status == 75);
    }
    CHECK(exits == 4);
    // It stays failed: no start over twenty restart delays.
    CHECK_FALSE(events.next(
        [](const BusEvent& e) { return e.member == "StateChanged" || e.member == "GatewayExited"; }, 1s));
    CHECK(site.gateways().empty());
    CHECK(daemon.alive());
}

TEST_CASE("item 6: no WATCHDOG=1 goes to systemd once the gateway has been unhealthy longer than the interval",
          "[daemon][faults][item6][watchdog]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    const auto fault = site.logs() / "fault";
    // systemd's watchdog: 0.4 s. A large burst, so the loop below stays in
    // auto-restart for the whole test instead of reaching failed.
    DaemonOptions options = quick({"--burst", "1000", "--burst-window", "60s", "--restart-delay", "100ms"},
                                  {"--fault-file", fault.string()});
    options.env = {{"WATCHDOG_USEC", "400000"}};
    options.watchdog_pid = true;
    SiteDaemon daemon(bus, site, options);
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);
    auto& n = daemon.notify();
    // Healthy: pings come.
    auto at = n.find([](const std::string& m) { return has_line(m, "WATCHDOG=1"); }, 0);
    REQUIRE(at);

    // From now on every start exits 75 before it is ready.
    std::ofstream(fault) << "exit 75";
    events.skip_all();
    REQUIRE(PidWatch(first).signal(SIGKILL));
    REQUIRE(events.next([&](const BusEvent& e) {
        return e.member == "GatewayExited" && e.pid == static_cast<std::uint32_t>(first);
    }));
    // Pings may go on for one watchdog interval; after two, none may come.
    // (Nothing shows that no ping comes except a span of time.)
    std::this_thread::sleep_for(800ms);
    const std::size_t mark = n.size();
    std::this_thread::sleep_for(1500ms);
    auto msgs = n.messages();
    auto s = try_status(client);
    REQUIRE(s);
    INFO("status: " << describe(*s));
    CHECK(text(*s, "state") != "running"); // still in the loop: the window above was all unhealthy
    CHECK(text(*s, "state") != "failed");
    int pings = 0;
    for (std::size_t i = mark; i < msgs.size(); ++i)
        pings += has_line(msgs[i], "WATCHDOG=1") ? 1 : 0;
    CHECK(pings == 0);

    // Healthy again: the pings resume.
    std::filesystem::remove(fault);
    client.call_op("Start");
    CHECK(n.find([](const std::string& m) { return has_line(m, "WATCHDOG=1"); }, n.size()));
}

// ---------------------------------------------------------------- item 13

TEST_CASE("item 13: a Replace that arrives after the new gateway was spawned gets one spawned after it asked",
          "[daemon][faults][item13][replace]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    // Drains take 1 s and starts 1.5 s (ready on READY=1): wide windows for
    // a call to arrive during the drain, or after the spawn and before ready.
    SiteDaemon daemon(bus, site,
                      quick({"--readiness", "notify", "--drain-timeout", "10s"}, {"--drain", "1", "--start-delay", "1.5"}));
    ManagerClient control(bus);
    const pid_t p0 = require_one_true_gateway(events, daemon, control, site);
    const auto g0 = std::stoull(text(*try_status(control), "generation"));

    struct Call {
        std::unique_ptr<ManagerClient> client;
        std::thread thread;
        std::uint32_t pid = 0;
        std::uint64_t generation = 0;
        std::string error;
    };
    std::vector<Call> calls(4); // A first, D during its drain, B and C after its spawn
    for (auto& c : calls)
        c.client = std::make_unique<ManagerClient>(bus);
    auto launch = [&](Call& c) {
        c.thread = std::thread([&c] {
            c.error = dh::error_of([&] { std::tie(c.pid, c.generation) = c.client->call_op("Replace"); });
        });
    };
    struct JoinAll {
        std::vector<Call>& calls;
        ~JoinAll()
        {
            for (auto& c : calls)
                if (c.thread.joinable())
                    c.thread.join();
        }
    } join_all{calls};
    Call& a = calls[0];
    Call& d = calls[1];
    Call& b = calls[2];
    Call& c = calls[3];

    events.skip_all();
    launch(a);
    REQUIRE(events.next_state("replacing"));
    launch(d); // arrives during the 1 s drain: joins A
    // A's new gateway is spawned (GatewayPID goes from 0 to it) ...
    auto spawned = events.next([&](const BusEvent& e) {
        auto v = e.property("GatewayPID");
        return e.member == "PropertiesChanged" && v && *v != "0" && *v != std::to_string(p0);
    });
    REQUIRE(spawned);
    const auto p1 = static_cast<std::uint32_t>(std::stoul(*spawned->property("GatewayPID")));
    // ... and not ready for 1.5 s: B and C ask now.
    launch(b);
    launch(c);
    for (auto& call : calls)
        call.thread.join();

    INFO("A " << a.pid << "/" << a.generation << " " << a.error << "; D " << d.pid << "/" << d.generation << " "
              << d.error << "; B " << b.pid << "/" << b.generation << " " << b.error << "; C " << c.pid << "/"
              << c.generation << " " << c.error << "; p1 " << p1 << "\ndaemon log:\n"
              << daemon.log());
    CHECK(a.error.empty());
    CHECK(d.error.empty());
    CHECK(b.error.empty());
    CHECK(c.error.empty());
    // A and D: the gateway spawned after they asked.
    CHECK(a.pid == p1);
    CHECK(a.generation == g0 + 1);
    CHECK(d.pid == p1);
    CHECK(d.generation == g0 + 1);
    // B and C: not p1 (spawned before they asked) but one follow-up replace they share.
    CHECK(b.pid != p1);
    CHECK(b.generation == g0 + 2);
    CHECK(c.pid == b.pid);
    CHECK(c.generation == g0 + 2);
    const pid_t now = require_one_true_gateway(events, daemon, control, site);
    CHECK(static_cast<std::uint32_t>(now) == b.pid);
    auto s = try_status(control);
    REQUIRE(s);
    CHECK(text(*s, "generation") == std::to_string(g0 + 2)); // exactly one follow-up
    CHECK_FALSE(dh::lost_a_race(site.stub_log()));
}
