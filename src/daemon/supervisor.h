#pragma once
// The gateway's life: start it as our child, know the instant it dies (pidfd),
// keep its PID file true, restart it by policy, replace it safely.
//
// Single-threaded: every method runs on the event loop's thread, and every
// operation that takes time completes later through its Completion.

#include "core/pidfile.h"
#include "daemon/child_notify.h"
#include "daemon/config.h"
#include "daemon/event_loop.h"
#include "daemon/systemd_notifier.h"
#include "process/process_handle.h"
#include "util/unique_fd.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hgw::daemon {

enum class State { Stopped, Starting, Running, Replacing, Stopping, Failed };
std::string_view to_string(State s);

struct ExitInfo {
    std::string kind; // "exited", "killed", "dumped"; empty before any exit
    int status = 0;   // exit code or signal number
};
ExitInfo exit_info_from_wait_status(int status);

// Everything GetStatus reports.
struct Snapshot {
    State state = State::Stopped;
    pid_t pid = 0;
    std::uint64_t generation = 0;
    std::uint64_t started_at_usec = 0; // CLOCK_REALTIME
    bool ready = false;
    std::uint32_t restarts = 0;
    ExitInfo last_exit;
    std::string status_text;    // the gateway's last STATUS=
    std::string failure_reason; // for State::Failed
    std::vector<std::string> command;
};

struct OpOptions {
    std::string reason;
    std::optional<microseconds> timeout;       // overrides the configured one
    std::optional<std::uint64_t> if_generation;
};

enum class OpError { None, Busy, Timeout, NotRunning, GenerationMismatch, StartFailed, Failed };
std::string_view to_string(OpError e);

struct OpResult {
    OpError error = OpError::None;
    std::string message;
    pid_t pid = 0;
    std::uint64_t generation = 0;
    [[nodiscard]] bool ok() const { return error == OpError::None; }
};
using Completion = std::function<void(const OpResult&)>;

// What the D-Bus layer hears. All calls come from the loop thread.
class SupervisorEvents {
public:
    virtual ~SupervisorEvents() = default;
    virtual void state_changed(State old_state, State new_state, const std::string& reason) = 0;
    virtual void replaced(pid_t old_pid, pid_t new_pid, std::uint64_t generation, const std::string& reason) = 0;
    virtual void gateway_exited(pid_t pid, const ExitInfo& exit) = 0;
    virtual void pidfile_repaired(const std::string& verdict, pid_t stale_pid) = 0;
    // Names of D-Bus properties whose values changed.
    virtual void properties_changed(const std::vector<std::string>& names) = 0;
};

class Supervisor {
public:
    Supervisor(EventLoop& loop, Config config, SystemdNotifier& systemd);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    void set_events(SupervisorEvents* events) { events_ = events; }

    // Recovers from what a previous run left (orphaned gateway, stale
    // record), then starts the gateway. `done` fires once it is ready or failed.
    void boot(Completion done);

    void start(const OpOptions& opts, Completion done);
    void stop(const OpOptions& opts, Completion done);
    // restart_if_stopped: Restart semantics (also starts a stopped/failed gateway).
    void replace(const OpOptions& opts, bool restart_if_stopped, Completion done);
    // The daemon is going away: stop the gateway, then `done`.
    void shutdown(Completion done);

    [[nodiscard]] Snapshot snapshot() const;
    [[nodiscard]] const HomePaths& paths() const { return paths_; }
    [[nodiscard]] const Config& config() const { return config_; }

    // Is the gateway healthy enough for us to pet systemd's watchdog?
    [[nodiscard]] bool healthy() const;

private:
    struct Child;
    struct Pending;
    enum class OpKind { Start, Stop, Replace, Shutdown };

    // Operations.
    static std::unique_ptr<Pending> make_pending(OpKind kind, const OpOptions& options, Completion done,
                                                 pid_t old_pid);
    bool generation_differs(const OpOptions& opts, const Completion& done) const;
    bool join_or_refuse(OpKind kind, const Completion& done);
    void begin_start(const std::string& reason);
    void begin_stop(int first_signal, const std::string& reason);
    void finish_pending(const OpResult& r);
    void fail_pending(OpError error, const std::string& message);

    // Events.
    void on_child_exit();
    void on_notify(pid_t sender, const NotifyMessage& msg);
    void on_ready_timeout();
    void on_escalate();
    void on_child_watchdog_lapse();
    void on_home_changed();

    // Steps.
    void mark_ready(const std::string& how);
    void after_exit(const ExitInfo& exit, pid_t pid, bool failed_start);
    void schedule_restart(const ExitInfo& exit, bool crash);
    bool prepare_pidfile(std::string& error);
    void remove_record_of(pid_t pid, std::uint64_t start_time);
    void recover_orphan();
    void arm_child_watchdog();
    void set_state(State s, const std::string& reason);
    // Into `failed`; with --exit-on-failure the daemon then exits with exit_code.
    void enter_failed(const std::string& why, int exit_code);
    void changed(std::vector<std::string> names);
    [[nodiscard]] std::string describe_exit(const ExitInfo& exit) const;

    EventLoop& loop_;
    Config config_;
    HomePaths paths_;
    SystemdNotifier& systemd_;
    SupervisorEvents* events_ = nullptr;
    std::unique_ptr<ChildNotifySocket> notify_;
    UniqueFd inotify_;
    EventSource inotify_source_;

    State state_ = State::Stopped;
    std::unique_ptr<Child> child_;
    std::uint64_t generation_ = 0;
    std::uint32_t restarts_ = 0;
    ExitInfo last_exit_;
    std::string failure_reason_;
    bool told_systemd_ready_ = false;
    bool reloading_ = false; // RELOADING=1 sent to systemd, not yet ended by READY=1
    std::vector<std::uint64_t> crash_times_; // monotonic usec, for the burst limit
    unsigned consecutive_crashes_ = 0;
    EventSource restart_timer_;
    std::unique_ptr<Pending> pending_;
};

} // namespace hgw::daemon
