// A host joins the fleet with a gateway still running in its home: the one
// a standalone daemon started before it was killed. A follower must run no
// gateway, so its daemon stops that orphan (it is proven ours by the
// previous daemon's record) before it stands for election; until then the
// orphan polls beside the leader, which the Bot API records as overlaps.

#include "fleet_host.h"
#include "process/pidfd.h"
#include "util/unique_fd.h"

#include <catch2/catch.hpp>

#include <csignal>

using namespace hgw::test;
using namespace std::chrono_literals;

namespace {

// The standalone daemon of host b before fleet mode was set up: its gateway
// polls the same bot token, and outlives the daemon (no fleet, no
// parent-death signal).
DaemonOptions standalone_options(const BotApi& api)
{
    DaemonOptions o = quick({"--stop-timeout", "1s"});
    o.env = {{"HERMES_STUB_BOT_API", api.url()}, {"HERMES_STUB_BOT_TOKEN", kFleetToken}, {"HERMES_STUB_HOST", "b"}};
    o.name = "daemon-b-standalone";
    return o;
}

} // namespace

TEST_CASE("fleet: a daemon joining as a follower stops the gateway its killed standalone predecessor left polling",
          "[fleet][etcd][bot-api]")
{
    EtcdCluster etcd;
    BotApi api;
    FleetHost a("a", etcd.client_urls(), api.url());
    REQUIRE(eventually([&] { return a.leads_and_runs(); }));

    PrivateBus bus;
    TempHome home;
    GatewayDaemon standalone(bus, home, standalone_options(api));
    ManagerClient client(bus);
    REQUIRE(eventually([&] { return client.status().at("state").get<std::string>() == "running"; }));
    const auto orphan = static_cast<pid_t>(client.status().at("pid").get<std::uint32_t>());
    hgw::UniqueFd orphan_fd(hgw::pidfd_open(orphan));
    REQUIRE(orphan_fd);
    REQUIRE(api.wait_polls("b/" + std::to_string(orphan), 1));
    standalone.process().signal(SIGKILL);
    REQUIRE(standalone.process().wait_exited_unreaped());
    CHECK_FALSE(wait_readable(orphan_fd.get(), 0ms)); // the orphan outlived its daemon

    GatewayDaemon fleet_b(bus, home, FleetHost::options("b", etcd.client_urls(), api.url(), -1));
    REQUIRE(wait_readable(orphan_fd.get(), kTimeout)); // stopped by the new daemon
    REQUIRE(eventually([&] { return client.status().at("fleet_role").get<std::string>() == "follower"; }));
    CHECK(client.status().at("state").get<std::string>() == "stopped");
    CHECK_THAT(fleet_b.log(), Catch::Contains("stopping") && Catch::Contains(std::to_string(orphan)));

    // From now on only the leader polls: no overlap beyond those the orphan
    // made (its last poll is over once the Bot API saw its connection go),
    // over several of the leader's polls.
    const std::string orphan_poller = "b/" + std::to_string(orphan);
    REQUIRE(eventually([&] { return api.stats()["in_flight"].dump().find(orphan_poller) == std::string::npos; }));
    const std::size_t overlaps_with_orphan = api.overlaps().size();
    const std::size_t leader_polls = api.stats().at("by_poller").value(a.poller(), std::size_t{0});
    REQUIRE(api.wait_polls(a.poller(), leader_polls + 3));
    CHECK(a.leads_and_runs());
    INFO("overlaps:\n" << overlaps_text(api));
    CHECK(api.overlaps().size() == overlaps_with_orphan);
}
