#pragma once
// Runs an sdbus-c++ connection on our sd-event loop, on our one thread:
// the bus fd and its timeout become event sources, and before every sleep
// the events we wait for are refreshed (so queued replies and signals get
// written out without a wake-up of their own).
//
// A connection that fails (sd-bus reports an error, or the socket hangs up)
// is reported once through `on_lost`; from then on the pump does nothing.
// `on_lost` runs inside the pump's own callback: it must not destroy the
// pump there, only arrange for that (e.g. with EventLoop::add_defer).

#include "daemon/event_loop.h"

#include <sdbus-c++/IConnection.h>

#include <functional>
#include <string>

namespace hgw::bus {

using daemon::EventLoop;
using daemon::EventSource;

class BusPump {
public:
    using LostHandler = std::function<void(const std::string& why)>;

    // Throws if the connection cannot be polled (already broken).
    BusPump(EventLoop& loop, sdbus::IConnection& connection, LostHandler on_lost = {});

    // False once the connection was found broken.
    [[nodiscard]] bool alive() const { return !lost_; }

private:
    void process(std::uint32_t revents);
    void refresh();
    void lose(const std::string& why);

    EventLoop& loop_;
    sdbus::IConnection& connection_;
    LostHandler on_lost_;
    EventSource io_;
    EventSource timer_;
    std::uint64_t timer_at_ = 0;
    bool lost_ = false;
};

} // namespace hgw::bus
