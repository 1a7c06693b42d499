// Replace, the operation an updater relies on: stop-first (never two
// gateways polling one bot token), a new PID and generation each time, a
// true record afterwards, a gateway brought back when the new one crashes or
// hangs, and concurrent callers joined into one replace.

#include "daemon_helpers.h"

#include <catch2/catch.hpp>

#include <latch>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::dh;
using namespace std::chrono_literals;

namespace {

using Options = std::map<std::string, sdbus::Variant>;

struct Gateway {
    pid_t pid = 0;
    std::uint64_t generation = 0;
};

Gateway current_gateway(ManagerClient& client)
{
    auto s = client.status();
    INFO("state " << field<std::string>(s, "state"));
    REQUIRE(field<std::string>(s, "state") == "running");
    return {static_cast<pid_t>(field<std::uint32_t>(s, "pid")), field<std::uint64_t>(s, "generation")};
}

// Gateways that read `fault` at their start (see the stub's --fault-file),
// ready by READY=1 only: a gateway that crashes right after writing its
// record could otherwise, on a loaded machine, be judged ready (record
// written, lock still held) in the instant before it exits.
TestDaemonOptions breakable_gateways(const TempHome& home, const std::string& fault)
{
    return {.daemon_args = {"--readiness", "notify", "--ready-timeout", "5s", "--restart-delay", "100ms", "--burst",
                            "10", "--drain-timeout", "5s", "--stop-timeout", "2s"},
            .gateway_args = stub_args(home, {"--fault-file", fault, "--drain", "0"})};
}

// The PIDs of every gateway the daemon announced after `from`.
std::vector<pid_t> started_since(BusWatcher& events, std::size_t from)
{
    std::vector<pid_t> out;
    for (auto p : announced_pids(events.since(from)))
        if (p != 0)
            out.push_back(static_cast<pid_t>(p));
    return out;
}

} // namespace

TEST_CASE("100 replaces in a row give a new gateway each time and never two at once", "[daemon][replace]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--drain-timeout", "5s", "--stop-timeout", "2s", "--ready-timeout", "20s"},
                       .gateway_args = stub_args(home, {"--drain", "0"})});
    ManagerClient client(bus);
    Gateway gw = current_gateway(client);
    const Gateway first = gw;
    const std::size_t mark = events.size();
    auto watch = std::make_unique<PidWatch>(gw.pid);
    const std::string marker = home.dir().string();

    constexpr int kRounds = 100;
    for (int i = 0; i < kRounds; ++i) {
        INFO("replace #" << i << " of pid " << gw.pid << ", generation " << gw.generation);
        auto [pid, generation] = client.call_op("Replace", {{"reason", sdbus::Variant("round " + std::to_string(i))}});
        REQUIRE(static_cast<pid_t>(pid) != gw.pid);
        REQUIRE(generation == gw.generation + 1);
        // Stop-first: when the call returns, the old gateway has exited and
        // been reaped, and the record is the new one's.
        REQUIRE(watch->exited());
        REQUIRE(pid_gone(gw.pid));
        Verdict v = validate(home.paths());
        INFO(v.summary);
        REQUIRE(v.kind == VerdictKind::Live);
        REQUIRE(v.record()->pid == static_cast<pid_t>(pid));
        REQUIRE(v.lock.held);
        REQUIRE(live_gateways(marker) == std::vector<pid_t>{static_cast<pid_t>(pid)});
        gw = {static_cast<pid_t>(pid), generation};
        watch = std::make_unique<PidWatch>(gw.pid);
    }

    // The signals tell the same story: one Replaced per call, chained, and
    // the announced gateway PID never jumps from one gateway to the next
    // without passing through "none".
    pid_t prev = first.pid;
    for (int i = 0; i < kRounds; ++i) {
        auto r = events.next_member("Replaced");
        REQUIRE(r);
        CHECK(r->old_pid == static_cast<std::uint32_t>(prev));
        CHECK(r->generation == first.generation + static_cast<std::uint64_t>(i) + 1);
        CHECK(r->reason == "round " + std::to_string(i));
        prev = static_cast<pid_t>(r->new_pid);
    }
    CHECK(prev == gw.pid);
    auto pids = announced_pids(events.since(mark));
    CHECK(pids.size() == 2 * kRounds); // each replace: 0 (old exited), then the new PID
    auto overlap = overlap_in(static_cast<std::uint32_t>(first.pid), pids);
    CHECK_FALSE(overlap);

    // No start ever found the previous gateway's lock or record.
    // (The daemon may call the last one ready a moment before it logs that it runs.)
    std::string log = stub_log_with(home, "Gateway running (pid " + std::to_string(gw.pid) + ")");
    CHECK_FALSE(lost_a_race(log));
    std::size_t starts = 0;
    for (auto at = log.find("Gateway running"); at != std::string::npos; at = log.find("Gateway running", at + 1))
        ++starts;
    CHECK(starts == kRounds + 1);

    // Afterwards the daemon still shuts down cleanly, its gateway with it.
    check_clean_shutdown(daemon, home, gw.pid);
}

