#pragma once
// Real buses and real daemons for the daemon tests: a private dbus-daemon
// that admits every uid (so setpriv'd callers can reach it), and
// hermes-gatewayd run against it with the stub gateway, watched through the
// same sd_notify protocol systemd uses.

#include "support/child_process.h"
#include "support/temp_home.h"

#include <sdbus-c++/sdbus-c++.h>

#include <signal.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hgw::test {

class PrivateBus {
public:
    // With a service_dir, the bus starts the services whose activation
    // files are in it (D-Bus activation), as the system bus does.
    explicit PrivateBus(const std::filesystem::path& service_dir = {});
    ~PrivateBus();
    PrivateBus(const PrivateBus&) = delete;
    PrivateBus& operator=(const PrivateBus&) = delete;

    // unix:path=<socket>, without the bus's guid: the address stays valid
    // across restart(), which gives the bus a new guid.
    [[nodiscard]] const std::string& address() const { return address_; }
    [[nodiscard]] std::unique_ptr<sdbus::IConnection> connect() const;
    [[nodiscard]] pid_t pid() const { return pid_; }

    // Ends the dbus-daemon (with `sig`; SIGKILL leaves its socket file behind,
    // as a crash does) and waits until it is gone. Every connection to it
    // breaks. Does nothing if it is not running.
    void stop(int sig = SIGTERM);
    // Starts a dbus-daemon again on the same socket path and configuration
    // (a new process, a new guid, no connections, no names).
    void start();
    void restart(int sig = SIGTERM)
    {
        stop(sig);
        start();
    }

private:
    TempHome dir_;
    std::filesystem::path config_;
    std::string address_;
    pid_t pid_ = 0;
};

struct DaemonOptions {
    std::vector<std::string> daemon_args = {};   // extra flags for hermes-gatewayd
    std::vector<std::string> gateway_args = {};  // extra flags for the stub gateway
    std::map<std::string, std::string> env = {}; // extra environment, e.g. WATCHDOG_USEC
    bool watchdog_pid = false;                   // set WATCHDOG_PID to the daemon's own pid
    bool wait_ready = true;                      // wait for the daemon's READY=1
    std::string name = "daemon";                 // names its log and notify socket in the home
};

// Short daemon timeouts for tests; a flag given in `extra_daemon_args`
// replaces its default here (the daemon refuses a flag given twice).
DaemonOptions quick(std::vector<std::string> extra_daemon_args = {}, std::vector<std::string> gateway_args = {});

// hermes-gatewayd on a private bus, for one Hermes home.
class GatewayDaemon {
public:
    GatewayDaemon(const PrivateBus& bus, const TempHome& home, const DaemonOptions& options = {});
    // Stops the daemon with SIGTERM (it stops its gateway); a gateway left
    // by a daemon a test killed is ended by its verified identity.
    ~GatewayDaemon();
    GatewayDaemon(const GatewayDaemon&) = delete;
    GatewayDaemon& operator=(const GatewayDaemon&) = delete;

    [[nodiscard]] pid_t pid() const { return child_.pid(); }
    Child& process() { return child_; }
    // The daemon's sd_notify messages, as systemd would receive them.
    NotifyListener& notifications() { return *notify_; }
    NotifyListener& notify() { return *notify_; }
    // Everything the daemon (and its gateways) logged so far.
    [[nodiscard]] std::string output() const;
    [[nodiscard]] std::string log() const { return output(); }
    // Stops the daemon with SIGTERM and returns its wait status: 0 when it
    // exited 0 (under ASan, leaks and errors at exit make it non-zero).
    int stop();

private:
    HomePaths paths_;
    std::filesystem::path log_;
    std::unique_ptr<NotifyListener> notify_;
    Child child_;
};

// Ends the gateway a home's record names, if it is live, through a pidfd
// proven to name it; waits until it is gone.
void end_orphaned_gateway(const HomePaths& paths);

// Calls on org.hermes.Gateway1 at the default name and path.
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
std::vector<std::string> stub_command(const std::vector<std::string>& extra = {});

} // namespace hgw::test
