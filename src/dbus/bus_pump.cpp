#include "dbus/bus_pump.h"

#include <limits>

namespace hgw::bus {

BusPump::BusPump(EventLoop& loop, sdbus::IConnection& connection) : loop_(loop), connection_(connection)
{
    auto data = connection_.getEventLoopPollData();
    io_ = loop_.add_io_with_prepare(
        data.fd, static_cast<std::uint32_t>(data.events), [this](std::uint32_t) { process(); },
        [this] { refresh(); });
}

void BusPump::process()
{
    while (connection_.processPendingRequest()) {
    }
}

void BusPump::refresh()
{
    auto data = connection_.getEventLoopPollData();
    EventLoop::set_io_events(io_, static_cast<std::uint32_t>(data.events));
    if (data.timeout_usec == std::numeric_limits<std::uint64_t>::max()) {
        timer_.reset();
        timer_at_ = 0;
    } else if (!timer_ || data.timeout_usec != timer_at_) {
        timer_at_ = data.timeout_usec;
        timer_ = loop_.add_timer_at(data.timeout_usec, [this] {
            timer_.reset();
            timer_at_ = 0;
            process();
        });
    }
}

} // namespace hgw::bus
