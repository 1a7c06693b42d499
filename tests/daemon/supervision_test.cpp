// Supervision by hermes-gatewayd, against a real dbus-daemon and real
// processes: crashes of the gateway and of the daemon itself, the restart
// policy (75, 78, crash loops), Stop, stale records at start-up and the
// write-pidfile mode. Outcomes are read from the process table, the files
// (judged by hgw::validate, which reads the flock from /proc/locks), the
// daemon's D-Bus replies and the signals it sends.

#include "daemon_helpers.h"

#include "core/instance_lock.h"
#include "core/pid_record.h"
#include "core/record_file.h"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <optional>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::dh;
using namespace std::chrono_literals;

namespace {

struct Running {
    pid_t pid = 0;
    std::uint64_t generation = 0;
    std::uint32_t restarts = 0;
};

Running running_gateway(ManagerClient& client)
{
    auto s = client.status();
    INFO("state " << field<std::string>(s, "state"));
    REQUIRE(field<std::string>(s, "state") == "running");
    REQUIRE(field<bool>(s, "ready"));
    Running r;
    r.pid = static_cast<pid_t>(field<std::uint32_t>(s, "pid"));
    r.generation = field<std::uint64_t>(s, "generation");
    r.restarts = field<std::uint32_t>(s, "restarts");
    REQUIRE(r.pid > 0);
    return r;
}

bool is_exit_of(const BusEvent& e, pid_t pid)
{
    return e.member == "GatewayExited" && e.pid == static_cast<std::uint32_t>(pid);
}

// A record as Hermes writes it, naming `pid`.
std::string hermes_record(pid_t pid, std::uint64_t start_time, const TempHome& home)
{
    return "{\"pid\": " + std::to_string(pid) + ", \"kind\": \"hermes-gateway\", \"argv\": [\"" +
           source_path("tests/stub/hermes") + "\", \"gateway\", \"run\"], \"start_time\": " +
           std::to_string(start_time) + ", \"hermes_home\": \"" + home.dir().string() + "\"}";
}

// Continues a SIGSTOPped daemon even when an assertion leaves the test early.
struct ContinueOnExit {
    Child& daemon;
    ~ContinueOnExit() { daemon.signal(SIGCONT); }
};

} // namespace

TEST_CASE("a gateway killed with SIGKILL is followed by a new one whose record is true", "[daemon][supervision]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--restart-delay", "100ms", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home)});
    ManagerClient client(bus);

    Running before = running_gateway(client);
    require_live_record(home, before.pid);
    PidWatch old(before.pid);
    const std::size_t mark = events.size();
    events.skip_all();

    REQUIRE(old.signal(SIGKILL));
    auto exited = events.next([&](const BusEvent& e) { return is_exit_of(e, before.pid); });
    REQUIRE(exited);
    CHECK(exited->code == "killed");
    CHECK(exited->status == SIGKILL);
    REQUIRE(events.next_state("running"));

    Running after = running_gateway(client);
    CHECK(after.pid != before.pid);
    CHECK(after.generation == before.generation + 1);
    CHECK(after.restarts == before.restarts + 1);
    auto s = client.status();
    CHECK(field<std::string>(s, "last_exit_kind") == "killed");
    CHECK(field<std::int32_t>(s, "last_exit_status") == SIGKILL);

    // The killed gateway is gone and reaped; its record was removed by the
    // daemon (a killed gateway cannot remove it itself) ...
    CHECK(old.exited());
    CHECK(pid_gone(before.pid));
    bool repaired = false;
    for (const auto& e : events.since(mark))
        repaired |= e.member == "PidFileRepaired" && e.stale_pid == static_cast<std::uint32_t>(before.pid);
    CHECK(repaired);
    // ... so the new one started cleanly, and its record is true.
    require_live_record(home, after.pid);
    CHECK(live_gateways(home.dir().string()) == std::vector<pid_t>{after.pid});
    const std::string running = "Gateway running (pid " + std::to_string(after.pid) + ")";
    std::string log = stub_log_with(home, running);
    CHECK(log.find(running) != std::string::npos);
    CHECK_FALSE(lost_a_race(log));
}

