#pragma once
// The daemon's bus: the connection, the Manager object and the pump that
// runs them on the loop.

#include "daemon/config.h"
#include "daemon/event_loop.h"
#include "daemon/supervisor.h"
#include "dbus/bus_pump.h"
#include "dbus/manager_object.h"

#include <sdbus-c++/sdbus-c++.h>

#include <memory>

namespace hgw::bus {

class BusSession {
public:
    BusSession(daemon::EventLoop& loop, const daemon::Config& config, daemon::Supervisor& supervisor);
    ~BusSession();

private:
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<ManagerObject> object_;
    std::unique_ptr<BusPump> pump_;
};

} // namespace hgw::bus
