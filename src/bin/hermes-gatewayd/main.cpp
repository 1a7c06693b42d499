// hermes-gatewayd: supervises the Hermes gateway and serves its D-Bus API.
// One process, one thread: everything waits in one sd-event loop.

#include "core/manager_lock.h"
#include "daemon/config.h"
#include "daemon/event_loop.h"
#include "daemon/fleet_member.h"
#include "daemon/log.h"
#include "daemon/supervisor.h"
#include "daemon/systemd_notifier.h"
#include "daemon/systemd_reporter.h"
#include "dbus/bus_session.h"
#include "util/errors.h"

#include <sdbus-c++/sdbus-c++.h>

#include <signal.h>
#include <string.h>

#include <iostream>
#include <optional>
#include <variant>

using namespace hgw;
using namespace hgw::daemon;

namespace {

// Our own options or configuration are wrong. Restarting cannot help: exit
// 78 (sysexits' EX_CONFIG), as after the gateway's configuration error,
// which the unit does not restart (RestartPreventExitStatus=78).
int config_error(const Error& e)
{
    std::cerr << "hermes-gatewayd: " << describe(e) << "\n";
    return 78;
}

// Pets systemd's watchdog at half its interval, but only while the gateway
// is healthy: a wedged gateway that we cannot heal should get us restarted.
class WatchdogPetter {
public:
    WatchdogPetter(EventLoop& loop, SystemdNotifier& systemd, const Supervisor& supervisor)
        : loop_(loop), systemd_(systemd), supervisor_(supervisor)
    {
        if (auto interval = systemd_.watchdog_interval())
            schedule(*interval / 2, *interval);
    }

private:
    void schedule(microseconds every, microseconds interval)
    {
        timer_ = loop_.add_timer(every, [this, every, interval] {
            if (supervisor_.healthy(interval))
                systemd_.watchdog();
            schedule(every, interval);
        });
    }
    EventLoop& loop_;
    SystemdNotifier& systemd_;
    const Supervisor& supervisor_;
    EventSource timer_;
};

// What each signal a person or a script may send does. None of them may
// kill the daemon and orphan its gateway.
class SignalHandlers {
public:
    SignalHandlers(EventLoop& loop, Supervisor& supervisor) : loop_(loop), supervisor_(supervisor)
    {
        for (int sig : {SIGTERM, SIGINT, SIGQUIT})
            add(sig, [this, sig] { shut_down(sig); });
        // HUP: reload, as `systemctl reload` (ExecReload) asks: a restart.
        add(SIGHUP, [this] { replace(true, "SIGHUP"); });
        // USR1: Hermes drains on it; to the daemon it means "replace the gateway".
        add(SIGUSR1, [this] { replace(false, "SIGUSR1"); });
        // USR2: say where we are.
        add(SIGUSR2, [this] { log_status(); });
        for (int sig : {SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT})
            add(sig, [sig] { log::info(std::string("ignoring ") + sigabbrev_np(sig)); });
        // A closed pipe or an oversized file fails the call instead.
        ::signal(SIGPIPE, SIG_IGN);
        ::signal(SIGXFSZ, SIG_IGN);
    }

private:
    void add(int sig, EventLoop::Callback cb) { sources_.push_back(loop_.add_signal(sig, std::move(cb))); }

    void shut_down(int sig)
    {
        if (stopping_)
            return;
        stopping_ = true;
        log::info(std::string("shutting down on ") + sigabbrev_np(sig));
        supervisor_.shutdown([this](const OpResult& r) {
            if (!r.ok())
                log::error("shutdown: " + r.message);
            loop_.exit(0);
        });
    }

    void replace(bool restart_if_stopped, const char* why)
    {
        supervisor_.replace(OpOptions{why, {}, {}}, restart_if_stopped, [why](const OpResult& r) {
            if (!r.ok())
                log::error(std::string("replace on ") + why + " failed: " + r.message);
        });
    }

