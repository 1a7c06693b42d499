#pragma once
// How the bus commands print what they learn: the status as text, the
// daemon's signals as one line (or one JSON object) each.

#include "cli/bus/gateway_client.h"
#include "cli/bus_request.h"

#include <cstdint>
#include <string>

namespace hgw::cli {

// A field of a JSON object, or the empty value when absent or of another type.
std::string str(const Json& j, const char* key);
long long num(const Json& j, const char* key);
bool flag(const Json& j, const char* key);

// "StateChanged: running -> replacing (update)".
std::string event_line(const BusEvent& e);
// {"time_usec":..., "signal":"StateChanged", "old_state":...}.
Json event_json(const BusEvent& e);

// "2024-05-07 10:00:00.123" in local time: a watch line's time stamp.
std::string local_time_millis(std::int64_t usec);

// The status as the aligned rows of `hermes-gatewayctl status`, on stdout.
void print_status(const Json& status, const BusTarget& target);

} // namespace hgw::cli
