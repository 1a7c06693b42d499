// Fleet mode end to end: hermes-gatewayd on two "hosts" (each its own Hermes
// home, D-Bus bus and daemon) elected on a real 3-member etcd cluster, their
// stub gateways long-polling one bot token on the fake Bot API. The Bot API's
// overlap log, not a count of processes, says whether two gateways ever
// polled at once. Timeouts here are generous; the times themselves are
// measured in bench/fleet, not asserted.

#include "fleet_host.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <thread>

using namespace hgw::test;
using namespace std::chrono_literals;

namespace {

// Host a leads and polls, host b follows it.
struct TwoHosts {
    EtcdCluster etcd;
    BotApi api;
    FleetHost a{"a", etcd.client_urls(), api.url()};
    bool a_leads = eventually([&] { return a.leads_and_runs(); });
    FleetHost b{"b", etcd.client_urls(), api.url()};
    bool b_follows = eventually([&] { return b.role() == "follower" && b.leader() != ""; });

    std::tuple<EtcdCluster&, BotApi&, FleetHost&, FleetHost&> parts()
    {
        REQUIRE(a_leads);
        REQUIRE(b_follows);
        return {etcd, api, a, b};
    }
};

// Then host c joins: the line is a, b, c.
struct ThreeHosts : TwoHosts {
    FleetHost c{"c", etcd.client_urls(), api.url()};
    bool c_follows = eventually([&] { return c.role() == "follower" && c.leader() != ""; });

    std::tuple<BotApi&, FleetHost&, FleetHost&, FleetHost&> parts()
    {
        TwoHosts::parts();
        REQUIRE(c_follows);
        return {api, a, b, c};
    }
};

// `hermes-gatewayctl fleet handover --to TO` on `host`, expected to exit
// with `exit_code`; what it printed.
std::string handover_to(const std::string& to, FleetHost& host, int exit_code)
{
    RunResult r = run({ctl_path(), "fleet", "handover", "--to", to, "--address", host.bus.address()});
    INFO("ctl on " << host.name << ":\n" << r.output << "daemon " << host.name << ":\n" << host.daemon.log());
    CHECK(r.exit_code == exit_code);
    return r.output;
}

std::size_t polls_by(const BotApi& api, const std::string& poller_prefix)
{
    const auto polls = api.polls();
    return static_cast<std::size_t>(std::count_if(polls.begin(), polls.end(), [&](const nlohmann::json& p) {
        return p.value("event", "") == "begin" && p.value("poller", "").rfind(poller_prefix, 0) == 0;
    }));
}

void check_no_overlap(const BotApi& api)
{
    INFO("overlaps:\n" << overlaps_text(api));
    CHECK(api.overlaps().empty());
}

std::string member(FleetHost& host)
{
    return host.name + " (daemon pid " + std::to_string(host.daemon.pid()) + ")";
}

} // namespace

TEST_CASE("fleet: one host leads and polls, the other follows, refuses to start, and takes over when the leader dies",
          "[fleet][etcd][bot-api]")
{
    EtcdCluster etcd;
    BotApi api;
    FleetHost a("a", etcd.client_urls(), api.url());
    REQUIRE(eventually([&] { return a.leads_and_runs(); }));
    REQUIRE(api.wait_polls(a.poller(), 2));

    FleetHost b("b", etcd.client_urls(), api.url());
    // Follower from the start; the leader is named once etcd has answered.
    REQUIRE(eventually([&] { return b.role() == "follower" && b.leader() != ""; }));
    CHECK(b.state() == "stopped");
    CHECK_THAT(b.leader(), Catch::Contains("daemon pid " + std::to_string(a.daemon.pid())));

    // A follower runs no gateway, whoever asks.
    std::string error;
    try {
        b.client.call_op("Start");
    } catch (const sdbus::Error& e) {
        error = e.getName() + ": " + e.getMessage();
    }
    CHECK_THAT(error, Catch::Contains("CannotStart") && Catch::Contains("does not lead"));
    // A Replace finds nothing to replace here (what the update hook asks).
    error.clear();
    try {
        b.client.call_op("Replace");
    } catch (const sdbus::Error& e) {
        error = e.getName() + ": " + e.getMessage();
    }
    CHECK_THAT(error, Catch::Contains("NotRunning") && Catch::Contains("no gateway is running"));
    CHECK(b.state() == "stopped");

    // The leader's daemon dies: its gateway dies with it (it cannot fence
    // any more), its lease lapses, and b leads and polls.
    const hgw::UniqueFd old_gateway = a.gateway_pidfd();
    a.daemon.process().signal(SIGKILL);
    CHECK(wait_readable(old_gateway.get(), kTimeout)); // it exited
    REQUIRE(eventually([&] { return b.leads_and_runs(); }));
    CHECK(api.wait_polls(b.poller(), 2));
    INFO("overlaps:\n" << overlaps_text(api) << "daemon b:\n" << b.daemon.log());
    CHECK(api.overlaps().empty());
    CHECK(api.stats().at("overlaps") == 0);
}

