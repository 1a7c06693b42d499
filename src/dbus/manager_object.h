#pragma once
// org.hermes.Gateway1.Manager at /org/hermes/Gateway1: the daemon's D-Bus
// face. Methods forward to the Supervisor; its events become signals.
//
// Every handler converts exceptions to sdbus::Error (anything else would
// kill the daemon in sdbus-c++ 1.2). Methods that change state (Replace,
// Restart, Start, Stop, CleanPidFile) check the caller first; see
// authorizer.h. All of it runs on the bus's (the loop's) thread.

#include "daemon/supervisor.h"
#include "dbus/authorizer.h"
#include "dbus/types.h"

#include "gateway1_adaptor.h"

#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace hgw::bus {

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::hermes::Gateway1::Manager_adaptor>
    , public daemon::SupervisorObserver {
public:
    // Registers the object at daemon::kObjectPath on `connection` and
    // becomes `supervisor`'s event listener. Construct it before
    // requestName(). Both arguments must outlive the object, and the
    // connection must outlive the supervisor too: pending async calls hold
    // messages of the connection until the supervisor completes them.
    ManagerObject(sdbus::IConnection& connection, daemon::EventLoop& loop, daemon::Supervisor& supervisor);
    // Stops listening to the supervisor and unregisters the object.
    ~ManagerObject() override;

    ManagerObject(const ManagerObject&) = delete;
    ManagerObject& operator=(const ManagerObject&) = delete;

private:
    // Methods.
    VariantMap GetStatus() override;
    void Replace(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options) override;
    void Restart(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options) override;
    void Start(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options) override;
    void Stop(sdbus::Result<>&& result, VariantMap options) override;
    std::tuple<std::string, VariantMap> ValidatePidFile() override;
    std::tuple<bool, std::string> CleanPidFile() override;

    // Properties.
    std::string State() override;
    std::uint32_t GatewayPID() override;
    std::uint64_t Generation() override;
    std::uint64_t StartedAt() override;
    bool Ready() override;
    std::uint32_t Restarts() override;
    sdbus::Struct<std::string, std::int32_t> LastExit() override;
    std::string PidFile() override;
    std::vector<std::string> Command() override;

    // Supervisor events -> signals.
    void phase_changed(const daemon::PhaseChange& change) override;
    void replaced(pid_t old_pid, pid_t new_pid, std::uint64_t generation, const std::string& reason) override;
    void gateway_exited(pid_t pid, const daemon::ExitInfo& exit) override;
    void pidfile_repaired(const std::string& verdict, pid_t stale_pid) override;
    void changed() override;
    // Once per loop iteration: PropertiesChanged for what differs from the last snapshot.
    void publish_changes();
    // Publishes what is pending now: a signal that follows a change (Replaced,
    // GatewayExited) comes after the properties that describe it.
    void flush();

    // Throws sdbus::Error(kErrAccessDenied) unless the caller of the method
    // being handled may change the gateway.
    void authorize(const char* method) const;

    daemon::EventLoop& loop_;
    daemon::Supervisor& supervisor_;
    Authorizer authorizer_;
    daemon::Snapshot published_;
    daemon::EventSource publish_;
};

// GetStatus' dictionary, from a snapshot of the supervisor.
VariantMap status_map(const daemon::Snapshot& snapshot, const HomePaths& paths, pid_t daemon_pid);

} // namespace hgw::bus
