#include "daemon/restart_policy.h"

#include <algorithm>
#include <cstdio>

namespace hgw::daemon {

namespace {

std::string seconds_text(std::chrono::microseconds d)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3gs", static_cast<double>(d.count()) / 1e6);
    return buf;
}

} // namespace

RestartDecision RestartPolicy::on_exit(ExitClass exit, std::uint64_t now_usec)
{
    if (exit == ExitClass::ConfigError)
        return {RestartDecision::Kind::Fail, {}, "configuration error: the gateway exited with status 78"};
    if (exit == ExitClass::RestartMe)
        return {RestartDecision::Kind::Now, {}, "the gateway asked to be started again (exit 75)"};

    crashes_.push_back(now_usec);
    const auto window = static_cast<std::uint64_t>(limits_.burst_window.count());
    while (!crashes_.empty() && now_usec - crashes_.front() > window)
        crashes_.pop_front();
    if (crashes_.size() > limits_.burst)
        return {RestartDecision::Kind::Fail, {},
                "crashed " + std::to_string(crashes_.size()) + " times within " + seconds_text(limits_.burst_window)};

    // The first crash after a healthy run restarts at once (a kill -9
    // should cost nothing); each further one in a row waits twice as long.
    std::chrono::microseconds delay{0};
    if (consecutive_ > 0) {
        delay = limits_.delay;
        for (unsigned i = 1; i < consecutive_ && delay < limits_.delay_max; ++i)
            delay *= 2;
        delay = std::min(delay, limits_.delay_max);
    }
    ++consecutive_;
    if (delay.count() == 0)
        return {RestartDecision::Kind::Now, {}, "restarting at once"};
    return {RestartDecision::Kind::After, delay, "restarting in " + seconds_text(delay)};
}

void RestartPolicy::on_ready() { consecutive_ = 0; }

void RestartPolicy::reset()
{
    consecutive_ = 0;
    crashes_.clear();
}

} // namespace hgw::daemon
