#pragma once
// When to start the gateway again after it exited on its own: at once, after
// a back-off, or never (failed). Pure: the clock is passed in, so it is
// tested alone.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace hgw::daemon {

struct RestartLimits {
    std::chrono::microseconds delay{1'000'000};      // first back-off after a crash in a row
    std::chrono::microseconds delay_max{60'000'000}; // the back-off doubles up to this
    unsigned burst = 5;                               // more crashes than this within ...
    std::chrono::microseconds burst_window{120'000'000}; // ... this window: failed
};

enum class ExitClass {
    Crash,       // died, or exited non-zero, or never became ready
    RestartMe,   // exit 75 after it had been ready: "drained, start me again"
    ConfigError, // exit 78: do not restart
};

struct RestartDecision {
    enum class Kind { Now, After, Fail } kind = Kind::Now;
    std::chrono::microseconds delay{0};
    std::string why; // for Fail: "crashed 6 times within 120s"
};

class RestartPolicy {
public:
    explicit RestartPolicy(RestartLimits limits) : limits_(limits) {}

    // The gateway exited (`now`: CLOCK_MONOTONIC, µs). Records it and decides.
    RestartDecision on_exit(ExitClass exit, std::uint64_t now_usec);
    // The gateway became ready: the next crash restarts at once again.
    void on_ready();
    // A person asked for a start: forget the crash history.
    void reset();

    [[nodiscard]] unsigned consecutive_crashes() const { return consecutive_; }

private:
    RestartLimits limits_;
    std::deque<std::uint64_t> crashes_; // times within the burst window
    unsigned consecutive_ = 0;          // crashes since the last readiness
};

} // namespace hgw::daemon
