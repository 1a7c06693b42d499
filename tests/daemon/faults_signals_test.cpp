// Issue 8, item 11 (signals a person or a script sends to the daemon) and
// the smaller items of 14: a huge EXTEND_TIMEOUT_USEC, a daemon deaf while
// it stops an orphan, "Failed to request bus name (File exists)", a reason
// with a newline in the log, "lock held by" naming a dead gateway or the
// daemon, `pidfile check --home` with a missing or empty home, and a
// SIGSTOPped gateway that never gets SIGCONT.

#include "fault_helpers.h"
#include "util/bus_names.h"

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

struct Sig {
    int number;
    const char* name;
};

bool is_exit_of(const BusEvent& e, pid_t pid)
{
    return e.member == "GatewayExited" && e.pid == static_cast<std::uint32_t>(pid);
}

} // namespace

// ---------------------------------------------------------------- item 11

TEST_CASE("item 11: SIGUSR1 to the daemon replaces the gateway, SIGHUP restarts it, and neither kills the daemon",
          "[daemon][faults][item11]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {"--drain", "0.2"}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);

    const std::string how = GENERATE(as<std::string>{}, "USR1", "HUP", "USR1 to the daemon and its gateway");
    INFO(how);
    events.skip_all();
    if (how == "HUP") {
        daemon.process().signal(SIGHUP);
    } else if (how == "USR1") {
        daemon.process().signal(SIGUSR1);
    } else {
        // What `pkill -USR1 -f 'gateway run'` does: the daemon's command line matches too.
        daemon.process().signal(SIGUSR1);
        REQUIRE(PidWatch(first).signal(SIGUSR1));
    }
    auto replaced = events.next([&](const BusEvent& e) { return e.member == "Replaced" || !daemon.alive(); });
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(daemon.alive());
    REQUIRE(replaced);
    CHECK(replaced->old_pid == static_cast<std::uint32_t>(first));
    const pid_t second = require_one_true_gateway(events, daemon, client, site);
    CHECK(second != first);
    CHECK(static_cast<pid_t>(replaced->new_pid) == second);
    CHECK(PidWatch(second).exited() == false);
    CHECK_FALSE(dh::lost_a_race(site.stub_log()));
    CHECK(wait_status_text(daemon.stop()) == "exited 0");
}

TEST_CASE("item 11: SIGUSR2 logs the status line, SIGALRM and SIGPIPE are ignored, none kills the daemon",
          "[daemon][faults][item11]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick());
    ManagerClient client(bus);
    const pid_t gateway = require_one_true_gateway(events, daemon, client, site);
    PidWatch gw(gateway);

    for (Sig sig : {Sig{SIGUSR2, "USR2"}, Sig{SIGALRM, "ALRM"}, Sig{SIGPIPE, "PIPE"}}) {
        INFO("SIG" << sig.name);
        const std::size_t from = daemon.log_size();
        daemon.process().signal(sig.number);
        // A signal is acted on before the process runs again: a reply sent
        // after it proves it survived (the default action is to die).
        auto s = try_status(client);
        INFO("daemon log:\n" << daemon.log());
        REQUIRE(s);
        REQUIRE(daemon.alive());
        CHECK(status_pid(*s) == gateway);
        CHECK(text(*s, "state") == "running");
        if (sig.number == SIGUSR2) {
            // The status line: the state and the gateway's pid.
            CHECK(daemon.wait_log(std::to_string(gateway), from, 10s));
            std::string added = daemon.log().substr(from);
            CHECK(added.find("running") != std::string::npos);
        } else if (sig.number == SIGALRM) {
            CHECK(daemon.wait_log("ALRM", from, 10s)); // ignored, with a log line
        }
    }
    CHECK_FALSE(gw.exited());
    CHECK(site.gateways() == std::vector<pid_t>{gateway});
    CHECK(wait_status_text(daemon.stop()) == "exited 0");
}

TEST_CASE("item 11: other signals a person might send (VTALRM PROF IO PWR XFSZ) do not kill the daemon",
          "[daemon][faults][item11]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick());
    ManagerClient client(bus);
    const pid_t gateway = require_one_true_gateway(events, daemon, client, site);
    for (Sig sig : {Sig{SIGVTALRM, "VTALRM"}, Sig{SIGPROF, "PROF"}, Sig{SIGIO, "IO"}, Sig{SIGPWR, "PWR"},
                    Sig{SIGXFSZ, "XFSZ"}}) {
        INFO("SIG" << sig.name);
        daemon.process().signal(sig.number);
        auto s = try_status(client);
        REQUIRE(s);
        REQUIRE(daemon.alive());
        CHECK(status_pid(*s) == gateway);
    }
    CHECK(site.gateways() == std::vector<pid_t>{gateway});
    CHECK(wait_status_text(daemon.stop()) == "exited 0");
}

