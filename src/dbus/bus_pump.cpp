#include "dbus/bus_pump.h"

#include <sys/epoll.h>

#include <exception>
#include <limits>

namespace hgw::bus {

BusPump::BusPump(EventLoop& loop, sdbus::IConnection& connection, LostHandler on_lost)
    : loop_(loop), connection_(connection), on_lost_(std::move(on_lost))
{
    auto data = connection_.getEventLoopPollData();
    io_ = loop_.add_io_with_prepare(
        data.fd, static_cast<std::uint32_t>(data.events), [this](std::uint32_t revents) { process(revents); },
        [this] { refresh(); });
}

void BusPump::process(std::uint32_t revents)
{
    if (lost_)
        return;
    try {
        while (connection_.processPendingRequest()) {
        }
    } catch (const std::exception& e) {
        lose(e.what());
        return;
    } catch (...) {
        lose("unknown error while processing the bus");
        return;
    }
    // sd-bus sees a closed socket when it reads it, and then fails the next
    // call above. A hang-up it did not notice must not make this source fire
    // for ever.
    if (revents & (EPOLLHUP | EPOLLERR))
        lose(revents & EPOLLERR ? "error on the bus socket" : "the bus hung up");
}

void BusPump::refresh()
{
    if (lost_)
        return;
    try {
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
                process(0);
            });
        }
    } catch (const std::exception& e) {
        lose(e.what());
    } catch (...) {
        lose("unknown error while polling the bus");
    }
}

void BusPump::lose(const std::string& why)
{
    if (lost_)
        return;
    lost_ = true;
    // Quiet from now on; the sources go with the pump.
    if (io_)
        sd_event_source_set_enabled(io_.get(), SD_EVENT_OFF);
    if (timer_)
        sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
    if (on_lost_)
        on_lost_(why);
}

} // namespace hgw::bus
