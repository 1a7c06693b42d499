// The etcd cluster of the fleet tests (support/etcd_cluster.h): real etcd
// members on loopback, a leader that is killed and replaced, a member that
// comes back from its data directory. No root needed.

#include "support/etcd_cluster.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

using namespace hgw::test;

namespace {

// The output of `etcdctl ARGS` against the cluster, which must succeed.
std::string ctl(const EtcdCluster& cluster, const std::vector<std::string>& args)
{
    RunResult r = run(cluster.etcdctl(args));
    INFO("etcdctl output: " << r.output);
    REQUIRE(r.exit_code == 0);
    return r.output;
}

std::string command_line(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string s;
    std::getline(in, s, '\0');
    return s;
}

} // namespace

TEST_CASE("etcd cluster: a killed leader is replaced, and the member comes back from its data", "[fleet][etcd]")
{
    EtcdCluster cluster;
    REQUIRE(cluster.size() == 3);
    std::set<std::string> ids;
    for (std::size_t i = 0; i < cluster.size(); ++i) {
        CHECK(cluster.running(i));
        CHECK(cluster.healthy(i));
        ids.insert(cluster.member_id(i));
    }
    CHECK(ids.size() == 3);
    CHECK(cluster.client_urls() == cluster.client_url(0) + "," + cluster.client_url(1) + "," + cluster.client_url(2));

    const std::size_t first = cluster.wait_leader();
    CHECK(ctl(cluster, {"put", "fleet/key", "one"}) == "OK\n");

    cluster.kill(first);
    CHECK_FALSE(cluster.running(first));
    CHECK(cluster.pid(first) == 0);
    const std::size_t second = cluster.wait_leader();
    CHECK(second != first);
    CHECK(ctl(cluster, {"get", "fleet/key", "--print-value-only"}) == "one\n");
    CHECK(ctl(cluster, {"put", "fleet/key", "two"}) == "OK\n");

    // Back from its data directory, it catches up with what it missed.
    cluster.start(first);
    cluster.wait_healthy(first);
    RunResult local = run({cluster.options().etcdctl, "--endpoints", cluster.client_url(first), "get", "fleet/key",
                           "--print-value-only", "--consistency=l"});
    INFO("etcdctl output: " << local.output);
    CHECK(local.exit_code == 0);
    CHECK(local.output == "two\n");

    // A graceful stop of the leader hands leadership on too.
    cluster.stop(second);
    const std::size_t third = cluster.wait_leader();
    CHECK(third != second);
    CHECK(ctl(cluster, {"get", "fleet/key", "--print-value-only"}) == "two\n");
}

TEST_CASE("etcd cluster: everything it started ends with it", "[fleet][etcd]")
{
    std::vector<pid_t> pids;
    std::filesystem::path dir;
    {
        EtcdClusterOptions o;
        o.members = 1;
        EtcdCluster cluster(o);
        dir = cluster.dir();
        REQUIRE(cluster.wait_leader() == 0);
        pids.push_back(cluster.pid(0));
        CHECK(command_line(pids[0]) == "/usr/bin/etcd");
        CHECK(std::filesystem::exists(cluster.log_path(0)));
    }
    CHECK_FALSE(std::filesystem::exists(dir));
    for (pid_t pid : pids)
        CHECK(command_line(pid) != "/usr/bin/etcd"); // gone (or its PID reused by another program)
}

TEST_CASE("etcd cluster: options it cannot honour are refused with the reason", "[fleet][etcd]")
{
    EtcdClusterOptions none;
    none.members = 0;
    CHECK_THROWS_WITH(EtcdCluster(none), Catch::Contains("at least one member"));
    EtcdClusterOptions bad_address;
    bad_address.listen_addresses = {"127.0.0.1", "localhost"};
    CHECK_THROWS_WITH(EtcdCluster(bad_address), Catch::Contains("'localhost' is not an IPv4 address"));
    EtcdClusterOptions bad_timing;
    bad_timing.election_timeout = std::chrono::milliseconds(300);
    CHECK_THROWS_WITH(EtcdCluster(bad_timing), Catch::Contains("at least 5 heartbeats"));
}
