#pragma once
// What `hermes-gatewayctl status` says besides the daemon's answer: a unit
// file that shadows ours, or Hermes' own unit of the same profile, which a
// user would otherwise never learn of (systemctl just runs it).

#include "cli/bus_request.h"

namespace hgw::cli {

// Warns on stderr about the units in the way of the daemon that `request`
// addresses (its scope and profile); says nothing for --address.
void warn_about_shadowing_units(const BusRequest& request);

} // namespace hgw::cli
