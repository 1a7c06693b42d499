#pragma once
// The bus commands, one file each: they take the parsed request and return
// the exit code (see cli/exit_codes.h).

#include "cli/bus_request.h"

#include <chrono>

namespace hgw::cli {

using namespace std::chrono_literals;

// sd-bus's own default: enough for a reply that needs no waiting.
inline constexpr std::chrono::microseconds kQuickReplyTimeout = 25s;
// Replace, restart, start and stop wait for a gateway to drain and another to be ready.
inline constexpr std::chrono::microseconds kLongReplyTimeout = 5min;
// With --timeout D the daemon gets D for the operation; it may need this much
// more to bring a gateway back when the operation fails, before it answers.
inline constexpr std::chrono::microseconds kRollbackGrace = 1min;

int run_status(const BusRequest& request);
int run_lifecycle(const BusRequest& request); // replace, restart, start, stop
int run_wait_ready(const BusRequest& request);
int run_watch(const BusRequest& request);

} // namespace hgw::cli