TEST_CASE("a new daemon ends the gateway a SIGKILLed daemon left and runs exactly one", "[daemon][supervision]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    bool orphan_ignores_term = false;
    SECTION("the orphan obeys SIGTERM") {}
    SECTION("the orphan ignores SIGTERM and must be killed")
    {
        orphan_ignores_term = true;
        home.write("fault", "ignore-term");
    }
    TestDaemonOptions options{.daemon_args = {"--stop-timeout", "1s", "--kill-timeout", "5s"},
                              .gateway_args = stub_args(home, {"--fault-file", fault}),
                              .name = "first"};

    // Kept until the end of the test: a TestDaemon going away ends the live
    // gateway of its home, which must be the orphan's business of the second
    // daemon here, and then that daemon's own gateway.
    std::optional<TestDaemon> first;
    first.emplace(bus, home, options);
    pid_t orphan_pid = 0;
    {
        ManagerClient client(bus);
        orphan_pid = running_gateway(client).pid;
    }
    ::unlink(fault.c_str()); // the next gateway behaves
    PidWatch orphan(orphan_pid);
    events.skip_all();

    first->process().signal(SIGKILL);
    REQUIRE(first->process().wait());
    // The bus lets go of the dead daemon's name before another may take it.
    REQUIRE(events.next([](const BusEvent& e) { return e.member == "NameOwnerChanged" && e.new_owner.empty(); }));
    // Nobody ends the orphan for us: it runs on, its record still true.
    CHECK_FALSE(orphan.exited());
    require_live_record(home, orphan_pid);
    const std::size_t mark = events.size();

    options.name = "second";
    TestDaemon second(bus, home, options);
    // The second daemon says READY=1 only once its own gateway is ready, and
    // it ends the orphan before it starts that one.
    CHECK(orphan.exited());
    ManagerClient client(bus);
    Running now = running_gateway(client);
    CHECK(now.pid != orphan_pid);
    CHECK(now.generation == 1);
    require_live_record(home, now.pid);
    CHECK(live_gateways(home.dir().string()) == std::vector<pid_t>{now.pid});
    CHECK_FALSE(lost_a_race(stub_log(home)));
    if (orphan_ignores_term) {
        // Killed by SIGKILL, the orphan left its record: the daemon removed it.
        bool repaired = false;
        for (const auto& e : events.since(mark))
            repaired |= e.member == "PidFileRepaired" && e.verdict == "stale" &&
                        e.stale_pid == static_cast<std::uint32_t>(orphan_pid);
        CHECK(repaired);
    }

    // Afterwards the daemon still shuts down cleanly, its gateway with it.
    check_clean_shutdown(second, home, now.pid);
}

TEST_CASE("exit 75 restarts the gateway at once without counting as a crash", "[daemon][supervision][policy]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    // One crash within the window is tolerated, a second one enters failed:
    // three exits 75 in a row must not get there.
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--burst", "1", "--burst-window", "60s", "--restart-delay", "100ms"},
                       .gateway_args = stub_args(home, {"--drain", "0"})});
    ManagerClient client(bus);
    Running current = running_gateway(client);

    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        PidWatch gw(current.pid);
        events.skip_all();
        REQUIRE(gw.signal(SIGUSR1));
        auto exited = events.next([&](const BusEvent& e) { return is_exit_of(e, current.pid); });
        REQUIRE(exited);
        CHECK(exited->code == "exited");
        CHECK(exited->status == 75);
        auto starting = events.next_state("starting");
        REQUIRE(starting);
        CHECK(starting->reason.find("status 75") != std::string::npos);
        REQUIRE(events.next_state("running"));
        Running next = running_gateway(client);
        CHECK(next.pid != current.pid);
        CHECK(next.generation == current.generation + 1);
        require_live_record(home, next.pid);
        current = next;
    }

    // Control: the same policy does count real crashes, so the rounds above
    // proved something. One kill -9 is tolerated, the second one is not.
    events.skip_all();
    REQUIRE(PidWatch(current.pid).signal(SIGKILL));
    REQUIRE(events.next_state("running"));
    Running after_crash = running_gateway(client);
    REQUIRE(PidWatch(after_crash.pid).signal(SIGKILL));
    auto failed = events.next_state("failed");
    REQUIRE(failed);
    CHECK(failed->reason.find("crashed 2 times") != std::string::npos);
    CHECK_FALSE(lost_a_race(stub_log(home)));
}

