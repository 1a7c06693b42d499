#pragma once
// `hermes-gatewayctl migrate`: moves the supervision of a Hermes gateway
// from the unit Hermes installed (`hermes gateway install`) to ours, with
// at most one replace worth of downtime, and back with --undo.

#include "cli/command_line.h"

namespace hgw::cli {

// Returns the exit code: 0 done (or --dry-run shown), 1 refused or failed.
int run_migrate(const MigrateRequest& request);

} // namespace hgw::cli
