#pragma once
// Real daemons for the daemon tests: hermes-gatewayd run against a private
// dbus-daemon (support/private_bus.h) with the stub gateway, watched through
// the same sd_notify protocol systemd uses, and a client of its interface.

#include "support/child_process.h"
#include "support/private_bus.h"
#include "support/stub_gateway.h"
#include "support/temp_home.h"

#include <sdbus-c++/sdbus-c++.h>

#include <signal.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hgw::test {

struct DaemonOptions {
    std::vector<std::string> daemon_args = {};   // extra flags for hermes-gatewayd
    std::vector<std::string> gateway_args = {};  // extra flags for the stub gateway
    std::map<std::string, std::string> env = {}; // extra environment, e.g. WATCHDOG_USEC
    bool watchdog_pid = false;                   // set WATCHDOG_PID to the daemon's own pid
    bool wait_ready = true;                      // wait for the daemon's READY=1
    std::string name = "daemon";                 // names its log and notify socket in the home
    // Run it (and so its gateways) in this network namespace
    // (NetnsHost::netns_fd(), support/netns_host.h); it then also dies with
    // the test. Its bus, a unix:path= socket, is reachable from any namespace.
    int netns_fd = -1;
};

// Short daemon timeouts for tests; a flag given in `extra_daemon_args`
// replaces its default here (the daemon refuses a flag given twice).
DaemonOptions quick(std::vector<std::string> extra_daemon_args = {}, std::vector<std::string> gateway_args = {});

// hermes-gatewayd on the bus at `bus_address` for the Hermes home `home`,
// supervising the stub gateway run with `gateway_args`, as systemd would run
// it: its sd_notify messages go to `notify`, its output (and its gateways')
// is appended to `log`. `options.gateway_args` are not used: the caller says
// which flags the gateway gets.
Child spawn_daemon(const std::string& bus_address, const std::filesystem::path& home,
                   const std::filesystem::path& log, const NotifyListener& notify, const DaemonOptions& options,
                   const std::vector<std::string>& gateway_args);

// hermes-gatewayd on a private bus, for one Hermes home.
class GatewayDaemon {
public:
    GatewayDaemon(const PrivateBus& bus, const TempHome& home, const DaemonOptions& options = {});
    // Stops the daemon with SIGTERM (it stops its gateway); a gateway left
    // by a daemon a test killed is ended by its verified identity.
    ~GatewayDaemon();
    GatewayDaemon(const GatewayDaemon&) = delete;
    GatewayDaemon& operator=(const GatewayDaemon&) = delete;

    [[nodiscard]] pid_t pid() const { return child_->pid(); }
    Child& process() { return *child_; }
    // The daemon's sd_notify messages, as systemd would receive them.
    NotifyListener& notifications() { return *notify_; }
    NotifyListener& notify() { return *notify_; }
    // Everything the daemon (and its gateways) logged so far.
    [[nodiscard]] std::string output() const;
    [[nodiscard]] std::string log() const { return output(); }
    // Stops the daemon with SIGTERM and returns its wait status: 0 when it
    // exited 0 (under ASan, leaks and errors at exit make it non-zero).
    int stop();
    // Once the daemon has exited (the caller killed or stopped it), starts a
    // new one as a service manager restarts a unit: same bus, home, options,
    // log and notify socket; waits for its own READY=1 if the options say so.
    void start_again();

private:
    std::string bus_address_;
    DaemonOptions options_;
    HomePaths paths_;
    std::filesystem::path log_;
    std::unique_ptr<NotifyListener> notify_;
    std::optional<Child> child_; // replaced by start_again()
};

// Ends the gateway a home's record names, if it is live, through a pidfd
// proven to name it; waits until it is gone.
void end_orphaned_gateway(const HomePaths& paths);

// Calls on the Manager interface at the default name and path (HGW_BUS_*).
class ManagerClient {
public:
    explicit ManagerClient(const PrivateBus& bus);

    std::map<std::string, sdbus::Variant> status();
    // Replace/Restart/Start: (pid, generation). Throws sdbus::Error.
    std::pair<std::uint32_t, std::uint64_t> call_op(const std::string& method,
                                                    const std::map<std::string, sdbus::Variant>& options = {});
    void stop(const std::map<std::string, sdbus::Variant>& options = {});
    sdbus::IProxy& proxy() { return *proxy_; }
    sdbus::IConnection& connection() { return *connection_; }

private:
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> proxy_;
};

std::string daemon_path();
std::string ctl_path();

} // namespace hgw::test
