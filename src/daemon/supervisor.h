#pragma once
// The gateway's life as one explicit state machine: start it as our child,
// know the instant it dies (pidfd), keep its PID file true, restart it by
// policy, replace it safely, and wait out whatever the environment throws at
// it. docs/state-machine.md is the table (phase x event -> action, next
// phase); state_table.h is the same table in code, and every transition is
// checked against it.
//
// Single-threaded: every method runs on the event loop's thread, and every
// operation that takes time completes later through its Completion.

#include "core/home.h"
#include "core/manager_lock.h"
#include "daemon/child_notify.h"
#include "daemon/config.h"
#include "daemon/event_loop.h"
#include "daemon/phase.h"
#include "daemon/restart_policy.h"
#include "process/process_handle.h"
#include "util/unique_fd.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hgw::daemon {

struct ExitInfo {
    std::string kind; // "exited", "killed", "dumped"; empty before any exit
    int status = 0;   // exit code or signal number
    bool operator==(const ExitInfo&) const = default;
};
ExitInfo exit_info_from_wait_status(int status);
std::string describe_exit(const ExitInfo& exit);

// Everything GetStatus reports.
struct Snapshot {
    State state = State::Stopped; // what people see
    Phase phase = Phase::Stopped; // where the machine is
    Job job = Job::None;          // the operation under way
    pid_t pid = 0;
    std::uint64_t generation = 0;
    std::uint64_t started_at_usec = 0; // CLOCK_REALTIME
    bool ready = false;
    std::uint32_t restarts = 0;
    ExitInfo last_exit;
    std::string status_text;    // the gateway's last STATUS=
    std::string failure_reason; // for Phase::Failed
    std::string blocked_reason; // for Phase::Waiting and Phase::Foreign
    pid_t foreign_pid = 0;      // for Phase::Foreign: who holds the home
    std::vector<std::string> command;
    bool operator==(const Snapshot&) const = default;
};

struct OpOptions {
    std::string reason;
    std::optional<microseconds> timeout;       // overrides the configured one
    std::optional<std::uint64_t> if_generation;
};

enum class OpError { None, Busy, Timeout, NotRunning, GenerationMismatch, StartFailed, CannotStart, Failed };
std::string_view to_string(OpError e);

struct OpResult {
    OpError error = OpError::None;
    std::string message;
    pid_t pid = 0;
    std::uint64_t generation = 0;
    [[nodiscard]] bool ok() const { return error == OpError::None; }
};
using Completion = std::function<void(const OpResult&)>;

// One step of the machine, as observers hear it.
struct PhaseChange {
    Phase from = Phase::Stopped;
    Phase to = Phase::Stopped;
    State state_from = State::Stopped;
    State state_to = State::Stopped;
    Job job = Job::None;
    std::string reason;
    pid_t pid = 0; // the gateway's, 0 if none
    std::uint64_t generation = 0;
    // How long the new phase may last before its timer fires; for
    // EXTEND_TIMEOUT_USEC while stopping.
    std::optional<microseconds> timer;
};

// What the bus layer and the systemd reporter hear. Every call comes from
// the loop thread, and none may call back into the supervisor's operations.
class SupervisorObserver {
public:
    virtual ~SupervisorObserver() = default;
    virtual void phase_changed(const PhaseChange& /*change*/) {}
    // A replace (or a restart of a running gateway) ended with a new gateway ready.
    virtual void replaced(pid_t /*old_pid*/, pid_t /*new_pid*/, std::uint64_t /*generation*/,
                          const std::string& /*reason*/) {}
    // The first gateway of a replace became ready, or a first start did.
    virtual void gateway_ready(pid_t /*pid*/, std::uint64_t /*generation*/) {}
    virtual void gateway_exited(pid_t /*pid*/, const ExitInfo& /*exit*/) {}
    virtual void gateway_status(const std::string& /*text*/) {}
    virtual void pidfile_repaired(const std::string& /*verdict*/, pid_t /*stale_pid*/) {}
    // The gateway's start may take `budget` from now (Hermes' storm breaker
    // makes it wait first); `why` says so.
    virtual void start_extended(microseconds /*budget*/, const std::string& /*why*/) {}
    // Something snapshot() reports may have changed: diff it when convenient.
    virtual void changed() {}
};

class Supervisor {
public:
    // `manager`: the per-home manager lock, if main could take it already;
    // else the supervisor takes it before its first start (and waits while
    // it cannot).
    Supervisor(EventLoop& loop, Config config, std::optional<ManagerLock> manager = {});
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    void add_observer(SupervisorObserver* observer);
    void remove_observer(SupervisorObserver* observer);

    // Recovers from what a previous run left (orphaned gateway, stale
    // record), then starts the gateway. `done` fires once it is ready, the
    // start failed for good, or its timeout passed (the daemon keeps trying).
    void boot(Completion done);

    void start(const OpOptions& opts, Completion done);
    void stop(const OpOptions& opts, Completion done);
    // restart_if_stopped: Restart semantics (also starts a stopped/failed gateway).
    void replace(const OpOptions& opts, bool restart_if_stopped, Completion done);
    // Fleet mode: asked before every Start, Replace and Restart; a reason
    // refuses it (CannotStart). Not asked for restarts after a crash: a host
    // that must not run a gateway stops it with stop(), which ends those.
    using StartGate = std::function<std::optional<std::string>()>;
    void set_start_gate(StartGate gate);
    // Fleet mode, before this host stands for election: a follower runs no
    // gateway, so an orphan a previous daemon of this home left running is
    // stopped (SIGTERM, then SIGKILL), and `done` fires once none runs. A
    // gateway not proven ours is only reported: it is never signalled.
    void stop_orphan(Completion done);
    // The daemon is going away: stop the gateway, then `done`.
    void shutdown(Completion done);

    [[nodiscard]] Snapshot snapshot() const;
    [[nodiscard]] const HomePaths& paths() const { return paths_; }
    [[nodiscard]] const Config& config() const { return config_; }

    // Is the gateway healthy enough for us to pet systemd's watchdog? False
    // once it has been unhealthy for longer than `grace`.
    [[nodiscard]] bool healthy(microseconds grace) const;

    // An exception escaped an event callback: log it as a fault and move
    // the machine somewhere safe. Called by the loop's fault handler.
    void on_fault(const std::string& where, const std::string& what);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    HomePaths paths_;
    Config config_;
};

} // namespace hgw::daemon
