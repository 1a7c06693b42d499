#pragma once
// Runs an sdbus-c++ connection on our sd-event loop, on our one thread:
// the bus fd and its timeout become event sources, and before every sleep
// the events we wait for are refreshed (so queued replies and signals get
// written out without a wake-up of their own).

#include "daemon/event_loop.h"

#include <sdbus-c++/IConnection.h>

namespace hgw::bus {

using daemon::EventLoop;
using daemon::EventSource;

class BusPump {
public:
    BusPump(EventLoop& loop, sdbus::IConnection& connection);

private:
    void process();
    void refresh();

    EventLoop& loop_;
    sdbus::IConnection& connection_;
    EventSource io_;
    EventSource timer_;
    std::uint64_t timer_at_ = 0;
};

} // namespace hgw::bus