TEST_CASE("exit 78 enters failed without a restart and Start works once the fault is gone",
          "[daemon][supervision][policy]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--restart-delay", "100ms", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--fault-file", fault})});
    ManagerClient client(bus);
    Running before = running_gateway(client);

    // The crash restarts the gateway at once; the new one finds a
    // configuration error (exit 78), which must not be retried.
    home.write("fault", "exit 78");
    events.skip_all();
    REQUIRE(PidWatch(before.pid).signal(SIGKILL));
    auto failed = events.next_state("failed");
    REQUIRE(failed);
    INFO("reason: " << failed->reason);
    CHECK(failed->reason.find("status 78") != std::string::npos);

    auto s = client.status();
    CHECK(field<std::string>(s, "state") == "failed");
    CHECK(field<std::string>(s, "failure_reason").find("78") != std::string::npos);
    CHECK(field<std::string>(s, "last_exit_kind") == "exited");
    CHECK(field<std::int32_t>(s, "last_exit_status") == 78);
    CHECK(field<std::uint32_t>(s, "pid") == 0);
    const auto failed_generation = field<std::uint64_t>(s, "generation");
    CHECK(failed_generation == before.generation + 1); // the one start that exited 78

    // No restart follows: nothing happens over ten restart delays.
    auto more = events.next(
        [](const BusEvent& e) { return e.member == "StateChanged" || e.member == "GatewayExited"; }, 1s);
    CHECK_FALSE(more);
    CHECK(live_gateways(home.dir().string()).empty());
    CHECK(validate(home.paths()).kind == VerdictKind::None);

    ::unlink(fault.c_str());
    auto [pid, generation] = client.call_op("Start");
    CHECK(generation == failed_generation + 1);
    require_live_record(home, static_cast<pid_t>(pid));
    CHECK(running_gateway(client).pid == static_cast<pid_t>(pid));
    CHECK_FALSE(lost_a_race(stub_log(home)));
}

TEST_CASE("a crash loop enters failed instead of looping and Start recovers", "[daemon][supervision][policy]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    // Each start writes its record, then exits 3 without removing it (as
    // --crash-at-start): a daemon that did not clean up would see every
    // later start lose the PID-file race and exit 1 instead.
    home.write("fault", "crash");
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--burst", "3", "--burst-window", "60s", "--restart-delay", "50ms"},
                       .gateway_args = stub_args(home, {"--fault-file", fault}),
                       .wait_ready = false});
    ManagerClient client(bus);

    auto failed = events.next_state("failed");
    REQUIRE(failed);
    INFO("reason: " << failed->reason);
    CHECK(failed->reason.find("crashed 4 times") != std::string::npos);
    auto s = client.status();
    CHECK(field<std::string>(s, "state") == "failed");
    CHECK(field<std::string>(s, "failure_reason").find("crashed") != std::string::npos);
    CHECK(field<std::uint64_t>(s, "generation") == 4); // burst + 1 starts, no more

    int exits = 0;
    for (const auto& e : events.since(0)) {
        if (e.member != "GatewayExited")
            continue;
        ++exits;
        CHECK(e.code == "exited");
        CHECK(e.status == 3); // a crash, never a lost race (exit 1)
    }
    CHECK(exits == 4);

    // It stays failed: no start over twenty restart delays.
    CHECK_FALSE(events.next(
        [](const BusEvent& e) { return e.member == "StateChanged" || e.member == "GatewayExited"; }, 1s));
    CHECK(live_gateways(home.dir().string()).empty());
    CHECK(validate(home.paths()).kind == VerdictKind::None); // every crash's record was removed
    CHECK_FALSE(lost_a_race(stub_log(home)));

    ::unlink(fault.c_str());
    auto [pid, generation] = client.call_op("Start");
    CHECK(generation == 5);
    require_live_record(home, static_cast<pid_t>(pid));
    CHECK(running_gateway(client).pid == static_cast<pid_t>(pid));

    // Afterwards the daemon still shuts down cleanly, its gateway with it.
    check_clean_shutdown(daemon, home, static_cast<pid_t>(pid));
}

