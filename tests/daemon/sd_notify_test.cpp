// sd_notify in both directions. Towards systemd: READY=1, STATUS=,
// RELOADING=1 + MONOTONIC_USEC= around a replace, STOPPING=1, and WATCHDOG=1
// pings that stop while the gateway is failed. From the gateway: its STATUS=
// is passed on (and nobody else's), and a gateway that stops pinging its
// watchdog is replaced.

#include "daemon_helpers.h"

#include <catch2/catch.hpp>

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cstddef>
#include <cstring>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::dh;
using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& message, const std::string& line)
{
    return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

bool status_starts_with(const std::string& message, const std::string& prefix)
{
    auto s = notify_value(message, "STATUS");
    return s && s->rfind(prefix, 0) == 0;
}

std::string gateway_pid_text(pid_t pid) { return "gateway pid " + std::to_string(pid) + " "; }

std::string all_messages(NotifyRecorder& n)
{
    std::string out;
    for (const auto& m : n.messages())
        out += "[" + m + "]\n";
    return out;
}

} // namespace

TEST_CASE("the daemon tells systemd READY STATUS RELOADING and STOPPING when they happen", "[daemon][sd_notify]")
{
    TempHome home;
    PrivateBus bus;
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--drain-timeout", "5s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--drain", "0"})});
    auto& n = daemon.notify();

    // READY=1 once the first gateway is ready, not before: its record is
    // true when the message comes, and the message names it.
    auto ready = n.find([](const std::string& m) { return has_line(m, "READY=1"); }, 0);
    REQUIRE(ready);
    INFO(all_messages(n));
    ManagerClient client(bus);
    auto s = client.status();
    const auto first_pid = static_cast<pid_t>(field<std::uint32_t>(s, "pid"));
    CHECK(field<std::string>(s, "state") == "running");
    require_live_record(home, first_pid);
    auto msgs = n.messages();
    CHECK(status_starts_with(msgs[*ready], "running, " + gateway_pid_text(first_pid)));
    // Before it, a STATUS= for the transition into starting.
    bool starting_before = false;
    for (std::size_t i = 0; i < *ready; ++i) {
        CHECK_FALSE(has_line(msgs[i], "READY=1"));
        starting_before |= status_starts_with(msgs[i], "starting");
    }
    CHECK(starting_before);

    // A replace is a reload: RELOADING=1 with the time it began, the
    // replacing state, then READY=1 naming the new gateway.
    const std::size_t before_replace = n.size();
    const std::uint64_t t0 = monotonic_usec();
    auto [new_pid, generation] = client.call_op("Replace");
    const std::uint64_t t1 = monotonic_usec();
    auto reloading = n.find([](const std::string& m) { return has_line(m, "RELOADING=1"); }, before_replace);
    REQUIRE(reloading);
    const std::string reload_msg = n.messages()[*reloading];
    auto usec = notify_value(reload_msg, "MONOTONIC_USEC");
    REQUIRE(usec);
    const std::uint64_t reload_at = std::stoull(*usec);
    CHECK(reload_at >= t0);
    CHECK(reload_at <= t1);
    CHECK(notify_value(reload_msg, "STATUS").value_or("").find(std::to_string(first_pid)) != std::string::npos);
    msgs = n.messages();
    for (std::size_t i = *ready + 1; i < *reloading; ++i)
        CHECK_FALSE(has_line(msgs[i], "READY=1")); // one READY=1 per start or reload
    auto replacing =
        n.find([](const std::string& m) { return status_starts_with(m, "replacing, gateway pid"); }, *reloading + 1);
    REQUIRE(replacing);
    auto ready2 = n.find([](const std::string& m) { return has_line(m, "READY=1"); }, *reloading + 1);
    REQUIRE(ready2);
    CHECK(*replacing < *ready2);
    msgs = n.messages();
    CHECK(status_starts_with(msgs[*ready2], "running, " + gateway_pid_text(static_cast<pid_t>(new_pid))));
    CHECK(generation == 2);

    // No watchdog was asked for, so no pings were sent.
    for (const auto& m : msgs)
        CHECK_FALSE(has_line(m, "WATCHDOG=1"));

    // SIGTERM: STOPPING=1, then the gateway is stopped and the daemon exits 0.
    PidWatch gw(static_cast<pid_t>(new_pid));
    daemon.process().signal(SIGTERM);
    auto stopping = n.find([](const std::string& m) { return has_line(m, "STOPPING=1"); }, *ready2 + 1);
    REQUIRE(stopping);
    auto status = daemon.process().wait();
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    CHECK(gw.exited());
    CHECK(validate(home.paths()).kind == VerdictKind::None);
}

