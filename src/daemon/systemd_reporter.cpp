#include "daemon/systemd_reporter.h"

namespace hgw::daemon {

namespace {

std::string status_line(State state, pid_t pid, std::uint64_t generation, const std::string& reason)
{
    std::string status(to_string(state));
    if (pid > 0)
        status += ", gateway pid " + std::to_string(pid) + " (generation " + std::to_string(generation) + ")";
    if (!reason.empty())
        status += ": " + reason;
    return status;
}

} // namespace

std::string SystemdReporter::with_fleet(const std::string& status) const
{
    return fleet_.empty() ? status : fleet_ + "; " + status;
}

void SystemdReporter::fleet_changed(const FleetStatus& fleet)
{
    fleet_ = "fleet " + std::string(to_string(fleet.role));
    if (!fleet.leader.empty() && fleet.role != FleetRole::Leader)
        fleet_ += " (leader " + fleet.leader + ")";
    const std::string status = with_fleet(std::string(to_string(state_)));
    if (!told_ready_ && fleet.role != FleetRole::Leader) {
        told_ready_ = true;
        systemd_.ready(status);
    } else {
        systemd_.status(status);
    }
}

void SystemdReporter::phase_changed(const PhaseChange& c)
{
    state_ = c.state_to;
    std::string status = with_fleet(status_line(c.state_to, c.pid, c.generation, c.reason));
    if (c.job == Job::Shutdown && !stopping_) {
        stopping_ = true;
        reloading_ = false; // STOPPING=1 ends a reload too
        systemd_.stopping(status);
    } else if (c.state_to == State::Replacing && c.state_from != State::Replacing && !stopping_) {
        reloading_ = true;
        systemd_.reloading(status);
    } else if (c.state_to == State::Failed && !told_ready_ && !exit_on_failure_) {
        // The first gateway never became ready: say READY=1 anyway, so that
        // `systemctl start` returns and shows why (STATUS=), instead of
        // hanging until its timeout and starting the same failure again.
        told_ready_ = true;
        reloading_ = false;
        systemd_.ready(status);
    } else if (reloading_ && (c.state_to == State::Failed || c.state_to == State::Stopped)) {
        // A replace ended without a new gateway: the reload is over all
        // the same, else systemd shows the unit "reloading" until its timeout.
        reloading_ = false;
        systemd_.ready(status);
    } else {
        systemd_.status(status);
    }
    // While stopping, each signal's wait (and those that may follow it) is
    // announced, so a stop that takes long is not cut short by TimeoutStopSec=.
    if (c.timer && (c.to == Phase::Draining || c.to == Phase::Stopping || c.to == Phase::Killing ||
                    c.to == Phase::Recovering))
        systemd_.extend_timeout(*c.timer);
}

void SystemdReporter::gateway_ready(pid_t pid, std::uint64_t generation)
{
    if (told_ready_ && !reloading_)
        return;
    told_ready_ = true;
    reloading_ = false;
    systemd_.ready(with_fleet(status_line(State::Running, pid, generation, "")));
}

void SystemdReporter::start_extended(microseconds budget, const std::string& why)
{
    systemd_.status(std::string(to_string(state_)) + ", gateway: " + why);
    systemd_.extend_timeout(budget);
}

void SystemdReporter::gateway_status(const std::string& text)
{
    systemd_.status(std::string(to_string(state_)) + ", gateway: " + text);
}

} // namespace hgw::daemon
