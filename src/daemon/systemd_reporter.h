#pragma once
// The supervisor as systemd hears it: READY=1 once the first gateway is
// ready, RELOADING=1 ... READY=1 around a replace, STOPPING=1 on shutdown,
// STATUS= on every change, EXTEND_TIMEOUT_USEC= while stopping. A second
// observer beside the bus, so the supervisor itself names no protocol.

#include "daemon/fleet_member.h"
#include "daemon/supervisor.h"
#include "daemon/systemd_notifier.h"

namespace hgw::daemon {

class SystemdReporter final : public SupervisorObserver {
public:
    // exit_on_failure: a first start that fails is reported by exiting,
    // not by READY=1 (see Config::exit_on_failure).
    SystemdReporter(SystemdNotifier& systemd, bool exit_on_failure)
        : systemd_(systemd), exit_on_failure_(exit_on_failure) {}

    void phase_changed(const PhaseChange& change) override;
    void gateway_ready(pid_t pid, std::uint64_t generation) override;
    void gateway_status(const std::string& text) override;
    void start_extended(microseconds budget, const std::string& why) override;
    // Fleet mode: STATUS= names the role; a host that does not lead is
    // ready (READY=1) as soon as it stands for election, with no gateway.
    void fleet_changed(const FleetStatus& fleet);

private:
    SystemdNotifier& systemd_;
    bool exit_on_failure_;
    bool told_ready_ = false;
    bool reloading_ = false; // RELOADING=1 sent, not yet ended by READY=1
    bool stopping_ = false;  // STOPPING=1 sent
    State state_ = State::Stopped;
    std::string fleet_; // "fleet follower (leader ...)": STATUS='s prefix in fleet mode
    [[nodiscard]] std::string with_fleet(const std::string& status) const;
};

} // namespace hgw::daemon
