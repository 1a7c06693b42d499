#pragma once
// Fencing by time, measured on our own monotonic clock. etcd keeps a lease
// for its TTL after it processed the last renewal, and it processed that
// renewal after we sent it: so, measured from the send, the lease lives at
// least TTL on etcd's clock. Our clock may run faster or slower than etcd's
// by a bounded rate (clock_rate_error). The gateway must be dead before
// sent + TTL x (1 - clock_rate_error); stopping it takes up to stop_budget,
// so the stop begins at fence_at(). No wall clock and no reply time enters.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace hgw::fleet {

using std::chrono::microseconds;

struct FenceRule {
    microseconds ttl{10'000'000};
    double clock_rate_error = 0.01;  // |our rate / etcd's rate - 1| at most this
    microseconds stop_budget{0};     // SIGTERM -> exit, then SIGKILL -> gone
    microseconds request_timeout{1'000'000}; // one renewal's round trip, at most

    // Renewals are sent this often.
    [[nodiscard]] microseconds renew_every() const { return ttl / 3; }
    // For a renewal (or the grant) sent at `sent_usec` (CLOCK_MONOTONIC):
    // when the gateway must be dead, and when its stop must begin.
    [[nodiscard]] std::uint64_t dead_by(std::uint64_t sent_usec) const;
    [[nodiscard]] std::uint64_t fence_at(std::uint64_t sent_usec) const;
};

// Why `rule` cannot keep its promise, or nothing when it can: the next
// renewal must be able to finish before the stop has to begin, and, under a
// service manager's watchdog of `watchdog` (WATCHDOG_USEC), a frozen daemon
// must be killed, and its gateway with it, before its lease can lapse.
std::optional<std::string> fence_problem(const FenceRule& rule, std::optional<microseconds> watchdog);

} // namespace hgw::fleet