TEST_CASE("the daemon pets systemd's watchdog but not while the gateway is failed", "[daemon][sd_notify][watchdog]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    // As systemd would start it: WATCHDOG_USEC, and WATCHDOG_PID naming the
    // daemon itself.
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--restart-delay", "100ms", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--fault-file", fault}),
                       .env = {{"WATCHDOG_USEC", "500000"}},
                       .watchdog_pid = true});
    auto& n = daemon.notify();
    auto at = n.find_text("READY=1", 0);
    REQUIRE(at);
    // Pings every half interval (250 ms): three in a row come well within the timeout.
    for (int i = 0; i < 3; ++i) {
        at = n.find([](const std::string& m) { return has_line(m, "WATCHDOG=1"); }, *at + 1);
        REQUIRE(at);
    }

    // Into failed: a crash, then a restart that exits 78.
    ManagerClient client(bus);
    const auto pid = static_cast<pid_t>(field<std::uint32_t>(client.status(), "pid"));
    home.write("fault", "exit 78");
    events.skip_all();
    REQUIRE(PidWatch(pid).signal(SIGKILL));
    REQUIRE(events.next_state("failed"));
    // The daemon announced the state to systemd before the D-Bus signal, so
    // the message is there; everything after it is sent while failed.
    auto failed = n.find([](const std::string& m) { return status_starts_with(m, "failed"); }, *at + 1);
    REQUIRE(failed);
    // Nothing can show that no ping comes except a span of time: six ping
    // periods, while the reader thread records whatever arrives.
    std::this_thread::sleep_for(1500ms);
    auto msgs = n.messages();
    INFO(all_messages(n));
    for (std::size_t i = *failed + 1; i < msgs.size(); ++i)
        CHECK_FALSE(has_line(msgs[i], "WATCHDOG=1"));

    // Healthy again: the pings resume.
    ::unlink(fault.c_str());
    client.call_op("Start");
    auto resumed = n.find([](const std::string& m) { return has_line(m, "WATCHDOG=1"); }, n.size());
    CHECK(resumed);
}

TEST_CASE("the daemon pets systemd's watchdog while it replaces a gateway whose own watchdog lapsed",
          "[daemon][sd_notify][watchdog]")
{
    TempHome home;
    PrivateBus bus;
    // systemd's watchdog: 0.5 s, pings every 0.25 s. The gateway's: 1 s;
    // the stub stops pinging after 1 s and then drains for 2 s, so the
    // replace outlasts systemd's interval several times over.
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--child-watchdog", "1s", "--drain-timeout", "10s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--watchdog-stop-after", "1", "--drain", "2"}),
                       .env = {{"WATCHDOG_USEC", "500000"}},
                       .watchdog_pid = true});
    auto& n = daemon.notify();
    auto replacing = n.find([](const std::string& m) { return status_starts_with(m, "replacing"); }, 0);
    REQUIRE(replacing);
    auto running = n.find([](const std::string& m) { return status_starts_with(m, "running"); }, *replacing + 1);
    REQUIRE(running);
    INFO(all_messages(n));
    auto msgs = n.messages();
    int pings = 0;
    for (std::size_t i = *replacing + 1; i < *running; ++i)
        pings += has_line(msgs[i], "WATCHDOG=1") ? 1 : 0;
    // About eight in the 2 s drain. None would mean the daemon leaves the
    // replace to systemd's watchdog to cut short.
    CHECK(pings >= 1);
}

TEST_CASE("the daemon pets the watchdog without WATCHDOG_PID but not one meant for another process",
          "[daemon][sd_notify][watchdog]")
{
    // Without WATCHDOG_PID the watchdog is the daemon's (sd_watchdog_enabled
    // accepts that); with another process's PID it belongs to that process
    // (the daemon inherited a parent's environment) and must not be petted.
    SECTION("no WATCHDOG_PID")
    {
        TempHome home;
        PrivateBus bus;
        TestDaemon daemon(bus, home, {.gateway_args = stub_args(home), .env = {{"WATCHDOG_USEC", "300000"}}});
        auto at = daemon.notify().find_text("READY=1", 0);
        REQUIRE(at);
        for (int i = 0; i < 2; ++i) {
            at = daemon.notify().find([](const std::string& m) { return has_line(m, "WATCHDOG=1"); }, *at + 1);
            REQUIRE(at);
        }
    }
    SECTION("WATCHDOG_PID of another process")
    {
        TempHome home;
        PrivateBus bus;
        TestDaemon daemon(bus, home,
                          {.gateway_args = stub_args(home),
                           .env = {{"WATCHDOG_USEC", "300000"}, {"WATCHDOG_PID", std::to_string(::getpid())}}});
        REQUIRE(daemon.notify().find_text("READY=1", 0));
        std::this_thread::sleep_for(1s); // more than six ping periods
        for (const auto& m : daemon.notify().messages())
            CHECK_FALSE(has_line(m, "WATCHDOG=1"));
    }
}