// ---------------------------------------------------------------- item 14

TEST_CASE("item 14: EXTEND_TIMEOUT_USEC=18446744073709551615 does not make the start time out at once",
          "[daemon][faults][item14]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    // The gateway asks for more time, then is ready 1.5 s after its start,
    // past the daemon's 1 s start timeout.
    const std::string extend = GENERATE(as<std::string>{}, "18446744073709551615", "5000000");
    INFO("EXTEND_TIMEOUT_USEC=" << extend);
    DaemonOptions options = quick({"--readiness", "notify", "--ready-timeout", "1s"},
                                  {"--extend-timeout", extend, "--start-delay", "1.5"});
    options.wait_ready = false;
    SiteDaemon daemon(bus, site, options);
    ManagerClient client(bus);
    const pid_t gateway = require_one_true_gateway(events, daemon, client, site);
    INFO("daemon log:\n" << daemon.log());
    auto s = try_status(client);
    REQUIRE(s);
    CHECK(text(*s, "generation") == "1"); // the first start succeeded
    CHECK(text(*s, "restarts") == "0");
    for (const auto& e : events.since(0))
        CHECK(e.member != "GatewayExited");
    CHECK(status_pid(*s) == gateway);
}

TEST_CASE("item 14: a new daemon answers on the bus while it stops an orphan (phase recovering)",
          "[daemon][faults][item14]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    const auto fault = site.logs() / "fault";
    std::ofstream(fault) << "ignore-term";
    // The orphan ignores SIGTERM: stopping it takes the whole stop timeout.
    DaemonOptions options = quick({"--stop-timeout", "6s", "--kill-timeout", "6s"}, {"--fault-file", fault.string()});
    options.name = "first";
    std::optional<SiteDaemon> first;
    first.emplace(bus, site, options);
    pid_t orphan = 0;
    {
        ManagerClient c(bus);
        auto s = try_status(c);
        REQUIRE(s);
        orphan = status_pid(*s);
    }
    REQUIRE(orphan > 0);
    KillOnExit cleanup(orphan);
    PidWatch orphan_watch(orphan);
    std::filesystem::remove(fault);
    first->process().signal(SIGKILL);
    REQUIRE(first->process().wait());
    REQUIRE(events.next([](const BusEvent& e) { return e.member == "NameOwnerChanged" && e.new_owner.empty(); }));
    events.skip_all();

    options.name = "second";
    options.wait_ready = false;
    SiteDaemon second(bus, site, options);
    REQUIRE(events.next([](const BusEvent& e) { return e.member == "NameOwnerChanged" && !e.new_owner.empty(); }));
    // The name is the new daemon's: it answers now, not in 6 s (today it
    // owns the name but sits in a blocking wait for the orphan).
    ManagerClient client(bus);
    auto t0 = Clock::now();
    auto s = try_status(client, 3s);
    auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    INFO("GetStatus took " << took.count() << " ms; daemon log:\n" << second.log());
    REQUIRE(s);
    INFO("status: " << describe(*s));
    CHECK_FALSE(orphan_watch.exited()); // still stopping it: the answer came during the recovery
    CHECK(text(*s, "phase") == "recovering");
    CHECK(text(*s, "state") == "stopping");
    // Then the orphan is gone (SIGKILL after the stop timeout) and one gateway runs.
    CHECK(orphan_watch.exited(kTimeout));
    const pid_t mine = require_one_true_gateway(events, second, client, site);
    CHECK(mine != orphan);
}