    void log_status() const
    {
        Snapshot s = supervisor_.snapshot();
        std::string line = "status: " + std::string(to_string(s.state)) + " (phase " +
                           std::string(to_string(s.phase)) + ", job " + std::string(to_string(s.job)) + ")";
        if (s.pid)
            line += ", gateway pid " + std::to_string(s.pid) + " generation " + std::to_string(s.generation);
        if (!s.blocked_reason.empty())
            line += ", blocked: " + s.blocked_reason;
        if (!s.failure_reason.empty())
            line += ", failed: " + s.failure_reason;
        log::info(line);
    }

    EventLoop& loop_;
    Supervisor& supervisor_;
    std::vector<EventSource> sources_;
    bool stopping_ = false;
};

int run(const Config& config)
{
    log::setup(config.log_target, config.log_level);
    const HomePaths paths = paths_for(config.hermes_home.empty() ? default_home() : config.hermes_home);

    // One daemon per home, whatever bus it serves: a second one touches nothing.
    std::optional<ManagerLock> manager;
    try {
        auto got = ManagerLock::try_acquire(paths);
        if (auto* held = std::get_if<ManagerLock::Held>(&got)) {
            std::cerr << "hermes-gatewayd: another hermes-gatewayd (pid " << held->pid << ") manages "
                      << paths.home.string() << "\n";
            return 1;
        }
        if (auto* lock = std::get_if<ManagerLock>(&got))
            manager.emplace(std::move(*lock));
    } catch (const Error& e) {
        // The home is missing, read-only or unsafe now: the supervisor waits
        // and takes the lock before its first start.
        log::warning("cannot take the manager lock yet: " + describe(e));
    }

    EventLoop loop;
    SystemdNotifier systemd;
    // Fleet mode's promise is checked before anything runs. A configuration
    // that cannot keep it (WatchdogSec= included) is a configuration error.
    std::optional<fleet::FenceRule> fence_rule;
    if (config.fleet.enabled()) {
        try {
            fence_rule = fence_rule_for(config, systemd.watchdog_interval());
        } catch (const Error& e) {
            return config_error(e);
        }
    }
    Supervisor supervisor(loop, config, std::move(manager));
    loop.set_fault_handler(
        [&supervisor](const char* where, const std::string& what) { supervisor.on_fault(where, what); });
    SystemdReporter reporter(systemd, config.exit_on_failure);
    supervisor.add_observer(&reporter);
    // The bus session outlives nothing the supervisor holds: completions the
    // supervisor still holds at exit are answered (or dropped) before it goes.
    bus::BusSession bus(loop, config, supervisor);
    WatchdogPetter petter(loop, systemd, supervisor);
    SignalHandlers signals(loop, supervisor);

    log::info("serving " + config.bus_name() + " for " + supervisor.paths().home.string());
    // In a fleet, the gateway starts when this host is elected; alone, now.
    std::unique_ptr<FleetMember> fleet;
    if (fence_rule) {
        fleet = std::make_unique<FleetMember>(loop, supervisor, config, *fence_rule,
                                              [&bus, &reporter](const FleetStatus& s) {
                                                  bus.fleet_changed(s);
                                                  reporter.fleet_changed(s);
                                              });
        bus.set_fleet(fleet.get());
        reporter.fleet_changed(fleet->status());
    } else {
        supervisor.boot([](const OpResult& r) {
            if (!r.ok())
                log::error("the gateway did not start: " + r.message);
        });
    }
    int code = loop.run();
    bus.set_fleet(nullptr);
    fleet.reset(); // the gateway is stopped by now: our lease is given back at once
    supervisor.remove_observer(&reporter);
    return code;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        std::optional<Config> config;
        try {
            config = load_config(argc, argv);
        } catch (const Error& e) {
            return config_error(e);
        }
        if (!config)
            return 0; // --help or --version
        return run(*config);
    } catch (const Error& e) {
        std::cerr << "hermes-gatewayd: " << describe(e) << "\n";
        return 1;
    } catch (const sdbus::Error& e) {
        std::cerr << "hermes-gatewayd: D-Bus: " << e.getName() << ": " << e.getMessage() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "hermes-gatewayd: " << e.what() << "\n";
        return 1;
    }
}