TEST_CASE("the gateway's STATUS is passed on and datagrams from others are ignored", "[daemon][sd_notify][child]")
{
    TempHome home;
    PrivateBus bus;
    // A notify socket name we know, so the test can write to it like any
    // process on the machine could.
    unsigned char rnd[6];
    REQUIRE(::getrandom(rnd, sizeof rnd, 0) == static_cast<ssize_t>(sizeof rnd));
    std::string name = "@hgw-test-notify-";
    for (unsigned char c : rnd)
        name += "0123456789abcdef"[c & 15];
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--notify-socket", name, "--drain-timeout", "5s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--drain", "0"})});
    auto& n = daemon.notify();
    REQUIRE(n.find_text("READY=1", 0));
    ManagerClient client(bus);
    auto pid = static_cast<pid_t>(field<std::uint32_t>(client.status(), "pid"));

    // The stub says "STATUS=Gateway running (pid N)" once up; the daemon
    // passes it on to systemd and keeps it for GetStatus.
    const std::string text = "Gateway running (pid " + std::to_string(pid) + ")";
    auto passed = n.find_text("gateway: " + text, 0);
    REQUIRE(passed);
    CHECK(field<std::string>(client.status(), "status_text") == text);

    // Someone else writes to the gateway's socket. Then a new gateway is
    // started, whose own STATUS comes later through the same socket: once
    // that is passed on, ours has been read, and must have been dropped.
    {
        UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        REQUIRE(s);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        std::string forged = "READY=1\nSTATUS=forged by a stranger";
        REQUIRE(::sendto(s.get(), forged.data(), forged.size(), 0, reinterpret_cast<sockaddr*>(&addr), len) ==
                static_cast<ssize_t>(forged.size()));
    }
    auto [new_pid, generation] = client.call_op("Replace");
    const std::string new_text = "Gateway running (pid " + std::to_string(new_pid) + ")";
    REQUIRE(n.find_text("gateway: " + new_text, *passed + 1));
    INFO(all_messages(n));
    for (const auto& m : n.messages())
        CHECK(m.find("forged") == std::string::npos);
    auto s = client.status();
    CHECK(field<std::string>(s, "status_text") == new_text);
    CHECK(field<std::uint32_t>(s, "pid") == new_pid);
}

TEST_CASE("a gateway that stops pinging its watchdog, or never begins, is replaced",
          "[daemon][sd_notify][child][watchdog]")
{
    // "1": the stub pings every 0.5 s (half of WATCHDOG_USEC) for 1 s, then
    // stays up but silent, like a wedged gateway. "0": it never pings; the
    // watchdog runs from READY=1 on, as systemd's does.
    const std::string stop_after = GENERATE("1", "0");
    INFO("--watchdog-stop-after " << stop_after);
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--child-watchdog", "1s", "--drain-timeout", "2s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--watchdog-stop-after", stop_after, "--drain", "0"})});
    ManagerClient client(bus);
    auto s = client.status();
    const auto first = static_cast<pid_t>(field<std::uint32_t>(s, "pid"));
    const auto generation = field<std::uint64_t>(s, "generation");
    PidWatch gw(first);

    auto replacing = events.next_state("replacing");
    REQUIRE(replacing);
    CHECK(replacing->reason.find("watchdog") != std::string::npos);
    auto replaced = events.next_member("Replaced");
    REQUIRE(replaced);
    CHECK(replaced->old_pid == static_cast<std::uint32_t>(first));
    CHECK(replaced->new_pid != static_cast<std::uint32_t>(first));
    CHECK(replaced->generation == generation + 1);
    CHECK(replaced->reason.find("watchdog") != std::string::npos);
    CHECK(gw.exited());
    CHECK(pid_gone(first));
    CHECK_FALSE(lost_a_race(stub_log(home)));
}

TEST_CASE("a replace that fails still ends its RELOADING=1 with READY=1", "[daemon][sd_notify]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--restart-delay", "100ms", "--ready-timeout", "5s", "--burst", "10",
                                       "--drain-timeout", "5s", "--stop-timeout", "2s"},
                       .gateway_args = stub_args(home, {"--fault-file", fault, "--drain", "0"})});
    auto& n = daemon.notify();
    ManagerClient client(bus);
    const std::size_t before = n.size();
    events.skip_all();

    // Exit 3 before writing anything: a gateway that crashed just after its
    // record could be seen ready for that moment, and the replace succeed.
    home.write("fault", "exit 3");
    CHECK(error_of([&] { client.call_op("Replace"); }) == err("StartFailed"));
    ::unlink(fault.c_str());
    REQUIRE(events.next_state("running"));

    auto reloading = n.find_text("RELOADING=1", before);
    REQUIRE(reloading);
    // systemd holds the unit in "reloading" until READY=1 comes.
    auto ready = n.find([](const std::string& m) { return has_line(m, "READY=1"); }, *reloading + 1, 10s);
    INFO(all_messages(n));
    CHECK(ready);
}
