#include "cli/no_auto_start.h"

#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace hgw::cli {

namespace {

// sdbus-c++ 1.2 has no setter for the flag, and keeps the sd_bus_message it
// wraps in a protected member. A pointer to that member, formed in a derived
// class, reads it from any Message without a cast.
struct MessageInternals : sdbus::Message {
    static constexpr void* sdbus::Message::*raw = &MessageInternals::msg_;
};

} // namespace

void forbid_auto_start(sdbus::MethodCall& call)
{
    auto* msg = static_cast<sd_bus_message*>(call.*MessageInternals::raw);
    if (int r = sd_bus_message_set_auto_start(msg, 0); r < 0)
        throw std::runtime_error(std::string("sd_bus_message_set_auto_start: ") + std::strerror(-r));
}

} // namespace hgw::cli
