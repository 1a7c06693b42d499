#pragma once
// `hermes-gatewayctl pidfile show|check|clean`: the core's PID-file protocol,
// with no daemon and no bus.

#include "cli/command_line.h"

namespace hgw::cli {

// Runs the action and returns the exit code (2 for a missing or bad home).
int run_pidfile(const PidfileRequest& request);

} // namespace hgw::cli