TEST_CASE("a replace whose new gateway fails at its start: once is retried within it, each time fails it",
          "[daemon][replace][fault]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    TestDaemon daemon(bus, home, breakable_gateways(home, fault));
    ManagerClient client(bus);
    Gateway old = current_gateway(client);
    PidWatch old_watch(old.pid);
    const std::size_t mark = events.size();
    events.skip_all();

    SECTION("once: the restart at once is part of the replace, which succeeds")
    {
        // As when Hermes' status reader holds its probe flock on gateway.lock
        // just as the new gateway tries to take it: the gateway exits at
        // once, and the next start finds the lock free.
        home.write("fault", "exit 1 once");
        std::string message;
        std::string error = error_of([&] { client.call_op("Replace"); }, &message);
        INFO("error " << error << ": " << message << "\ndaemon log:\n" << daemon.log());
        CHECK(error.empty());
        CHECK_FALSE(std::filesystem::exists(fault)); // the broken start did happen

        Gateway now = current_gateway(client);
        CHECK(now.pid != old.pid);
        auto started = started_since(events, mark);
        REQUIRE(started.size() == 2); // the one that failed, then the one now running
        CHECK(started.back() == now.pid);
        CHECK(daemon.log().find("trying once more before the replace reports it") != std::string::npos);
    }

    SECTION("each time: the replace fails with StartFailed, and a gateway comes back")
    {
        // The fault is read by the next gateway at its start; the running one
        // is not affected.
        home.write("fault", "crash");
        std::string message;
        std::string error = error_of([&] { client.call_op("Replace"); }, &message);
        INFO("error " << error << ": " << message);
        CHECK(error == err("StartFailed"));
        CHECK(message.find("status 3") != std::string::npos);
        ::unlink(fault.c_str());
        CHECK(old_watch.exited()); // the old gateway was stopped first

        // The restart policy brings a gateway back once starts succeed again.
        auto running = events.next_state("running");
        REQUIRE(running);
        Gateway now = current_gateway(client);
        auto started = started_since(events, mark);
        REQUIRE(started.size() >= 2); // at least the crashed one, then the one now running
        CHECK(started.back() == now.pid);
        CHECK(now.generation == old.generation + started.size());
        const pid_t crashed = started.front();
        CHECK(crashed != now.pid);
        CHECK(pid_gone(crashed));

        bool crash_seen = false, record_removed = false;
        for (const auto& e : events.since(mark)) {
            crash_seen |= e.member == "GatewayExited" && e.pid == static_cast<std::uint32_t>(crashed) &&
                          e.code == "exited" && e.status == 3;
            record_removed |= e.member == "PidFileRepaired" && e.stale_pid == static_cast<std::uint32_t>(crashed);
        }
        CHECK(crash_seen);
        CHECK(record_removed); // the crashed gateway's record did not outlive it
        require_live_record(home, now.pid);
        CHECK(live_gateways(home.dir().string()) == std::vector<pid_t>{now.pid});
        CHECK(overlap_in(static_cast<std::uint32_t>(old.pid), announced_pids(events.since(mark))) == std::nullopt);
        CHECK_FALSE(lost_a_race(stub_log(home)));
    }
}

TEST_CASE("a replace whose new gateway never becomes ready fails with Timeout and a gateway comes back",
          "[daemon][replace][fault]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--readiness", "notify", "--ready-timeout", "2s", "--restart-delay", "100ms",
                                       "--drain-timeout", "5s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--fault-file", fault, "--drain", "0"})});
    ManagerClient client(bus);
    Gateway old = current_gateway(client);
    const std::size_t mark = events.size();
    events.skip_all();

    // The next gateway never sends READY=1; only that one: the stub removes
    // the fault as it reads it, so the restart that follows at once cannot
    // find it still there.
    home.write("fault", "hang once");
    auto t0 = Clock::now();
    std::string message;
    std::string error = error_of([&] { client.call_op("Replace"); }, &message);
    auto took = Clock::now() - t0;
    INFO("error " << error << ": " << message);
    CHECK(error == err("Timeout"));
    CHECK(took >= 1900ms); // it waited for the ready timeout
    CHECK_FALSE(std::filesystem::exists(fault));

    auto running = events.next_state("running");
    REQUIRE(running);
    Gateway now = current_gateway(client);
    auto started = started_since(events, mark);
    REQUIRE(started.size() >= 2);
    const pid_t hung = started.front();
    CHECK(hung != now.pid);
    CHECK(hung != old.pid);
    CHECK(pid_gone(hung));
    bool hung_stopped = false;
    for (const auto& e : events.since(mark))
        hung_stopped |= e.member == "GatewayExited" && e.pid == static_cast<std::uint32_t>(hung);
    CHECK(hung_stopped);
    require_live_record(home, now.pid);
    CHECK(live_gateways(home.dir().string()) == std::vector<pid_t>{now.pid});
    CHECK(overlap_in(static_cast<std::uint32_t>(old.pid), announced_pids(events.since(mark))) == std::nullopt);
    CHECK_FALSE(lost_a_race(stub_log(home)));
}