TEST_CASE("fleet: a planned handover stops the leader's gateway, then the next host starts without waiting for the lease",
          "[fleet][etcd][bot-api]")
{
    TwoHosts f;
    auto [etcd, api, a, b] = f.parts(); // references, all four
    const hgw::UniqueFd old_gateway = a.gateway_pidfd();

    const auto t0 = std::chrono::steady_clock::now();
    a.client.proxy().callMethod(HGW_BUS_METHOD_FLEET_HANDOVER).onInterface(HGW_BUS_INTERFACE)
        .withArguments(std::map<std::string, sdbus::Variant>{});
    CHECK(wait_readable(old_gateway.get(), kTimeout)); // it exited
    REQUIRE(eventually([&] { return b.leads_and_runs(); }));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(api.wait_polls("b/", 1));
    INFO("overlaps:\n" << overlaps_text(api));
    CHECK(api.overlaps().empty());
    CHECK(a.role() == "follower");
    CHECK(a.state() == "stopped");
    // Well under the lease's TTL: the lease was given back, not left to lapse.
    CHECK(took < 5s);
}

TEST_CASE("fleet: handover --to the last host in line makes it lead next while the host between stays a follower, no overlap",
          "[fleet][etcd][bot-api]")
{
    ThreeHosts f;
    auto [api, a, b, c] = f.parts(); // references, all four
    const hgw::UniqueFd old_gateway = a.gateway_pidfd();

    handover_to("c", a, 0);
    CHECK(wait_readable(old_gateway.get(), kTimeout)); // it exited
    REQUIRE(eventually([&] { return c.leads_and_runs(); }));
    CHECK(api.wait_polls("c/", 1));
    // b made way for c (back of the line, behind c) and never ran a gateway.
    CHECK(eventually([&] { return b.leader() == member(c); }));
    CHECK_THAT(b.daemon.log(), Catch::Contains("making way for a handover to " + member(c)));
    CHECK(b.role() == "follower");
    CHECK(b.state() == "stopped");
    CHECK(polls_by(api, "b/") == 0);
    CHECK(a.role() == "follower");
    CHECK(a.state() == "stopped");
    check_no_overlap(api);
}

TEST_CASE("fleet: handover --to a host not in line is refused naming the hosts in line, and the leader keeps polling",
          "[fleet][etcd][bot-api]")
{
    ThreeHosts f;
    auto [api, a, b, c] = f.parts(); // references, all four
    const std::string poller = a.poller();

    const std::string refusal = handover_to("nowhere", a, 10);
    CHECK_THAT(refusal, Catch::Contains("no host named 'nowhere'") && Catch::Contains(member(b)) &&
                            Catch::Contains(member(c)) && Catch::Contains("left running"));
    // The same gateway runs on and polls again; nobody else leads.
    CHECK(a.leads_and_runs());
    CHECK(a.poller() == poller);
    CHECK(api.wait_polls(poller, polls_by(api, poller) + 2));
    CHECK(b.role() == "follower");
    CHECK(c.role() == "follower");
    check_no_overlap(api);

    // A follower has nothing to hand over, whoever it names.
    handover_to("c", b, 3);
}

TEST_CASE("fleet: the leader's daemon stopped (as a service manager restarts it) hands over at once, no overlap",
          "[fleet][etcd][bot-api]")
{
    TwoHosts f;
    auto [etcd, api, a, b] = f.parts(); // references, all four
    const hgw::UniqueFd old_gateway = a.gateway_pidfd();
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(a.daemon.stop() == 0); // SIGTERM: the gateway stops first, then the lease is given back
    CHECK(wait_readable(old_gateway.get(), kTimeout)); // it exited
    REQUIRE(eventually([&] { return b.leads_and_runs(); }));
    CHECK(std::chrono::steady_clock::now() - t0 < kFleetTtlSeconds); // no wait for the lease to lapse
    CHECK(api.wait_polls("b/", 1));
    INFO("overlaps:\n" << overlaps_text(api));
    CHECK(api.overlaps().empty());
}

