// The detector of two gateways, end to end: two hosts, each with its own
// network namespace, Hermes home, D-Bus bus and hermes-gatewayd, whose stub
// gateways poll one bot token on the fake Bot API across their internet
// links. One host alone makes no overlap; with no fleet mode to stop it, the
// second host's gateway overlaps with the first, and the Bot API names both.
// Needs root.

#include "helpers/needs_root.h"
#include "support/bot_api.h"
#include "support/bus_harness.h"
#include "support/netns_host.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace hgw::test;
using nlohmann::json;

namespace {

constexpr const char* kToken = "4242:fleet-test";

// A host's daemon, its gateway polling the Bot API from inside the host.
DaemonOptions polling_daemon(const NetnsHost& host, const BotApi& api)
{
    DaemonOptions o = quick();
    o.netns_fd = host.netns_fd();
    o.env = {{"HERMES_STUB_BOT_API", api.url(host.root_address(Link::internet))},
             {"HERMES_STUB_BOT_TOKEN", kToken},
             {"HERMES_STUB_HOST", host.name()}};
    return o;
}

// The poller name the Bot API sees for the gateway the daemon on `bus` runs.
std::string poller_of(const NetnsHost& host, const PrivateBus& bus)
{
    ManagerClient client(bus);
    auto status = client.status();
    REQUIRE(status.at("state").get<std::string>() == "running");
    return host.name() + "/" + std::to_string(status.at("pid").get<std::uint32_t>());
}

} // namespace

TEST_CASE("two gateways: hosts in namespaces polling one token are caught by the fake Bot API",
          "[fleet][netns][bot-api][root]")
{
    if (!needs_root("makes network namespaces and veth pairs (CAP_SYS_ADMIN, CAP_NET_ADMIN)"))
        return;
    BotApi api;
    NetnsHost a("a");
    NetnsHost b("b");

    PrivateBus bus_a;
    TempHome home_a;
    GatewayDaemon daemon_a(bus_a, home_a, polling_daemon(a, api));
    // The daemon runs in the namespace, and its bus (a unix:path= socket) serves it all the same.
    const std::string poller_a = poller_of(a, bus_a);
    if (!api.wait_polls(poller_a, 3))
        FAIL("no polls from " << poller_a << "; daemon a:\n" << daemon_a.log());
    CHECK(api.stats().at("overlaps") == 0);
    CHECK(api.overlaps().empty());

    PrivateBus bus_b;
    TempHome home_b;
    GatewayDaemon daemon_b(bus_b, home_b, polling_daemon(b, api));
    const std::string poller_b = poller_of(b, bus_b);
    if (!api.wait_overlaps(1))
        FAIL("no overlap; daemon a:\n" << daemon_a.log() << "\ndaemon b:\n" << daemon_b.log());

    auto overlaps = api.overlaps();
    REQUIRE_FALSE(overlaps.empty());
    const json& first = overlaps.front();
    INFO("first overlap: " << first.dump());
    CHECK(first.at("token") == kToken);
    REQUIRE(first.at("others").size() == 1);
    const json& other = first.at("others").at(0);
    CHECK(std::set<std::string>{first.at("poller"), other.at("poller")} == std::set<std::string>{poller_a, poller_b});
    CHECK(other.at("since_mono").get<double>() <= first.at("mono").get<double>());
    // Each came over its own host's internet link.
    const auto peer_host = [](const json& p) {
        std::string peer = p.at("peer");
        return peer.substr(0, peer.find(':'));
    };
    std::set<std::string> peers = {peer_host(first), peer_host(other)};
    CHECK(peers == std::set<std::string>{a.host_address(Link::internet), b.host_address(Link::internet)});

    // One daemon stopped: its gateway stopped polling before it exited, so
    // the other polls alone from then on.
    CHECK(daemon_b.stop() == 0);
    const std::size_t after_stop = api.stats().at("overlaps").get<std::size_t>();
    const std::size_t polls_a = api.stats().at("by_poller").at(poller_a).get<std::size_t>();
    REQUIRE(api.wait_polls(poller_a, polls_a + 3));
    const json stats = api.stats();
    CHECK(stats.at("overlaps") == after_stop);
    for (const auto& poller : stats.at("in_flight").value(kToken, json::array()))
        CHECK(poller != poller_b);
}