TEST_CASE("Stop ends the gateway and removes its record and Start works again", "[daemon][supervision][stop]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    TestDaemon daemon(bus, home, {.daemon_args = {"--stop-timeout", "2s"}, .gateway_args = stub_args(home)});
    ManagerClient client(bus);
    Running before = running_gateway(client);
    PidWatch gw(before.pid);
    events.skip_all();

    client.stop({{"reason", sdbus::Variant(std::string("maintenance"))}});
    // Stop answers once the gateway has exited, been reaped, and its record is gone.
    CHECK(gw.exited());
    CHECK(pid_gone(before.pid));
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::None);
    CHECK_FALSE(v.lock.held);
    {
        auto lock = InstanceLock::try_acquire(home.paths().lock_file);
        CHECK(lock.has_value()); // nobody holds gateway.lock
    }
    auto s = client.status();
    CHECK(field<std::string>(s, "state") == "stopped");
    CHECK(field<std::uint32_t>(s, "pid") == 0);
    CHECK_FALSE(field<bool>(s, "ready"));
    auto stopping = events.next_state("stopping");
    REQUIRE(stopping);
    CHECK(stopping->reason == "maintenance");
    auto exited = events.next([&](const BusEvent& e) { return is_exit_of(e, before.pid); });
    REQUIRE(exited);
    CHECK(exited->code == "exited");
    CHECK(exited->status == 0); // SIGTERM: a clean shutdown
    CHECK(live_gateways(home.dir().string()).empty());

    client.stop(); // stopping a stopped gateway succeeds
    auto [pid, generation] = client.call_op("Start");
    CHECK(static_cast<pid_t>(pid) != before.pid);
    CHECK(generation == before.generation + 1);
    require_live_record(home, static_cast<pid_t>(pid));
    CHECK_FALSE(lost_a_race(stub_log(home)));
}

TEST_CASE("a gateway ignoring SIGTERM is SIGKILLed after the stop timeout", "[daemon][supervision][stop]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--stop-timeout", "1s"}, .gateway_args = stub_args(home, {"--ignore-sigterm"})});
    ManagerClient client(bus);
    Running before = running_gateway(client);
    PidWatch gw(before.pid);
    events.skip_all();

    auto t0 = Clock::now();
    client.stop();
    auto took = Clock::now() - t0;
    CHECK(took >= 900ms); // SIGTERM was ignored for the whole stop timeout
    CHECK(gw.exited());
    CHECK(pid_gone(before.pid));
    auto exited = events.next([&](const BusEvent& e) { return is_exit_of(e, before.pid); });
    REQUIRE(exited);
    CHECK(exited->code == "killed");
    CHECK(exited->status == SIGKILL);
    // A SIGKILLed gateway leaves its record; Stop returned only after the
    // daemon removed it.
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::None);
    CHECK_FALSE(v.lock.held);
    CHECK(field<std::string>(client.status(), "state") == "stopped");

    auto [pid, generation] = client.call_op("Start");
    CHECK(generation == before.generation + 1);
    require_live_record(home, static_cast<pid_t>(pid));
    CHECK_FALSE(lost_a_race(stub_log(home)));
}

TEST_CASE("a record left by a dead gateway is cleaned at daemon start", "[daemon][supervision][stale]")
{
    TempHome home;
    PrivateBus bus;
    pid_t dead = 0;
    {
        Child gone = Child::spawn({"/bin/true"});
        REQUIRE(gone.wait());
        dead = gone.pid(); // reaped: no process has this PID now
    }
    std::string record = hermes_record(dead, 12345, home);
    home.write("gateway.pid", record);
    home.write("gateway.lock", record);
    REQUIRE(validate(home.paths()).kind == VerdictKind::Stale);

    BusWatcher events(bus);
    TestDaemon daemon(bus, home, {.daemon_args = {"--stop-timeout", "2s"}, .gateway_args = stub_args(home)});
    auto repaired = events.next_member("PidFileRepaired");
    REQUIRE(repaired);
    CHECK(repaired->verdict == "stale");
    CHECK(repaired->stale_pid == static_cast<std::uint32_t>(dead));

    ManagerClient client(bus);
    Running now = running_gateway(client);
    CHECK(now.generation == 1); // the first start succeeded
    require_live_record(home, now.pid);
    const std::string running = "Gateway running (pid " + std::to_string(now.pid) + ")";
    std::string log = stub_log_with(home, running);
    CHECK(log.find(running) != std::string::npos);
    CHECK_FALSE(lost_a_race(log));
}

