#include "fleet/fence.h"

#include "util/duration.h"

#include <cmath>

namespace hgw::fleet {

namespace {

microseconds scaled(microseconds d, double factor)
{
    return microseconds(static_cast<std::int64_t>(std::floor(static_cast<double>(d.count()) * factor)));
}

} // namespace

std::uint64_t FenceRule::dead_by(std::uint64_t sent_usec) const
{
    return sent_usec + static_cast<std::uint64_t>(scaled(ttl, 1.0 - clock_rate_error).count());
}

std::uint64_t FenceRule::fence_at(std::uint64_t sent_usec) const
{
    const std::uint64_t dead = dead_by(sent_usec);
    const auto budget = static_cast<std::uint64_t>(stop_budget.count());
    return dead > budget ? dead - budget : 0;
}

std::optional<std::string> fence_problem(const FenceRule& rule, std::optional<microseconds> watchdog)
{
    if (rule.ttl < microseconds(2'000'000))
        return "--fleet-ttl " + format_duration(rule.ttl) + " is shorter than etcd's shortest lease (2s)";
    if (rule.clock_rate_error < 0 || rule.clock_rate_error >= 0.5)
        return "--fleet-clock-error must be at least 0 and below 0.5, not " + std::to_string(rule.clock_rate_error);
    // A renewal sent one period after the last must be back before the stop begins.
    const microseconds usable = scaled(rule.ttl, 1.0 - rule.clock_rate_error) - rule.stop_budget;
    const microseconds needed = rule.renew_every() + rule.request_timeout;
    if (usable <= needed)
        return "--fleet-ttl " + format_duration(rule.ttl) + " leaves " + format_duration(usable) +
               " before the gateway's stop must begin (its stop takes up to " + format_duration(rule.stop_budget) +
               ": --stop-timeout plus the kill), but a renewal needs " + format_duration(needed) +
               " to come back: raise --fleet-ttl or lower --stop-timeout";
    if (watchdog) {
        // Frozen right before a renewal: the watchdog notices within its
        // interval, then the service manager kills the daemon and its gateway.
        const microseconds frozen_for = *watchdog + rule.stop_budget;
        const microseconds lease_left = scaled(rule.ttl, 1.0 - rule.clock_rate_error) - needed;
        if (frozen_for >= lease_left)
            return "the service manager's watchdog (" + format_duration(*watchdog) + ") plus the gateway's stop (" +
                   format_duration(rule.stop_budget) + ") is longer than what is left of a lease (" + format_duration(lease_left) +
                   ") when the daemon freezes just before a renewal: a frozen daemon's gateway could outlive its "
                   "lease. Lower WatchdogSec= (a drop-in) or raise --fleet-ttl";
    }
    return std::nullopt;
}

} // namespace hgw::fleet
