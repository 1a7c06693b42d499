#pragma once
// org.hermes.Gateway1.Manager at /org/hermes/Gateway1: the daemon's D-Bus
// face. Methods forward to the Supervisor; what it reports becomes signals.
//
// Every handler converts exceptions to sdbus::Error (anything else would
// kill the daemon in sdbus-c++ 1.2). Methods that change state (Replace,
// Restart, Start, Stop, CleanPidFile) are asynchronous and check the caller
// first, which may mean waiting for polkit's answer without blocking the
// loop; see authorizer.h. All of it runs on the bus's (the loop's) thread.
//
// Properties: the supervisor only says "changed". The object then schedules
// one deferred callback (once per loop iteration, however many changes came)
// that takes the supervisor's snapshot, diffs it against what it announced
// last, and sends one PropertiesChanged with exactly the properties that
// differ, values included: no getter is ever called from inside a
// supervisor transition. Two facts are announced at once, from the
// arguments of the observer call, before the signal that implies them:
//  - GatewayExited is preceded by GatewayPID 0 (Ready false, LastExit), so
//    GatewayPID always passes through 0 between two gateways, even when the
//    next one starts in the same loop iteration;
//  - Replaced is preceded by the new GatewayPID, Generation, Ready and the
//    State/Phase/Job of the last phase change.
// StateChanged is sent at once, when the coarse state changes.

#include "daemon/event_loop.h"
#include "daemon/fleet_member.h"
#include "daemon/supervisor.h"
#include "dbus/authorizer.h"
#include "dbus/types.h"

#include "gateway1_adaptor.h"

#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace hgw::bus {

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::hermes::Gateway1::Manager_adaptor>
    , public daemon::SupervisorObserver {
public:
    // Registers the object at HGW_BUS_PATH on `connection` and becomes
    // one of `supervisor`'s observers. Construct it before
    // requestName(). `loop` and `supervisor` must outlive the object.
    //
    // The connection is shared: every async call still unanswered holds it
    // (an sdbus::Result's message points into its Connection), so it lives
    // on after the object and its owner let go, until the supervisor has
    // completed or dropped the last such call.
    ManagerObject(std::shared_ptr<sdbus::IConnection> connection, daemon::EventLoop& loop,
                  daemon::Supervisor& supervisor);
    // Stops observing the supervisor and unregisters the object.
    ~ManagerObject() override;

    ManagerObject(const ManagerObject&) = delete;
    ManagerObject& operator=(const ManagerObject&) = delete;

    // Fleet mode: the member whose role the Fleet* properties report, or
    // nullptr (standalone). It must outlive the object, or be set to
    // nullptr before it goes.
    void set_fleet(daemon::FleetMember* fleet) { fleet_ = fleet; }
    // The fleet's status changed: PropertiesChanged, and FleetRoleChanged
    // when the role or the leader did.
    void fleet_changed(const daemon::FleetStatus& now) noexcept;

private:
    // Methods.
    VariantMap GetStatus() override;
    void Replace(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options) override;
    void Restart(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options) override;
    void Start(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options) override;
    void Stop(sdbus::Result<>&& result, VariantMap options) override;
    std::tuple<std::string, VariantMap> ValidatePidFile() override;
    void CleanPidFile(sdbus::Result<bool, std::string>&& result) override;
    void FleetHandover(sdbus::Result<>&& result, VariantMap options) override;

    // Properties (read only from bus dispatch, never from a transition).
    std::string State() override;
    std::string Phase() override;
    std::string Job() override;
    std::uint32_t GatewayPID() override;
    std::uint64_t Generation() override;
    std::uint64_t StartedAt() override;
    bool Ready() override;
    std::uint32_t Restarts() override;
    sdbus::Struct<std::string, std::int32_t> LastExit() override;
    std::string PidFile() override;
    std::vector<std::string> Command() override;
    std::string FleetRole() override;
    std::string FleetLeader() override;
    std::uint64_t FleetDeadline() override;

    // What the supervisor reports.
    void phase_changed(const daemon::PhaseChange& change) override;
    void replaced(pid_t old_pid, pid_t new_pid, std::uint64_t generation, const std::string& reason) override;
    void gateway_ready(pid_t pid, std::uint64_t generation) override;
    void gateway_exited(pid_t pid, const daemon::ExitInfo& exit) override;
    void pidfile_repaired(const std::string& verdict, pid_t stale_pid) override;
    void changed() override;

    // The deferred diff: snapshot, compare with `announced_`, announce.
    void publish() noexcept;
    // Sends PropertiesChanged for the properties where `now` differs from
    // `announced_`, then takes `now` as announced. Never throws.
    void announce(const daemon::Snapshot& now) noexcept;
    void emit_properties_changed(const std::map<std::string, sdbus::Variant>& values) noexcept;

    // Answers the call being handled through `result`: authorizes its
    // caller for `action`, then runs `begin(reply)` (see the .cpp).
    template <typename... Out, typename Begin>
    void run_authorized(const char* method, Action action, sdbus::Result<Out...>&& result, Begin begin);

    std::shared_ptr<sdbus::IConnection> connection_;
    daemon::EventLoop& loop_;
    daemon::Supervisor& supervisor_;
    daemon::FleetMember* fleet_ = nullptr;
    daemon::FleetStatus fleet_announced_;
    Authorizer authorizer_;
    // What PropertiesChanged has told clients so far.
    daemon::Snapshot announced_;
    // `announced_` plus what observer calls since have told us: announced
    // before Replaced and GatewayExited.
    daemon::Snapshot known_;
    // One-shot: enabled by changed(), runs publish() once per iteration.
    daemon::EventSource publish_;
    // GetStatus' reply and the snapshot it was built from.
    std::optional<daemon::Snapshot> status_of_;
    VariantMap status_cache_;
};

// GetStatus' dictionary, from a snapshot of the supervisor.
VariantMap status_map(const daemon::Snapshot& snapshot, const HomePaths& paths, pid_t daemon_pid);

// The properties (by their D-Bus names) whose values differ between two
// snapshots, in the XML's order. PidFile never changes and is never named.
std::vector<std::string> changed_properties(const daemon::Snapshot& before, const daemon::Snapshot& after);

} // namespace hgw::bus
