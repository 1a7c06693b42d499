#pragma once
// The options dictionary (a{sv}) of Replace, Restart, Start and Stop.

#include "daemon/supervisor.h"
#include "dbus/types.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace hgw::bus {

// Longest `reason` accepted: it is logged and broadcast in signals.
inline constexpr std::size_t kMaxReasonBytes = 1024;

// Reads the keys the interface defines:
//   reason        s  free text
//   timeout_usec  t  0 means the daemon's default
//   if_generation t
// An empty map is fine. An unknown key, a value of another type, a reason
// longer than kMaxReasonBytes or a timeout that does not fit in
// microseconds throws sdbus::Error(HGW_BUS_ERROR_INVALID_ARGS) naming the key.
// `more_known`: the caller's own keys, named too when a key is unknown.
daemon::OpOptions parse_op_options(const VariantMap& options, std::string_view more_known = {});

// FleetHandover's: those of Stop, and
//   to  s  the host to lead next (HGW_BUS_OPTION_HANDOVER_TO); absent:
//          whoever is next in line. Empty is refused.
struct HandoverOptions {
    daemon::OpOptions op;
    std::string to;
};
HandoverOptions parse_handover_options(const VariantMap& options);

} // namespace hgw::bus