TEST_CASE("a record naming a live process that is no gateway is cleaned and the process left alone",
          "[daemon][supervision][stale]")
{
    TempHome home;
    PrivateBus bus;
    // PID reuse: the record's PID now belongs to some other program.
    Child other = Child::spawn({"/bin/sleep", "120"});
    auto start_time = read_start_time(other.pid());
    REQUIRE(start_time);
    std::string record = hermes_record(other.pid(), *start_time, home);
    home.write("gateway.pid", record);
    home.write("gateway.lock", record);

    BusWatcher events(bus);
    TestDaemon daemon(bus, home, {.daemon_args = {"--stop-timeout", "2s"}, .gateway_args = stub_args(home)});
    auto repaired = events.next_member("PidFileRepaired");
    REQUIRE(repaired);
    CHECK(repaired->verdict == "stale");
    CHECK(repaired->stale_pid == static_cast<std::uint32_t>(other.pid()));
    CHECK_FALSE(other.wait_exited_unreaped(0ms)); // never signalled

    ManagerClient client(bus);
    Running now = running_gateway(client);
    require_live_record(home, now.pid);
    CHECK_FALSE(lost_a_race(stub_log(home)));
}

TEST_CASE("with --write-pidfile the daemon writes the record and the gateway holds the lock",
          "[daemon][supervision][write-pidfile]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--write-pidfile", "--restart-delay", "100ms", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--no-pidfile"})});
    ManagerClient client(bus);
    Running first = running_gateway(client);

    auto check_record = [&](const Running& gw) {
        RecordFile f = read_record_file(home.paths().pid_file);
        REQUIRE(f.status == FileStatus::Record);
        const PidRecord& rec = *f.record;
        CHECK(rec.pid == gw.pid);
        CHECK(rec.kind == std::optional<std::string>("hermes-gateway"));
        CHECK(rec.start_time == read_start_time(gw.pid));
        REQUIRE(rec.manager);
        CHECK(rec.manager->pid == daemon.pid());
        CHECK(rec.manager->name == "hermes-gatewayd");
        CHECK(rec.manager->generation == std::optional<std::uint64_t>(gw.generation));
        // gateway.lock carries the same record, as Hermes' does.
        auto lock_rec = parse_record(home.read("gateway.lock"));
        REQUIRE(lock_rec.record);
        CHECK(lock_rec.record->pid == gw.pid);
        require_live_record(home, gw.pid);
    };
    check_record(first);

    // The lock is the gateway's alone: with the daemon frozen, the
    // gateway's death must free it at once.
    events.skip_all();
    {
        daemon.process().signal(SIGSTOP);
        ContinueOnExit resume{daemon.process()};
        PidWatch gw(first.pid);
        REQUIRE(gw.signal(SIGKILL));
        REQUIRE(gw.exited(kTimeout));
        Verdict v = validate(home.paths());
        CHECK_FALSE(v.lock.held);
        CHECK(v.kind == VerdictKind::Stale); // the record is still there, naming the dead gateway
    }
    auto repaired = events.next_member("PidFileRepaired");
    REQUIRE(repaired);
    CHECK(repaired->stale_pid == static_cast<std::uint32_t>(first.pid));
    REQUIRE(events.next_state("running"));

    Running second = running_gateway(client);
    CHECK(second.pid != first.pid);
    CHECK(second.generation == first.generation + 1);
    check_record(second);
    CHECK(live_gateways(home.dir().string()) == std::vector<pid_t>{second.pid});
}
