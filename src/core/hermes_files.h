#pragma once
// Files Hermes itself keeps in its home besides gateway.pid and gateway.lock,
// read so the daemon can live beside Hermes' own start-up logic:
//  - .gateway-takeover.json: written by `hermes gateway run --replace`
//    before it SIGTERMs the running gateway; it names that (old) gateway;
//  - gateway-starts.log: one start time (epoch seconds) per line, from which
//    Hermes' respawn-storm breaker decides to sleep before a start.
// Both are written by others: every parse is total (bad bytes: nothing).

#include "core/home.h"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw {

struct TakeoverMarker {
    pid_t target_pid = 0;                        // the gateway being taken over
    std::optional<std::uint64_t> target_start_time;
    pid_t replacer_pid = 0;                      // the `--replace` process, the next gateway
};

std::optional<TakeoverMarker> parse_takeover_marker(std::string_view json);
std::optional<TakeoverMarker> read_takeover_marker(const HomePaths& paths);

// Hermes' storm breaker: how long a gateway starting now sleeps before it
// takes the lock, given the start times in gateway-starts.log (its own start
// included, as Hermes logs it first) and `now` (epoch seconds). More than
// `max_starts` within `window` seconds: min(300, 5 * 2^min(K - max_starts, 6))
// seconds for the K-th; max_starts <= 0 turns the breaker off.
struct StormRule {
    int max_starts = 5;
    double window_s = 120;
};
std::chrono::seconds storm_backoff(const std::vector<double>& starts, double now, const StormRule& rule);

std::vector<double> parse_starts_log(std::string_view text);
std::vector<double> read_starts_log(const HomePaths& paths);

} // namespace hgw