TEST_CASE("fleet: with etcd's quorum lost the leader stops its gateway before its lease can lapse, and a leader "
          "polls again once quorum is back",
          "[fleet][etcd][bot-api]")
{
    TwoHosts f;
    auto [etcd, api, a, b] = f.parts(); // references, all four
    const hgw::UniqueFd old_gateway = a.gateway_pidfd();

    // Two of three members gone: no renewal can be granted.
    etcd.stop(1);
    etcd.stop(2);
    CHECK(wait_readable(old_gateway.get(), kTimeout)); // it exited
    // The role turns "fenced" as the stop begins; the stop itself ends a moment later.
    REQUIRE(eventually([&] { return a.role() == "fenced" && a.state() == "stopped"; }));
    CHECK(b.role() != "leader");

    etcd.start(1);
    etcd.start(2);
    REQUIRE(eventually([&] {
        return (a.leads_and_runs()) || (b.leads_and_runs());
    }, 120s));
    CHECK(api.wait_polls(a.role() == "leader" ? "a/" : "b/", 1));
    INFO("overlaps:\n" << overlaps_text(api) << "daemon a:\n" << a.daemon.log());
    CHECK(api.overlaps().empty());
}

TEST_CASE("fleet: etcd's own leader killed: the fleet's leader keeps leading (or hands over cleanly), never two pollers",
          "[fleet][etcd][bot-api]")
{
    TwoHosts f;
    auto [etcd, api, a, b] = f.parts(); // references, all four
    const std::size_t raft_leader = etcd.wait_leader();
    etcd.kill(raft_leader);
    (void)etcd.wait_leader(); // the other two elect one
    // Renewals go on through the other members; give it a few of them.
    const std::size_t polls_before = api.stats().at("polls").get<std::size_t>();
    REQUIRE(eventually([&] { return api.stats().at("polls").get<std::size_t>() >= polls_before + 5; }));
    REQUIRE(eventually([&] {
        return (a.leads_and_runs()) || (b.leads_and_runs());
    }));
    etcd.start(raft_leader);
    etcd.wait_healthy(raft_leader);
    INFO("overlaps:\n" << overlaps_text(api) << "daemon a:\n" << a.daemon.log());
    CHECK(api.overlaps().empty());
}

TEST_CASE("fleet: a configuration whose lease cannot cover the gateway's stop is refused, saying what to change",
          "[fleet][config]")
{
    PrivateBus bus;
    TempHome home;
    RunResult r = run({daemon_path(), "--home", home.dir().string(), "--address", bus.address(), "--config", "",
                       "--fleet-endpoints", "http://127.0.0.1:1", "--fleet-ttl", "10s", "--stop-timeout", "10s"});
    INFO(r.output);
    // A configuration error (as the gateway's): the unit does not restart it.
    CHECK(r.exit_code == 78);
    CHECK_THAT(r.output, Catch::Contains("raise --fleet-ttl or lower --stop-timeout"));
}

TEST_CASE("fleet: a service manager's watchdog too long to stop a frozen daemon within its lease is refused",
          "[fleet][config]")
{
    PrivateBus bus;
    TempHome home;
    const std::vector<std::string> argv = {daemon_path(), "--home", home.dir().string(), "--address", bus.address(),
                                           "--config", "", "--fleet-endpoints", "http://127.0.0.1:1",
                                           "--fleet-ttl", "10s", "--stop-timeout", "1s"};
    // As systemd runs it with the shipped WatchdogSec=1min (no WATCHDOG_PID: any pid).
    SpawnOptions shipped;
    shipped.env["WATCHDOG_USEC"] = "60000000";
    shipped.unset_env = {"WATCHDOG_PID"};
    RunResult r = run(argv, shipped);
    INFO(r.output);
    CHECK(r.exit_code == 78);
    CHECK_THAT(r.output, Catch::Contains("watchdog (1min) plus the gateway's stop (2s)"));
    CHECK_THAT(r.output, Catch::Contains("Lower WatchdogSec="));
    // WatchdogSec=3s fits TTL 10s and --stop-timeout 1s (3 + 1 + 1 < 9.9 - 3.33 - 1):
    // the daemon gets past the check and stands for election (etcd is not there).
    SpawnOptions fits = shipped;
    fits.env["WATCHDOG_USEC"] = "3000000";
    fits.capture_output = true;
    Child c = Child::spawn(argv, fits);
    CHECK_FALSE(c.wait(2s));
    c.signal(SIGTERM);
    REQUIRE(c.wait());
    const std::string out = c.output();
    INFO(out);
    CHECK_THAT(out, Catch::Contains("standing for election"));
    CHECK_THAT(out, !Catch::Contains("WatchdogSec="));
}
