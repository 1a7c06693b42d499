// hermes-gatewayd: supervises the Hermes gateway and serves its D-Bus API.
// One process, one thread: everything waits in one sd-event loop.

#include "daemon/config.h"
#include "daemon/event_loop.h"
#include "daemon/log.h"
#include "daemon/supervisor.h"
#include "daemon/systemd_notifier.h"
#include "dbus/bus_pump.h"
#include "dbus/manager_object.h"
#include "util/errors.h"

#include <sdbus-c++/sdbus-c++.h>

#include <signal.h>

#include <iostream>

using namespace hgw;
using namespace hgw::daemon;

namespace {

std::unique_ptr<sdbus::IConnection> connect(const Config& c)
{
    switch (c.bus) {
    case BusKind::System: return sdbus::createSystemBusConnection();
    case BusKind::User: return sdbus::createSessionBusConnection();
    case BusKind::Address: return sdbus::createSessionBusConnectionWithAddress(c.bus_address);
    }
    return sdbus::createSystemBusConnection();
}

// Pets systemd's watchdog at half its interval, but only while the gateway
// is healthy: a wedged gateway that we cannot heal should get us restarted.
class WatchdogPetter {
public:
    WatchdogPetter(EventLoop& loop, SystemdNotifier& systemd, const Supervisor& supervisor)
        : loop_(loop), systemd_(systemd), supervisor_(supervisor)
    {
        if (auto interval = systemd_.watchdog_interval())
            schedule(*interval / 2);
    }

private:
    void schedule(microseconds every)
    {
        timer_ = loop_.add_timer(every, [this, every] {
            if (supervisor_.healthy())
                systemd_.watchdog();
            schedule(every);
        });
    }
    EventLoop& loop_;
    SystemdNotifier& systemd_;
    const Supervisor& supervisor_;
    EventSource timer_;
};

int run(const Config& config)
{
    log::setup(config.log_target, config.log_level);
    EventLoop loop;
    SystemdNotifier systemd;
    // The connection outlives the supervisor: completions the supervisor
    // still holds at exit carry messages of this connection.
    auto connection = connect(config);
    Supervisor supervisor(loop, config, systemd);
    bus::ManagerObject object(*connection, supervisor);
    connection->requestName(config.bus_name()); // after the object exists, so no call finds it missing
    bus::BusPump pump(loop, *connection);
    WatchdogPetter petter(loop, systemd, supervisor);

    bool stopping = false;
    auto stop = [&] {
        if (stopping)
            return;
        stopping = true;
        log::info("shutting down");
        supervisor.shutdown([&](const OpResult& r) {
            if (!r.ok())
                log::error("shutdown: " + r.message);
            loop.exit(0);
        });
    };
    EventSource on_term = loop.add_signal(SIGTERM, stop);
    EventSource on_int = loop.add_signal(SIGINT, stop);
    EventSource on_hup = loop.add_signal(SIGHUP, [&] {
        OpOptions o;
        o.reason = "SIGHUP";
        supervisor.replace(o, true, [](const OpResult& r) {
            if (!r.ok())
                log::error("replace on SIGHUP failed: " + r.message);
        });
    });
    ::signal(SIGPIPE, SIG_IGN);

    log::info("serving " + config.bus_name() + " for " + supervisor.paths().home.string());
    supervisor.boot([](const OpResult& r) {
        if (!r.ok())
            log::error("the gateway did not start: " + r.message);
    });
    return loop.run();
}

} // namespace

int main(int argc, char** argv)
{
    try {
        auto config = load_config(argc, argv);
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
