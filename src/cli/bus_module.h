#pragma once
// Runs a bus command through hermes-gatewayctl's D-Bus module.
//
// The module (hermes-gatewayctl-bus.so, sources in cli/bus/) is the only
// part of the client linked against libsystemd. It is loaded with dlopen
// only when a bus command runs, so that `pidfile` and `--help` start with
// libc and libstdc++ alone. It lives at HGW_CTL_MODULE_RELDIR from the
// directory of the running binary: ../lib/<multiarch>/hermes-gatewayd once
// installed, and the build puts it at the same place relative to the
// binary, so a build tree runs without installing.

#include "cli/bus_request.h"

namespace hgw::cli {

// Loads the module and runs the command; the exit code. A module that
// cannot be loaded is reported (exit 1).
int run_bus_command(const BusRequest& request);

} // namespace hgw::cli
