// Fleet mode under a partition: each host in a network namespace of its
// own, reaching etcd over one veth link and the fake Bot API over another.
// The leader's link to etcd goes down for three TTLs: it must stop its
// gateway before its lease can lapse (it can still reach the Bot API, so a
// late stop would show as an overlap), the other host leads once the lease
// is gone, and when the link comes back the first host follows. Needs root.

#include "fleet_host.h"
#include "helpers/needs_root.h"
#include "support/netns_host.h"

#include <catch2/catch.hpp>

using namespace hgw::test;
using namespace std::chrono_literals;

TEST_CASE("fleet: the leader cut off from etcd stops its gateway before its lease lapses, the other host takes over",
          "[fleet][etcd][netns][bot-api][root]")
{
    if (!needs_root("makes network namespaces and veth pairs (CAP_SYS_ADMIN, CAP_NET_ADMIN)"))
        return;
    NetnsHost na("a");
    NetnsHost nb("b");
    EtcdClusterOptions eo;
    eo.listen_addresses = {"127.0.0.1", na.root_address(Link::cluster), nb.root_address(Link::cluster)};
    EtcdCluster etcd(eo);
    BotApi api;
    FleetHost a("a", etcd.client_urls(na.root_address(Link::cluster)), api.url(na.root_address(Link::internet)),
                na.netns_fd());
    REQUIRE(eventually([&] { return a.leads_and_runs(); }));
    const std::string a_poller = a.poller();
    const hgw::UniqueFd a_gateway = a.gateway_pidfd();
    REQUIRE(api.wait_polls(a_poller, 2));
    FleetHost b("b", etcd.client_urls(nb.root_address(Link::cluster)), api.url(nb.root_address(Link::internet)),
                nb.netns_fd());
    REQUIRE(eventually([&] { return b.role() == "follower" && b.leader() != ""; }));

    na.link_down(Link::cluster);
    const auto cut = std::chrono::steady_clock::now();
    CHECK(wait_readable(a_gateway.get(), kTimeout)); // it exited, though the Bot API stayed reachable
    REQUIRE(eventually([&] { return b.leads_and_runs(); }));
    CHECK(api.wait_polls("b/", 1));
    CHECK(a.role() == "fenced");
    CHECK(a.state() == "stopped");
    // Three TTLs cut off, then healed: a comes back as a follower.
    std::this_thread::sleep_until(cut + 3 * kFleetTtlSeconds);
    CHECK(a.role() == "fenced");
    na.link_up(Link::cluster);
    CHECK(eventually([&] { return a.role() == "follower" && a.leader() != ""; }));
    CHECK(a.state() == "stopped");
    CHECK(b.leads_and_runs());

    INFO("overlaps:\n" << overlaps_text(api) << "daemon a:\n" << a.daemon.log());
    CHECK(api.overlaps().empty());
    CHECK(api.stats().at("overlaps") == 0);
}