TEST_CASE("concurrent replaces are joined into one new generation", "[daemon][replace][concurrency]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    // A 2 s drain keeps the replace going long enough that all the calls,
    // sent at the same moment, arrive while it runs.
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--drain-timeout", "10s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--drain", "2"})});
    ManagerClient control(bus);
    Gateway old = current_gateway(control);
    const std::size_t mark = events.size();

    constexpr int kCallers = 8;
    std::vector<std::unique_ptr<ManagerClient>> clients;
    for (int i = 0; i < kCallers; ++i)
        clients.push_back(std::make_unique<ManagerClient>(bus));
    struct Outcome {
        std::uint32_t pid = 0;
        std::uint64_t generation = 0;
        std::string error;
    };
    std::vector<Outcome> outcomes(kCallers);
    std::latch go(kCallers);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCallers; ++i) {
        threads.emplace_back([&, i] {
            go.arrive_and_wait();
            // No Catch assertions off the main thread: just record.
            outcomes[i].error = error_of([&] {
                std::tie(outcomes[i].pid, outcomes[i].generation) =
                    clients[i]->call_op("Replace", {{"reason", sdbus::Variant("caller " + std::to_string(i))}});
            });
        });
    }
    for (auto& t : threads)
        t.join();

    for (int i = 0; i < kCallers; ++i) {
        INFO("caller " << i);
        CHECK(outcomes[i].error.empty());
        CHECK(outcomes[i].generation == old.generation + 1);
        CHECK(outcomes[i].pid == outcomes[0].pid);
    }
    Gateway now = current_gateway(control);
    CHECK(now.generation == old.generation + 1); // one replace, not eight
    CHECK(static_cast<std::uint32_t>(now.pid) == outcomes[0].pid);
    CHECK(now.pid != old.pid);
    auto replaced = events.next_member("Replaced");
    REQUIRE(replaced);
    CHECK(replaced->old_pid == static_cast<std::uint32_t>(old.pid));
    CHECK(replaced->new_pid == static_cast<std::uint32_t>(now.pid));
    CHECK(started_since(events, mark) == std::vector<pid_t>{now.pid});
    CHECK(overlap_in(static_cast<std::uint32_t>(old.pid), announced_pids(events.since(mark))) == std::nullopt);
    require_live_record(home, now.pid);
    CHECK(live_gateways(home.dir().string()) == std::vector<pid_t>{now.pid});

    // A caller who saw the old generation is refused, and nothing changes.
    std::string error = error_of(
        [&] { control.call_op("Replace", {{"if_generation", sdbus::Variant(std::uint64_t{old.generation})}}); });
    CHECK(error == err("GenerationMismatch"));
    Gateway same = current_gateway(control);
    CHECK(same.pid == now.pid);
    CHECK(same.generation == now.generation);
    // One who saw the current generation gets a replace.
    auto [pid, generation] =
        control.call_op("Replace", {{"if_generation", sdbus::Variant(std::uint64_t{now.generation})}});
    CHECK(static_cast<pid_t>(pid) != now.pid);
    CHECK(generation == now.generation + 1);
    require_live_record(home, static_cast<pid_t>(pid));
    CHECK_FALSE(lost_a_race(stub_log(home)));

    // Afterwards the daemon still shuts down cleanly, its gateway with it.
    check_clean_shutdown(daemon, home, static_cast<pid_t>(pid));
}

TEST_CASE("a replace whose caller stopped waiting goes on and ends like any replace", "[daemon][replace]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    // The old gateway drains for 1 s; the caller waits 0.2 s of it.
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--drain-timeout", "10s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--drain", "1"})});
    auto& n = daemon.notify();
    ManagerClient client(bus);
    Gateway old = current_gateway(client);
    const std::size_t before = n.size();
    events.skip_all();

    std::string message;
    std::string error = error_of(
        [&] {
            client.call_op("Replace", {{"timeout_usec", sdbus::Variant(std::uint64_t{200'000})},
                                       {"reason", sdbus::Variant(std::string("impatient"))}});
        },
        &message);
    INFO(message);
    CHECK(error == err("Timeout"));

    // "It goes on in the background": the new gateway comes up as the
    // replace's, announced by Replaced, ...
    auto replaced = events.next_member("Replaced");
    REQUIRE(replaced);
    CHECK(replaced->old_pid == static_cast<std::uint32_t>(old.pid));
    CHECK(replaced->reason == "impatient");
    Gateway now = current_gateway(client);
    CHECK(replaced->new_pid == static_cast<std::uint32_t>(now.pid));
    CHECK(now.generation == old.generation + 1);
    require_live_record(home, now.pid);
    // ... the old gateway's exit was the replace's, not a crash to restart from ...
    CHECK(field<std::uint32_t>(client.status(), "restarts") == 0);
    // ... and systemd hears the reload end.
    auto reloading = n.find_text("RELOADING=1", before);
    REQUIRE(reloading);
    CHECK(n.find([](const std::string& m) { return m.find("READY=1") != std::string::npos; }, *reloading + 1));
}
