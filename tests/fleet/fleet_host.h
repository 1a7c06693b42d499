#pragma once
// A fleet-mode "host" for the fleet tests: its own Hermes home, D-Bus bus
// and hermes-gatewayd elected on the given etcd (standing as --fleet-host
// <name>: the hosts share one hostname), its stub gateway
// long-polling one bot token on the fake Bot API and naming itself
// "<name>/<pid>" there. With a network namespace (support/netns_host.h) the
// daemon and its gateway run inside it, reaching etcd and the Bot API at
// the addresses given.

#include "support/bot_api.h"
#include "support/bus_harness.h"
#include "support/etcd_cluster.h"
#include "process/pidfd.h"
#include "util/unique_fd.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace hgw::test {

inline constexpr const char* kFleetToken = "4242:fleet-mode";
// Renewed every 1.67 s; a leader that cannot renew stops its gateway 2.95 s
// after its last renewal was sent (TTL x 0.99 - (stop timeout + 1 s)).
inline constexpr const char* kFleetTtl = "5s";
inline constexpr std::chrono::seconds kFleetTtlSeconds{5};

struct FleetHost {
    // `extra_args`: more daemon flags, after the fleet's own.
    FleetHost(const std::string& host_name, const std::string& etcd_urls, const std::string& bot_api_url,
              int netns_fd = -1, const std::vector<std::string>& extra_args = {})
        : name(host_name), daemon(bus, home, options(host_name, etcd_urls, bot_api_url, netns_fd, extra_args)),
          client(bus)
    {
    }

    static DaemonOptions options(const std::string& name, const std::string& etcd_urls, const std::string& api_url,
                                 int netns_fd, const std::vector<std::string>& extra_args = {})
    {
        std::vector<std::string> args = {"--stop-timeout", "1s", "--fleet-endpoints", etcd_urls, "--fleet-name", "bot",
                                         "--fleet-host", name, "--fleet-ttl", kFleetTtl};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        DaemonOptions o = quick(args);
        o.env = {{"HERMES_STUB_BOT_API", api_url}, {"HERMES_STUB_BOT_TOKEN", kFleetToken}, {"HERMES_STUB_HOST", name}};
        o.name = "daemon-" + name;
        o.netns_fd = netns_fd;
        return o;
    }

    std::string role()
    {
        try {
            auto s = client.status();
            return s.count("fleet_role") ? s.at("fleet_role").get<std::string>() : "standalone";
        } catch (const sdbus::Error&) {
            return "unreachable";
        }
    }
    std::string state() { return client.status().at("state").get<std::string>(); }
    std::string leader() { return client.status().at("fleet_leader").get<std::string>(); }
    std::uint32_t gateway() { return client.status().at("pid").get<std::uint32_t>(); }
    std::string poller() { return name + "/" + std::to_string(gateway()); }
    // The gateway that runs now, as a pidfd: readable once it has exited.
    hgw::UniqueFd gateway_pidfd() { return hgw::UniqueFd(hgw::pidfd_open(static_cast<pid_t>(gateway()))); }
    bool leads_and_runs() { return role() == "leader" && state() == "running"; }

    std::string name;
    PrivateBus bus;
    TempHome home;
    GatewayDaemon daemon;
    ManagerClient client;
};

// A state check repeated until it holds (generous; for correctness only).
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(60))
{
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

inline std::string overlaps_text(const BotApi& api)
{
    std::string out;
    for (const auto& o : api.overlaps())
        out += o.dump() + "\n";
    return out;
}

} // namespace hgw::test
