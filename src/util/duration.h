#pragma once
// Durations as people write them, the way systemd does: "90s", "500ms",
// "1.5s", "2min", "1h", or a bare number of seconds.

#include <chrono>
#include <string>

namespace hgw {

// Throws hgw::Error, saying what is wrong, for anything else: empty,
// negative, an unknown unit, or too long to count in microseconds.
std::chrono::microseconds parse_duration(const std::string& text);

// "5min", "90s", "1h 2min 3s", "250ms": the largest units, no zero parts.
std::string format_duration(std::chrono::microseconds d);

} // namespace hgw
