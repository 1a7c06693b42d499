// Hosts in network namespaces (support/netns_host.h): etcd reached over a
// host's cluster link, a partition made by taking that link down, and the
// internet link that stays up meanwhile. Needs root.

#include "helpers/needs_root.h"
#include "support/bot_api.h"
#include "support/etcd_cluster.h"
#include "support/netns_host.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace hgw::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kWhy = "makes network namespaces and veth pairs (CAP_SYS_ADMIN, CAP_NET_ADMIN)";

// etcdctl in `host` against `cluster` over the host's cluster link, with
// etcdctl's own deadlines: 2 s to connect, 5 s for the request.
RunResult ctl_in(const NetnsHost& host, const EtcdCluster& cluster, std::vector<std::string> args)
{
    args.insert(args.begin(), {"--dial-timeout=2s", "--command-timeout=5s"});
    return host.run(cluster.etcdctl(args, host.root_address(Link::cluster)));
}

// An HTTP GET from inside `host`, by Python's client: 0 and the body, or
// the error.
RunResult get_in(const NetnsHost& host, const std::string& url)
{
    return host.run({"/usr/bin/python3", "-c",
                     "import sys, time, urllib.request\n"
                     "t = time.monotonic()\n"
                     "try:\n"
                     "    print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())\n"
                     "except OSError as e:\n"
                     "    sys.exit(f'{e} after {time.monotonic() - t:.3f} s')",
                     url});
}

} // namespace

TEST_CASE("netns host: etcd over the cluster link, a partition when it goes down, healed when it comes up",
          "[fleet][netns][root]")
{
    if (!needs_root(kWhy))
        return;
    NetnsHost a("a");
    EtcdClusterOptions o;
    o.listen_addresses = {"127.0.0.1", a.root_address(Link::cluster)};
    EtcdCluster cluster(o);
    BotApi api;

    RunResult put = ctl_in(a, cluster, {"put", "fleet/a", "1"});
    INFO("put: " << put.output);
    REQUIRE(put.exit_code == 0);
    CHECK(ctl_in(a, cluster, {"get", "fleet/a", "--print-value-only"}).output == "1\n");
    CHECK(run(cluster.etcdctl({"get", "fleet/a", "--print-value-only"})).output == "1\n");
    // etcd listens on the cluster link only: the internet link is no way round a partition.
    RunResult round = a.run(
        {cluster.options().etcdctl, "--dial-timeout=2s", "--endpoints", cluster.client_urls(a.root_address(Link::internet)),
         "get", "fleet/a"});
    CHECK(round.exit_code != 0);

    a.link_down(Link::cluster);
    CHECK_FALSE(a.is_up(Link::cluster));
    CHECK(a.is_up(Link::internet));
    const auto t0 = Clock::now();
    RunResult cut = ctl_in(a, cluster, {"put", "fleet/a", "2"});
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    INFO("put while partitioned, after " << took.count() << " ms: " << cut.output);
    CHECK(cut.exit_code != 0);
    CHECK(cut.output != "<timed out>"); // etcdctl gave up by itself, within its deadlines
    // Only the cluster link is cut: the Bot API is still reachable.
    RunResult stats = get_in(a, api.url(a.root_address(Link::internet)) + "/stats");
    INFO("GET /stats from the host: " << stats.output);
    CHECK(stats.exit_code == 0);
    CHECK(stats.output.find("\"overlaps\": 0") != std::string::npos);
    CHECK(run(cluster.etcdctl({"get", "fleet/a", "--print-value-only"})).output == "1\n");

    a.link_up(Link::cluster);
    CHECK(a.is_up(Link::cluster));
    RunResult healed = ctl_in(a, cluster, {"put", "fleet/a", "3"});
    INFO("put after the link came back: " << healed.output);
    CHECK(healed.exit_code == 0);
    CHECK(run(cluster.etcdctl({"get", "fleet/a", "--print-value-only"})).output == "3\n");

    // And the internet link can be cut on its own.
    a.link_down(Link::internet);
    CHECK(get_in(a, api.url(a.root_address(Link::internet)) + "/stats").exit_code != 0);
    CHECK(ctl_in(a, cluster, {"get", "fleet/a", "--print-value-only"}).output == "3\n");
    a.link_up(Link::internet);
    RunResult back = get_in(a, api.url(a.root_address(Link::internet)) + "/stats");
    INFO("GET /stats after the internet link came back: " << back.output);
    CHECK(back.exit_code == 0);
}

TEST_CASE("netns host: its own addresses and loopback, and nothing left when it ends", "[fleet][netns][root]")
{
    if (!needs_root(kWhy))
        return;
    std::string cluster_if;
    std::string internet_if;
    {
        NetnsHost a("a");
        NetnsHost b("b");
        CHECK(a.index() != b.index());
        cluster_if = a.interface(Link::cluster);
        internet_if = a.interface(Link::internet);
        CHECK(cluster_if == "hgwc" + std::to_string(a.index()));
        CHECK(a.root_address(Link::cluster) == "10.213." + std::to_string(a.index()) + ".1");
        CHECK(a.host_address(Link::internet) == "10.213." + std::to_string(a.index()) + ".6");

        RunResult addrs = a.run({ip_command(), "-4", "-o", "addr", "show"});
        INFO("addresses in the namespace:\n" << addrs.output);
        REQUIRE(addrs.exit_code == 0);
        CHECK(addrs.output.find("lo    inet 127.0.0.1/8") != std::string::npos);
        CHECK(addrs.output.find("cluster    inet " + a.host_address(Link::cluster) + "/30") != std::string::npos);
        CHECK(addrs.output.find("internet    inet " + a.host_address(Link::internet) + "/30") != std::string::npos);
        CHECK(addrs.output.find(b.host_address(Link::cluster)) == std::string::npos);

        // Loopback works inside; the other host is not reachable at all.
        RunResult ping_lo = a.run({"/usr/bin/python3", "-c",
                                   "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
                                   "socket.create_connection(s.getsockname(), timeout=5)"});
        INFO(ping_lo.output);
        CHECK(ping_lo.exit_code == 0);
        CHECK(a.run({ip_command(), "route", "get", b.host_address(Link::cluster)}).exit_code != 0);

        // nsenter finds the namespace by netns_path() while the host lives.
        RunResult entered = run({"/usr/bin/nsenter", "--net=" + a.netns_path(), ip_command(), "-o", "link", "show"});
        INFO(entered.output);
        CHECK(entered.exit_code == 0);
        CHECK(entered.output.find(": cluster@") != std::string::npos);
    }
    CHECK(run({ip_command(), "link", "show", "dev", cluster_if}).exit_code != 0);
    CHECK(run({ip_command(), "link", "show", "dev", internet_if}).exit_code != 0);
}
