// Issue 8, items 5, 7, 8 and 9: whose gateway is it? A daemon signals only
// its own child or an orphan proven to be a previous daemon's gateway of
// this home; it finds the orphan a killed daemon left before that orphan
// took its lock; it leaves another home's gateway, and another daemon's,
// alone; and it clears what a dead gateway's process group left holding
// gateway.lock before it starts the next one.

#include "fault_helpers.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::fh;
using namespace std::chrono_literals;

namespace {

// The bus has let go of a dead daemon's name (so another may take it).
void wait_name_released(BusWatcher& events)
{
    REQUIRE(events.next([](const BusEvent& e) { return e.member == "NameOwnerChanged" && e.new_owner.empty(); }));
}

// The first GatewayPID the daemon announces that is not 0.
pid_t next_announced_pid(BusWatcher& events)
{
    auto e = events.next([](const BusEvent& ev) {
        auto v = ev.property("GatewayPID");
        return ev.member == "PropertiesChanged" && v && *v != "0";
    });
    return e ? static_cast<pid_t>(std::stoul(*e->property("GatewayPID"))) : 0;
}

} // namespace

// ---------------------------------------------------------------- item 5

TEST_CASE("item 5: a daemon killed between spawning a gateway and its lock leaves an orphan the next daemon stops",
          "[daemon][faults][item5]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    const auto fault = site.logs() / "fault";
    // The first gateway takes 20 s before it takes gateway.lock (a slow
    // interpreter start); the first daemon dies within that time.
    std::ofstream(fault) << "lock-delay 20";
    std::optional<SiteDaemon> first;
    DaemonOptions options = quick({}, {"--fault-file", fault.string()});
    options.wait_ready = false;
    options.name = "first";
    first.emplace(bus, site, options);
    const pid_t orphan_pid = next_announced_pid(events);
    REQUIRE(orphan_pid > 0);
    KillOnExit cleanup(orphan_pid);
    PidWatch orphan(orphan_pid);
    // It read the fault file (it says so) before later gateways may behave.
    const std::string delaying = "pid " + std::to_string(orphan_pid) + ": waiting 20s before taking the lock";
    auto deadline = Clock::now() + kTimeout;
    while (site.stub_log().find(delaying) == std::string::npos && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    REQUIRE(site.stub_log().find(delaying) != std::string::npos);
    std::filesystem::remove(fault);

    first->process().signal(SIGKILL);
    REQUIRE(first->process().wait());
    wait_name_released(events);
    // The orphan lives, holds no lock and has written no record.
    REQUIRE_FALSE(orphan.exited());
    CHECK(validate(site.paths()).kind == VerdictKind::None);

    options.name = "second";
    options.wait_ready = true;
    SiteDaemon second(bus, site, options);
    ManagerClient client(bus);
    // Today: the second daemon finds no record and stops nothing; the orphan
    // takes the lock 20 s after its start. It must be stopped long before.
    INFO("second daemon's log:\n" << second.log() << "\nstub log:\n" << site.stub_log());
    CHECK(orphan.exited(15s));
    CHECK(site.stub_log().find("pid " + std::to_string(orphan_pid) + ": received SIGTERM before taking the lock") !=
          std::string::npos);
    const pid_t now = require_one_true_gateway(events, second, client, site);
    CHECK(now != orphan_pid);
    CHECK_FALSE(dh::lost_a_race(site.stub_log()));
    CHECK(wait_status_text(second.stop()) == "exited 0");
}

// ---------------------------------------------------------------- item 7

TEST_CASE("item 7: a record in home A naming home B's live gateway is stale for A, and B's gateway is never signalled",
          "[daemon][faults][item7]")
{
    Site a, b;
    // B's gateway, run by hand (no daemon): it holds B's lock and record.
    SpawnOptions so;
    so.env["HERMES_HOME"] = b.home().string();
    so.unset_env = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};
    so.output_file = (b.logs() / "gateway.out").string();
    Child b_gateway = Child::spawn(stub_command(b.stub_args()), so);
    // Its record appears once it holds the lock.
    auto deadline = Clock::now() + kTimeout;
    while (validate(b.paths()).kind != VerdictKind::Live && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    REQUIRE(validate(b.paths()).kind == VerdictKind::Live);

    // A copy of B's record in A: right pid, start time and argv; its home
    // rewritten to A's, or absent.
    std::string record = Site::read_file(b.paths().pid_file);
    auto j = nlohmann::json::parse(record);
    const bool rewritten = GENERATE(true, false);
    INFO((rewritten ? "hermes_home rewritten to A" : "hermes_home absent"));
    if (rewritten)
        j["hermes_home"] = a.home().string();
    else
        j.erase("hermes_home");
    a.write("gateway.pid", j.dump());

    SECTION("A's daemon starts its own gateway and removes the record")
    {
        PrivateBus bus;
        BusWatcher events(bus);
        SiteDaemon daemon(bus, a, quick());
        ManagerClient client(bus);
        INFO("A's daemon log:\n" << daemon.log());
        const pid_t mine = require_one_true_gateway(events, daemon, client, a);
        CHECK(mine != b_gateway.pid());
        auto s = try_status(client);
        REQUIRE(s);
        CHECK(text(*s, "generation") == "1"); // its first start succeeded
    }
    SECTION("hermes-gatewayctl pidfile clean removes it")
    {
        RunResult r = run({ctl_path(), "pidfile", "clean", "--home", a.home().string()});
        INFO(r.output);
        CHECK(r.exit_code == 0);
        CHECK_FALSE(std::filesystem::exists(a.paths().pid_file));
    }
    // Never signalled: alive, and it logged no signal.
    CHECK_FALSE(b_gateway.wait_exited_unreaped(0ms));
    CHECK(b.stub_log().find("Received") == std::string::npos);
    Verdict vb = validate(b.paths());
    CHECK(vb.kind == VerdictKind::Live);
    CHECK(vb.record()->pid == b_gateway.pid());
    b_gateway.signal(SIGTERM);
    b_gateway.wait();
}

// ---------------------------------------------------------------- item 8

TEST_CASE("item 8: a second daemon for the same home exits at once with status 1, naming the first, and touches nothing",
          "[daemon][faults][item8]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon first(bus, site, quick());
    ManagerClient client(bus);
    const pid_t gateway = require_one_true_gateway(events, first, client, site);
    PidWatch gw(gateway);
    const std::string record_before = Site::read_file(site.paths().pid_file);
    const std::string lock_before = Site::read_file(site.paths().lock_file);

    const bool other_bus = GENERATE(true, false);
    INFO((other_bus ? "on another bus" : "on the same bus"));
    std::optional<PrivateBus> bus2;
    if (other_bus)
        bus2.emplace();
    DaemonOptions options = quick();
    options.wait_ready = false;
    options.name = "second";
    SiteDaemon second(other_bus ? bus2->address() : bus.address(), site, options);
    auto status = second.process().wait(10s);
    INFO("second daemon: " << wait_status_text(status) << "; its log:\n" << second.log());
    CHECK(wait_status_text(status) == "exited 1");
    const std::string expected = "hermes-gatewayd: another hermes-gatewayd (pid " + std::to_string(first.pid()) +
                                 ") manages " + site.home().string();
    CHECK(second.log().find(expected) != std::string::npos);

    // The first daemon's gateway is untouched: same pid, never signalled,
    // its record and lock as they were.
    CHECK_FALSE(gw.exited());
    CHECK(site.stub_log().find("Received") == std::string::npos);
    CHECK(Site::read_file(site.paths().pid_file) == record_before);
    CHECK(Site::read_file(site.paths().lock_file) == lock_before);
    CHECK(site.gateways() == std::vector<pid_t>{gateway});
    auto s = try_status(client);
    REQUIRE(s);
    CHECK(status_pid(*s) == gateway);
    CHECK(text(*s, "state") == "running");
    CHECK(first.alive());
}

// ---------------------------------------------------------------- item 9

TEST_CASE("item 9: a worker of a dead gateway that kept gateway.lock is cleared before the next start",
          "[daemon][faults][item9]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    const auto worker_file = site.logs() / "worker.pid";
    // Every gateway forks a worker in its own process group that inherits
    // the locked gateway.lock (as multiprocessing's fork mode does).
    SiteDaemon daemon(bus, site,
                      quick({}, {"--fork-worker", "group", "--worker-pid-file", worker_file.string()}));
    ManagerClient client(bus);
    auto [ok, s] = await_status(events, daemon, client, running_ready);
    REQUIRE(ok);
    const pid_t first = status_pid(s);
    const pid_t worker = wait_pid_file(worker_file);
    REQUIRE(worker > 0);
    KillOnExit cleanup(worker);
    PidWatch w(worker);
    std::filesystem::remove(worker_file);

    events.skip_all();
    REQUIRE(PidWatch(first).signal(SIGKILL));
    // Today: the worker keeps the lock and the daemon enters `failed`,
    // naming the dead gateway.
    INFO("daemon log:\n" << daemon.log());
    CHECK(w.exited(kTimeout));
    auto [ok2, s2] = await_status(events, daemon, client,
                                  [&](const Status& st) { return running_ready(st) && status_pid(st) != first; });
    INFO("status: " << describe(s2));
    REQUIRE(ok2);
    const pid_t second = status_pid(s2);
    CHECK(second != first);
    const pid_t worker2 = wait_pid_file(worker_file);
    Verdict v = validate(site.paths());
    CHECK(v.kind == VerdictKind::Live);
    CHECK((v.record() && v.record()->pid == second));
    auto live = site.gateways();
    CHECK(live == (std::vector<pid_t>{std::min(second, worker2), std::max(second, worker2)}));
    CHECK_FALSE(dh::lost_a_race(site.stub_log()));
    CHECK(daemon.alive());
}

TEST_CASE("item 9: a worker that left the dead gateway's session keeping gateway.lock is cleared before the next "
          "start",
          "[daemon][faults][item9]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    const auto worker_file = site.logs() / "worker.pid";
    const auto fault = site.logs() / "fault";
    std::ofstream(fault) << "fork-worker setsid";
    SiteDaemon daemon(bus, site,
                      quick({}, {"--fault-file", fault.string(), "--worker-pid-file", worker_file.string()}));
    ManagerClient client(bus);
    auto [ok, s] = await_status(events, daemon, client, running_ready);
    REQUIRE(ok);
    const pid_t first = status_pid(s);
    const pid_t worker = wait_pid_file(worker_file);
    REQUIRE(worker > 0);
    KillOnExit cleanup(worker);
    PidWatch w(worker);
    std::filesystem::remove(fault); // the next gateway forks no worker

    events.skip_all();
    REQUIRE(PidWatch(first).signal(SIGKILL));
    // The worker is in no process group of ours, but the daemon is the
    // subreaper of what it starts: the orphaned worker became its child, so
    // it is provably the dead gateway's and is stopped. Never `failed`, never
    // a wait on it.
    auto [settled, s2] = await_status(events, daemon, client,
                                      [&](const Status& st) { return running_ready(st) && status_pid(st) != first; });
    INFO("status: " << describe(s2) << "\ndaemon log:\n" << daemon.log());
    REQUIRE(settled);
    CHECK(daemon.alive());
    CHECK(w.exited(kTimeout));
    const pid_t second = require_one_true_gateway(events, daemon, client, site);
    CHECK(second != first);
    CHECK_FALSE(dh::lost_a_race(site.stub_log()));
}
