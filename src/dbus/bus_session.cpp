#include "dbus/bus_session.h"

namespace hgw::bus {

namespace {

std::unique_ptr<sdbus::IConnection> connect(const daemon::Config& c)
{
    switch (c.bus) {
    case daemon::BusKind::System: return sdbus::createSystemBusConnection();
    case daemon::BusKind::User: return sdbus::createSessionBusConnection();
    case daemon::BusKind::Address: return sdbus::createSessionBusConnectionWithAddress(c.bus_address);
    }
    return sdbus::createSystemBusConnection();
}

} // namespace

BusSession::BusSession(daemon::EventLoop& loop, const daemon::Config& config, daemon::Supervisor& supervisor)
    : connection_(connect(config))
{
    object_ = std::make_unique<ManagerObject>(*connection_, loop, supervisor);
    connection_->requestName(config.bus_name()); // after the object exists, so no call finds it missing
    pump_ = std::make_unique<BusPump>(loop, *connection_);
}

BusSession::~BusSession() = default;

} // namespace hgw::bus