TEST_CASE("item 14: a daemon whose bus name is still taken retries instead of exiting", "[daemon][faults][item14]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    // Someone still owns the name (a daemon that just crashed, not yet
    // noticed by the bus).
    auto squatter = bus.connect();
    squatter->requestName(HGW_BUS_NAME);

    DaemonOptions options = quick();
    options.wait_ready = false;
    SiteDaemon daemon(bus, site, options);
    // Its first request for the name failed ("File exists"), or it died of it.
    auto deadline = Clock::now() + 10s;
    while (daemon.alive() && daemon.log().find("File exists") == std::string::npos && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(daemon.alive());

    events.skip_all();
    squatter->releaseName(HGW_BUS_NAME);
    auto owned = events.next([](const BusEvent& e) { return e.member == "NameOwnerChanged" && !e.new_owner.empty(); });
    REQUIRE(owned);
    ManagerClient client(bus);
    auto s = try_status(client);
    REQUIRE(s);
    CHECK(text(*s, "daemon_pid") == std::to_string(daemon.pid()));
    require_one_true_gateway(events, daemon, client, site);
}

TEST_CASE("item 14: a reason with a newline is logged escaped, never as a forged line", "[daemon][faults][item14]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {"--drain", "0"}));
    ManagerClient client(bus);
    require_one_true_gateway(events, daemon, client, site);

    const std::string reason = "update\nFORGED hermes-gatewayd: state running -> failed";
    client.call_op("Replace", {{"reason", sdbus::Variant(reason)}});
    client.stop({{"reason", sdbus::Variant(reason)}});
    std::string log = daemon.log();
    INFO("daemon log:\n" << log);
    CHECK(log.find("\nFORGED") == std::string::npos);
    CHECK(log.find("update\\nFORGED") != std::string::npos);
}

TEST_CASE("item 14: the lock holder reported is the live process holding it, not the daemon or a dead gateway",
          "[daemon][faults][item14]")
{
    auto holders = [](const Site& site) {
        RunResult r = run({ctl_path(), "pidfile", "check", "--home", site.home().string(), "--json"});
        INFO(r.output);
        auto j = nlohmann::json::parse(r.output);
        return j.at("lock").at("holders").get<std::vector<pid_t>>();
    };
    SECTION("--write-pidfile: the daemon took the lock, the gateway holds it")
    {
        Site site;
        PrivateBus bus;
        BusWatcher events(bus);
        SiteDaemon daemon(bus, site, quick({"--write-pidfile"}, {"--no-pidfile"}));
        ManagerClient client(bus);
        const pid_t gateway = require_one_true_gateway(events, daemon, client, site);
        CHECK(holders(site) == std::vector<pid_t>{gateway});
    }
    SECTION("a gateway killed by SIGKILL whose worker kept the lock")
    {
        Site site;
        const auto worker_file = site.logs() / "worker.pid";
        SpawnOptions so;
        so.env["HERMES_HOME"] = site.home().string();
        so.unset_env = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};
        so.output_file = (site.logs() / "gateway.out").string();
        Child gw = Child::spawn(
            stub_command(site.stub_args({"--fork-worker", "group", "--worker-pid-file", worker_file.string()})), so);
        const pid_t worker = wait_pid_file(worker_file);
        REQUIRE(worker > 0);
        KillOnExit cleanup(worker);
        gw.signal(SIGKILL);
        REQUIRE(gw.wait());
        CHECK(holders(site) == std::vector<pid_t>{worker});
    }
}

TEST_CASE("item 14: pidfile check names a missing home and refuses an empty --home", "[daemon][faults][item14][ctl]")
{
    Site site;
    const std::string missing = (site.logs() / "no-such-home").string();
    RunResult r = run({ctl_path(), "pidfile", "check", "--home", missing});
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code != 3); // 3 is "no gateway": a missing home is an error, not "none"
    CHECK(r.output.find(missing) != std::string::npos);

    RunResult e = run({ctl_path(), "pidfile", "check", "--home", ""});
    INFO(e.output);
    CHECK(e.exit_code != 0);
    CHECK(e.exit_code != 3);
    CHECK(e.output.find("empty --home") != std::string::npos);
}

TEST_CASE("item 14: a SIGSTOPped gateway gets SIGCONT with the signal that stops it, and exits by itself",
          "[daemon][faults][item14]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    // Timeouts long enough that only SIGCONT explains a quick, clean exit.
    SiteDaemon daemon(bus, site, quick({"--drain-timeout", "8s", "--stop-timeout", "8s"}, {"--drain", "0.2"}));
    ManagerClient client(bus);
    const pid_t gateway = require_one_true_gateway(events, daemon, client, site);
    PidWatch gw(gateway);
    const std::string op = GENERATE(as<std::string>{}, "Stop", "Replace");
    INFO(op);
    REQUIRE(gw.signal(SIGSTOP));
    auto deadline = Clock::now() + kTimeout;
    while (dh::proc_state(gateway) != 'T' && Clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    REQUIRE(dh::proc_state(gateway) == 'T');
    events.skip_all();

    auto t0 = Clock::now();
    if (op == "Stop")
        client.stop();
    else
        client.call_op("Replace");
    auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    auto exited = events.next([&](const BusEvent& e) { return is_exit_of(e, gateway); });
    REQUIRE(exited);
    INFO("took " << took.count() << " ms; exit " << exited->code << " " << exited->status);
    CHECK(exited->code == "exited"); // not killed by SIGKILL after the timeouts
    CHECK(exited->status == (op == "Stop" ? 0 : 75));
    CHECK(took < 6s);
}
