// After etcd's quorum was lost for longer than a lease, every daemon stands
// again with a new lease; etcd, once it has a leader again, extends the old
// leases too. A follower's old key would then hold its place in line for
// another TTL (and a handover to it would wait that long): the follower ends
// the lease it never led under as soon as etcd answers. The leader's old
// key is left to lapse: only the lapse proves its gateway stopped.

#include "fleet_host.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <sstream>

using namespace hgw::test;
using namespace std::chrono_literals;

namespace {

// The keys in line, oldest first; nothing while etcd cannot answer.
std::optional<std::vector<std::string>> fleet_keys(EtcdCluster& etcd)
{
    RunResult r = run(etcd.etcdctl({"get", "--prefix", "--keys-only", "/hermes-gatewayd/fleet/bot/"}));
    if (r.exit_code != 0)
        return std::nullopt;
    std::vector<std::string> keys;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);)
        if (!line.empty())
            keys.push_back(line);
    return keys;
}

bool has(const std::vector<std::string>& keys, const std::string& key)
{
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

} // namespace

TEST_CASE("fleet: after a lost quorum a follower ends the lease it never led under at once, the leader's lapses",
          "[fleet][etcd][bot-api]")
{
    EtcdCluster etcd;
    BotApi api;
    FleetHost a("a", etcd.client_urls(), api.url());
    REQUIRE(eventually([&] { return a.leads_and_runs(); }));
    const auto before_b = fleet_keys(etcd);
    REQUIRE(before_b);
    REQUIRE(before_b->size() == 1);
    const std::string leader_key = before_b->front();
    FleetHost b("b", etcd.client_urls(), api.url());
    REQUIRE(eventually([&] { return b.role() == "follower" && b.leader() != ""; }));
    const auto before = fleet_keys(etcd);
    REQUIRE(before);
    REQUIRE(before->size() == 2);
    const std::string follower_key = before->back();

    etcd.stop(1);
    etcd.stop(2);
    // Both give their leases up once etcd cannot have kept them (TTL on the
    // slowest allowed clock after their last renewal).
    REQUIRE(eventually([&] { return b.daemon.log().find("our place in line is gone") != std::string::npos; }));
    REQUIRE(eventually([&] { return a.role() == "fenced" && a.state() == "stopped"; }));
    etcd.start(1);
    etcd.start(2);

    // The follower's old key goes while the leader's, extended by etcd's
    // new leader as much as the follower's was, still waits for its lapse.
    std::vector<std::string> keys;
    REQUIRE(eventually([&] {
        auto now = fleet_keys(etcd);
        if (now)
            keys = *now;
        return now && !has(keys, follower_key);
    }));
    INFO("keys when the follower's old key was gone:\n" << [&] {
        std::string out;
        for (const auto& k : keys)
            out += k + "\n";
        return out;
    }());
    CHECK(has(keys, leader_key));
    // And the fleet comes back: one leader polls, no overlap.
    REQUIRE(eventually([&] { return a.leads_and_runs() || b.leads_and_runs(); }, 120s));
    INFO("overlaps:\n" << overlaps_text(api));
    CHECK(api.overlaps().empty());
}
