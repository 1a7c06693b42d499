// hermes-gatewayd and its bus (issue 8): the daemon survives losing the bus
// (item 2) and a bus name someone else owns (item 14), and the bus shows the
// state machine (Phase, Job, and the new GetStatus keys). A real
// dbus-daemon, the real daemon binary and the stub gateway throughout.
//
// A connection whose event-loop thread runs (BusWatcher) must be gone
// before its bus is stopped: sdbus-c++ 1.2 ends the process when that
// thread's connection fails. Plain clients (ManagerClient) only go stale.

#include "daemon_helpers.h"

#include "dbus/bus_errors.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::dh;
using namespace std::chrono_literals;

namespace {

// The longest the daemon waits between two attempts (10 s), and then some.
constexpr milliseconds kReconnectTimeout = 25s;

bool name_has_owner(const PrivateBus& bus)
{
    auto connection = bus.connect();
    auto driver = sdbus::createProxy(*connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    bool owned = false;
    driver->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(std::string(HGW_BUS_NAME))
        .storeResultsTo(owned);
    return owned;
}

// Waits until the daemon's name has an owner on `bus`: true at once if it
// has one, else on its NameOwnerChanged.
bool wait_for_name(const PrivateBus& bus, milliseconds timeout = kReconnectTimeout)
{
    BusWatcher events(bus); // subscribed before the look, so nothing falls between
    if (name_has_owner(bus))
        return true;
    return events
        .next([](const BusEvent& e) { return e.member == "NameOwnerChanged" && !e.new_owner.empty(); }, timeout)
        .has_value();
}

std::uint32_t status_pid(ManagerClient& client) { return field<std::uint32_t>(client.status(), "pid"); }

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 && proc_state(pid) != 'Z'; }

std::vector<std::string> property_values(const std::vector<BusEvent>& events, const std::string& name)
{
    std::vector<std::string> values;
    for (const auto& e : events)
        if (e.member == "PropertiesChanged")
            if (auto v = e.property(name))
                values.push_back(*v);
    return values;
}

bool contains_in_order(const std::vector<std::string>& values, const std::vector<std::string>& wanted)
{
    std::size_t at = 0;
    for (const auto& v : values)
        if (at < wanted.size() && v == wanted[at])
            ++at;
    return at == wanted.size();
}

std::string joined(const std::vector<std::string>& values)
{
    std::string out;
    for (const auto& v : values)
        out += (out.empty() ? "" : " ") + v;
    return out;
}

RunResult ctl(const PrivateBus& bus, const std::vector<std::string>& args)
{
    std::vector<std::string> argv = {ctl_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--address");
    argv.push_back(bus.address());
    return run(argv);
}

} // namespace

TEST_CASE("item 2: the bus restarted under a running daemon: same gateway throughout, served again on the new bus",
          "[daemon][dbus][bus-session][issue8]")
{
    TempHome home;
    PrivateBus bus;
    GatewayDaemon daemon(bus, home, quick({}, stub_args(home)));
    const std::string marker = home.dir().string();

    pid_t gateway = 0;
    {
        ManagerClient client(bus);
        gateway = static_cast<pid_t>(status_pid(client));
    }
    REQUIRE(gateway > 0);
    PidWatch watch(gateway);

    for (int sig : {SIGTERM, SIGKILL}) { // a clean restart, then a crash that leaves the socket behind
        INFO("dbus-daemon ended by signal " << sig);
        bus.stop(sig);
        // A second with no bus at all: the daemon retries (100, 200, 400 ms ...)
        // and supervises meanwhile.
        std::this_thread::sleep_for(1s);
        CHECK(alive(daemon.pid()));
        CHECK_FALSE(watch.exited());
        require_live_record(home, gateway);

        bus.start();
        INFO("daemon log:\n" << daemon.log());
        REQUIRE(wait_for_name(bus));
        CHECK(alive(daemon.pid()));
        CHECK_FALSE(watch.exited());

        ManagerClient client(bus);
        auto status = client.status();
        CHECK(field<std::uint32_t>(status, "pid") == static_cast<std::uint32_t>(gateway));
        CHECK(field<std::string>(status, "state") == "running");
        CHECK(field<std::uint32_t>(status, "daemon_pid") == static_cast<std::uint32_t>(daemon.pid()));
        CHECK(live_gateways(marker) == std::vector<pid_t>{gateway});
        require_live_record(home, gateway);
    }

    const std::string log = daemon.log();
    INFO("daemon log:\n" << log);
    CHECK_THAT(log, Catch::Contains("lost the connection to the bus at " + bus.address()));
    CHECK_THAT(log, Catch::Contains("connected to the bus at " + bus.address() + " again"));
    CHECK_THAT(log, Catch::Contains("serving " HGW_BUS_NAME " on the bus at " + bus.address() + " again"));

    // The object on the new connection works: methods, and signals.
    BusWatcher events(bus);
    ManagerClient client(bus);
    auto [new_pid, generation] = client.call_op("Replace", {{"reason", sdbus::Variant(std::string("after-bus"))}});
    CHECK(new_pid != static_cast<std::uint32_t>(gateway));
    CHECK(watch.exited());
    auto replaced = events.next_member("Replaced");
    REQUIRE(replaced);
    CHECK(replaced->new_pid == new_pid);
    CHECK(replaced->generation == generation);
    CHECK(live_gateways(marker) == std::vector<pid_t>{static_cast<pid_t>(new_pid)});
    check_clean_shutdown(daemon, home, static_cast<pid_t>(new_pid));
}

TEST_CASE("item 2: a replace under way when the bus goes: the daemon neither crashes nor orphans a gateway",
          "[daemon][dbus][bus-session][issue8]")
{
    TempHome home;
    PrivateBus bus;
    // A gateway that drains for 2 s: the bus goes while the replace runs,
    // with the caller's message held by the supervisor's completion.
    GatewayDaemon daemon(bus, home, quick({"--drain-timeout", "10s"}, stub_args(home, {"--drain", "2"})));
    const std::string marker = home.dir().string();
    std::uint32_t old_pid = 0;
    {
        ManagerClient client(bus);
        old_pid = status_pid(client);
    }

    SpawnOptions quiet;
    quiet.capture_output = true;
    std::optional<Child> replace;
    {
        BusWatcher events(bus); // gone before the bus goes
        replace.emplace(Child::spawn({"/usr/bin/busctl", "--address=" + bus.address(), "--timeout=60", "call",
                                      HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, "Replace", "a{sv}", "1", "reason",
                                      "s", "update"},
                                     quiet));
        REQUIRE(events.next_state("replacing")); // the replace has begun: the gateway drains
    }
    bus.stop();
    auto caller = replace->wait();
    REQUIRE(caller);
    CHECK(WEXITSTATUS(*caller) != 0); // its bus went away

    // The replace completes without the bus: the old gateway drains, a new one runs.
    REQUIRE(PidWatch(static_cast<pid_t>(old_pid)).exited(kTimeout));
    bus.start();
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(wait_for_name(bus));
    ManagerClient client(bus);
    // The replace's new gateway, or (if the daemon answered the lost call
    // and went on) a running one; never two.
    auto status = client.status();
    auto pid = field<std::uint32_t>(status, "pid");
    CHECK(pid != old_pid);
    CHECK(alive(daemon.pid()));
    auto gateways = live_gateways(marker);
    CHECK(gateways.size() <= 1);
    if (pid != 0)
        CHECK(gateways == std::vector<pid_t>{static_cast<pid_t>(pid)});
}

TEST_CASE("item 14: a bus name owned by another connection at start-up is asked for again until it is free",
          "[daemon][dbus][bus-session][issue8]")
{
    TempHome home;
    PrivateBus bus;
    auto squatter = bus.connect();
    squatter->requestName(HGW_BUS_NAME);
    BusWatcher events(bus);

    auto held_since = Clock::now();
    // The gateway does not need the bus: the daemon starts it and says READY=1.
    GatewayDaemon daemon(bus, home, quick({}, stub_args(home)));
    std::this_thread::sleep_until(held_since + 1s);
    CHECK(alive(daemon.pid()));
    {
        INFO("daemon log:\n" << daemon.log());
        CHECK_THAT(daemon.log(), Catch::Contains("cannot own the bus name " HGW_BUS_NAME));
        CHECK_THAT(daemon.log(), Catch::Contains("File exists"));
    }

    squatter.reset(); // the name is free
    auto owner = events.next(
        [](const BusEvent& e) { return e.member == "NameOwnerChanged" && !e.new_owner.empty(); }, kReconnectTimeout);
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(owner);

    ManagerClient client(bus);
    auto status = client.status();
    CHECK(field<std::uint32_t>(status, "daemon_pid") == static_cast<std::uint32_t>(daemon.pid()));
    CHECK(field<std::string>(status, "state") == "running");
    const auto pid = field<std::uint32_t>(status, "pid");
    CHECK(pid != 0);
    // The log named who held the name: this test process.
    CHECK_THAT(daemon.log(), Catch::Contains("is owned by pid " + std::to_string(::getpid())));
    check_clean_shutdown(daemon, home, static_cast<pid_t>(pid));
}

TEST_CASE("PropertiesChanged carries Phase, State and Job across a Replace, GetStatus has the new keys",
          "[daemon][dbus][bus-session][issue8]")
{
    TempHome home;
    PrivateBus bus;
    GatewayDaemon daemon(bus, home, quick({}, stub_args(home)));
    ManagerClient client(bus);
    BusWatcher events(bus);

    auto status = client.status();
    CHECK(field<std::string>(status, "state") == "running");
    CHECK(field<std::string>(status, "phase") == "running");
    CHECK(field<std::string>(status, "job") == "none");
    CHECK(field<std::string>(status, "blocked_reason").empty());
    CHECK(field<std::uint32_t>(status, "foreign_pid") == 0);
    CHECK(field<std::string>(status, "failure_reason").empty());
    const auto old_pid = field<std::uint32_t>(status, "pid");

    auto mark = events.mark();
    auto [new_pid, generation] = client.call_op("Replace", {{"reason", sdbus::Variant(std::string("update"))}});
    REQUIRE(events.next_member("Replaced"));
    // The deferred diff after the job ended.
    REQUIRE(events.next([](const BusEvent& e) { return e.member == "PropertiesChanged" && e.property("Job") == "none"; }));
    auto all = events.since(mark);

    auto phases = property_values(all, "Phase");
    auto states = property_values(all, "State");
    auto jobs = property_values(all, "Job");
    INFO("Phase: " << joined(phases) << "\nState: " << joined(states) << "\nJob: " << joined(jobs));
    CHECK(contains_in_order(phases, {"draining", "starting", "running"}));
    CHECK(contains_in_order(states, {"replacing", "running"}));
    CHECK(contains_in_order(jobs, {"replace", "none"}));
    // No value is announced twice in a row: only what changed is sent.
    for (const auto* values : {&phases, &states, &jobs})
        for (std::size_t i = 1; i < values->size(); ++i)
            CHECK((*values)[i] != (*values)[i - 1]);
    // The pid passes through 0 (stop first), then the new one.
    CHECK(overlap_in(old_pid, announced_pids(all)) == std::nullopt);
    CHECK(contains_in_order(property_values(all, "GatewayPID"), {"0", std::to_string(new_pid)}));
    CHECK(contains_in_order(property_values(all, "Generation"), {std::to_string(generation)}));

    // The properties themselves.
    CHECK(client.proxy().getProperty("Phase").onInterface(HGW_BUS_INTERFACE).get<std::string>() == "running");
    CHECK(client.proxy().getProperty("Job").onInterface(HGW_BUS_INTERFACE).get<std::string>() == "none");
    check_clean_shutdown(daemon, home, static_cast<pid_t>(new_pid));
}

TEST_CASE("status of a daemon waiting for a lock holder: blocked reason shown, exit 3, then running on its own",
          "[daemon][dbus][bus-session][cli][issue8]")
{
    TempHome home;
    PrivateBus bus;
    // Not a gateway: flock(1) holding gateway.lock for 3 s, as a backup tool
    // might. It touches a file (outside the home) once it holds the lock.
    TempHome scratch;
    const auto held = scratch.dir() / "held";
    Child holder = Child::spawn({"/usr/bin/flock", (home.dir() / "gateway.lock").string(), "/bin/sh", "-c",
                                 "touch \"$0\"; exec sleep 3", held.string()});
    for (auto deadline = Clock::now() + kTimeout; !std::filesystem::exists(held);) {
        REQUIRE(Clock::now() < deadline);
        std::this_thread::sleep_for(10ms);
    }
    DaemonOptions options = quick({}, stub_args(home));
    options.wait_ready = false;
    GatewayDaemon daemon(bus, home, options);
    REQUIRE(wait_for_name(bus));

    ManagerClient client(bus);
    BusWatcher events(bus);
    auto status = client.status();
    if (field<std::string>(status, "state") != "waiting") {
        auto waiting = events.next_state("waiting", 5s);
        INFO("daemon log:\n" << daemon.log());
        REQUIRE(waiting);
        status = client.status();
    }
    CHECK(field<std::string>(status, "phase") == "waiting");
    CHECK(field<std::uint32_t>(status, "pid") == 0);
    // flock(1) and the command it runs both hold the lock: either may be named.
    const auto reason = field<std::string>(status, "blocked_reason");
    CHECK_THAT(reason, Catch::Contains("gateway.lock"));

    RunResult text = ctl(bus, {"status"});
    INFO(text.output);
    CHECK(text.exit_code == 3);
    CHECK_THAT(text.output, Catch::Contains("State: waiting"));
    CHECK_THAT(text.output, Catch::Contains("Blocked: " + reason));

    // Once the holder is gone, the daemon starts the gateway by itself.
    REQUIRE(holder.wait());
    REQUIRE(events.next_state("running", kTimeout));
    RunResult after = ctl(bus, {"status"});
    INFO(after.output);
    CHECK(after.exit_code == 0);
    CHECK_THAT(after.output, !Catch::Contains("Blocked:"));
    CHECK_THAT(after.output, !Catch::Contains("Job:"));
}

TEST_CASE("item 10: replace through hermes-gatewayctl when gateway.pid is a FIFO: CannotStart, exit 10, gateway kept",
          "[daemon][dbus][bus-session][cli][issue8]")
{
    TempHome home;
    PrivateBus bus;
    GatewayDaemon daemon(bus, home, quick({}, stub_args(home)));
    ManagerClient client(bus);
    const auto pid = status_pid(client);
    REQUIRE(pid != 0);

    // Made beside it, then swapped in at once: a merely missing gateway.pid
    // the daemon would publish again first (issue 9).
    const auto record = home.dir() / "gateway.pid";
    const auto fifo = home.dir() / ".gateway.pid.fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
    REQUIRE(::renameat2(AT_FDCWD, fifo.c_str(), AT_FDCWD, record.c_str(), RENAME_EXCHANGE) == 0);

    RunResult r = ctl(bus, {"replace", "--reason", "update"});
    INFO(r.output << "\ndaemon log:\n" << daemon.log());
    CHECK(r.exit_code == 10);
    CHECK_THAT(r.output, Catch::Contains("left alone"));
    CHECK(PidWatch(static_cast<pid_t>(pid)).exited() == false);
    auto status = client.status();
    CHECK(field<std::uint32_t>(status, "pid") == pid);
    CHECK(field<std::string>(status, "state") == "running");
    std::filesystem::remove(record);
}

TEST_CASE("CannotStart is its own D-Bus error", "[dbus][errors][issue8]")
{
    auto e = bus::to_bus_error(daemon::OpResult{daemon::OpError::CannotStart, "home is read-only", 0, 0});
    CHECK(e.getName() == HGW_BUS_ERROR_CANNOT_START);
    CHECK(e.getMessage() == "home is read-only");
}
