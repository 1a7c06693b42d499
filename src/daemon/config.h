#pragma once
// hermes-gatewayd's configuration: a file (INI/TOML as CLI11 reads it),
// overridden by command-line flags.

#include "core/profile.h"
#include "util/duration.h"

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hgw::daemon {

using std::chrono::microseconds;
using namespace std::chrono_literals;

enum class BusKind { System, User, Address };

// When a started gateway counts as ready.
enum class Readiness {
    Notify,  // only its READY=1
    PidFile, // its READY=1, or its record written and its lock held
    Grace,   // its READY=1, or alive for ready_grace
};

// Fleet mode: one gateway per bot across hosts, elected on etcd
// (docs/fleet.md). Off while `endpoints` is empty.
struct FleetConfig {
    std::vector<std::string> endpoints; // etcd's client URLs
    std::string name;                   // the bot; hosts of one fleet share it
    std::string host;                   // what this host stands as; empty: its hostname
    microseconds ttl = 10s;             // the lease; renewed every ttl/3
    double clock_rate_error = 0.01;     // bound on clock rate differences
    std::string ca_file, cert_file, key_file; // TLS to etcd
    std::string user, password_file;          // etcd's authentication
    [[nodiscard]] bool enabled() const { return !endpoints.empty(); }
};

struct Config {
    // The gateway.
    std::vector<std::string> command;               // argv; argv[0] looked up in PATH
    std::map<std::string, std::string> environment; // added to the daemon's own
    std::filesystem::path working_directory;        // empty: the daemon's
    std::filesystem::path hermes_home;              // resolved like Hermes when empty
    std::string profile;                            // empty for the default home
    bool write_pidfile = false; // the daemon writes the record and holds the lock for a gateway that does neither
    Readiness readiness = Readiness::PidFile;

    // The bus.
    BusKind bus = BusKind::System;
    std::string bus_address; // for BusKind::Address
    std::optional<gid_t> allowed_group; // may call state-changing methods, besides root and our uid

    // Timeouts.
    microseconds ready_timeout = 60s;  // start -> ready, else the start failed
    microseconds ready_grace = 5s;     // for Readiness::Grace
    microseconds drain_timeout = 30s;  // SIGUSR1 -> exit, else SIGTERM
    microseconds stop_timeout = 10s;   // SIGTERM -> exit, else SIGKILL
    microseconds kill_timeout = 5s;    // SIGKILL -> exit, else give up (D state)
    microseconds child_watchdog = 0s;  // WATCHDOG_USEC for the gateway; 0: none

    // Restart policy.
    microseconds restart_delay = 1s;      // first back-off after a crash
    microseconds restart_delay_max = 60s; // back-off doubles up to this
    unsigned burst = 5;                   // crashes within burst_window ...
    microseconds burst_window = 120s;     // ... that enter `failed`
    // On entering `failed`, exit (78 after the gateway's configuration error,
    // else 1) instead of staying up without a gateway: for service managers.
    bool exit_on_failure = false;

    // Where the daemon listens for the gateway's sd_notify messages: empty
    // picks an abstract socket name of its own.
    std::string notify_socket;

    // Logging: "auto" (journal when run by systemd), "journal" or "stderr".
    std::string log_target = "auto";
    std::string log_level = "info";

    FleetConfig fleet;

    [[nodiscard]] std::string bus_name() const; // org.hermes.Gateway1[.profile]
};

// Reads flags and the configuration file they name (default
// /etc/hermes/gatewayd.conf when root, else $XDG_CONFIG_HOME/hermes/gatewayd.conf;
// a missing default file is fine, a missing named file is an error).
// Throws hgw::Error with a clear message on invalid input. Returns nothing
// when --help or --version was printed.
std::optional<Config> load_config(int argc, char** argv);


} // namespace hgw::daemon
