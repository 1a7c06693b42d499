#include "daemon/supervisor.h"

#include "core/atomic_file.h"
#include "daemon/log.h"
#include "daemon/spawn.h"
#include "process/process_info.h"
#include "util/errors.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace hgw::daemon {

// ---------------------------------------------------------------- names

std::string_view to_string(State s)
{
    switch (s) {
    case State::Stopped: return "stopped";
    case State::Starting: return "starting";
    case State::Running: return "running";
    case State::Replacing: return "replacing";
    case State::Stopping: return "stopping";
    case State::Failed: return "failed";
    }
    return "unknown";
}

std::string_view to_string(OpError e)
{
    switch (e) {
    case OpError::None: return "none";
    case OpError::Busy: return "busy";
    case OpError::Timeout: return "timeout";
    case OpError::NotRunning: return "not-running";
    case OpError::GenerationMismatch: return "generation-mismatch";
    case OpError::StartFailed: return "start-failed";
    case OpError::Failed: return "failed";
    }
    return "unknown";
}

ExitInfo exit_info_from_wait_status(int status)
{
    if (WIFEXITED(status))
        return {"exited", WEXITSTATUS(status)};
    if (WIFSIGNALED(status))
        return {WCOREDUMP(status) ? "dumped" : "killed", WTERMSIG(status)};
    return {"exited", status};
}

// ---------------------------------------------------------------- state

namespace {

constexpr int kExitRestartMe = 75;   // Hermes: drained, start me again
constexpr int kExitConfigError = 78; // Hermes: configuration error, do not restart
constexpr int kExitFailure = 1;       // ours, with --exit-on-failure: anything else

std::uint64_t realtime_usec()
{
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

OpOptions with_reason(std::string reason)
{
    OpOptions o;
    o.reason = std::move(reason);
    return o;
}

std::string seconds_text(microseconds d)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3gs", static_cast<double>(d.count()) / 1e6);
    return buf;
}

} // namespace

// The gateway process we run now.
struct Supervisor::Child {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    std::uint64_t generation = 0;
    std::uint64_t started_at_usec = 0;
    std::optional<ProcessHandle> handle;
    EventSource exit_watch;
    bool ready = false;
    bool failed_start = false; // killed for not becoming ready: a crash, not a stop
    std::string status_text;
    EventSource ready_timer; // start timeout
    EventSource grace_timer; // Readiness::Grace
    EventSource escalate_timer;
    int last_signal = 0;        // the last stop signal sent, 0 if none
    EventSource watchdog_timer;
    bool watchdog_lapsed = false;
};

// The operation a caller waits for. One at a time; Replace calls that come
// while a replace runs join it.
struct Supervisor::Pending {
    OpKind kind = OpKind::Start;
    OpOptions options;
    std::vector<Completion> waiters;
    pid_t old_pid = 0;
    EventSource deadline;
};

std::unique_ptr<Supervisor::Pending> Supervisor::make_pending(OpKind kind, const OpOptions& options, Completion done,
                                                              pid_t old_pid)
{
    auto p = std::make_unique<Pending>();
    p->kind = kind;
    p->options = options;
    p->waiters.push_back(std::move(done));
    p->old_pid = old_pid;
    return p;
}

Supervisor::Supervisor(EventLoop& loop, Config config, SystemdNotifier& systemd)
    : loop_(loop), config_(std::move(config)),
      paths_(paths_for(config_.hermes_home.empty() ? default_home() : config_.hermes_home)), systemd_(systemd)
{
    notify_ = std::make_unique<ChildNotifySocket>(
        loop_, config_.notify_socket, [this](pid_t sender, const NotifyMessage& m) { on_notify(sender, m); });

    // Watching the home lets "record written and lock held" count as ready
    // the moment it happens, without polling.
    inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_)
        throw_errno("inotify_init1");
    if (::inotify_add_watch(inotify_.get(), paths_.home.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0)
        throw_errno("watch " + paths_.home.string(), "the Hermes home must exist");
    inotify_source_ = loop_.add_io(inotify_.get(), EPOLLIN, [this](std::uint32_t) { on_home_changed(); });
}

Supervisor::~Supervisor() = default;

Snapshot Supervisor::snapshot() const
{
    Snapshot s;
    s.state = state_;
    s.generation = generation_;
    s.restarts = restarts_;
    s.last_exit = last_exit_;
    s.failure_reason = failure_reason_;
    s.command = config_.command;
    if (child_) {
        s.pid = child_->pid;
        s.started_at_usec = child_->started_at_usec;
        s.ready = child_->ready;
        s.status_text = child_->status_text;
    }
    return s;
}

bool Supervisor::healthy() const
{
    // A lapsed gateway watchdog is unhealthy until an operation takes it
    // on: the replace it starts has timeouts of its own, which may add up
    // to more than systemd's WatchdogSec=.
    const bool lapse_unhandled = child_ && child_->watchdog_lapsed && !pending_;
    return state_ != State::Failed && !lapse_unhandled;
}

void Supervisor::set_state(State s, const std::string& reason)
{
    if (s == state_)
        return;
    State old = state_;
    state_ = s;
    if (s != State::Failed)
        failure_reason_.clear();
    log::info(std::string("state ") + std::string(to_string(old)) + " -> " + std::string(to_string(s)) +
                  (reason.empty() ? "" : ": " + reason),
              child_ ? child_->pid : 0, generation_);
    std::string status = std::string(to_string(s));
    if (child_ && child_->pid)
        status += ", gateway pid " + std::to_string(child_->pid) + " (generation " + std::to_string(generation_) + ")";
    if (!reason.empty())
        status += ": " + reason;
    if (s == State::Failed && !told_systemd_ready_ && !config_.exit_on_failure) {
        // The first gateway never became ready: say READY=1 anyway, so that
        // `systemctl start` returns and shows why (STATUS=), instead of
        // hanging until its timeout and starting the same failure again.
        told_systemd_ready_ = true;
        reloading_ = false;
        systemd_.ready(status);
    } else if (reloading_ && (s == State::Failed || s == State::Stopped)) {
        // A replace ended without a new gateway (it failed for good, or a
        // Stop cancelled it): the reload is over all the same, else systemd
        // shows the unit "reloading" until its timeout.
        reloading_ = false;
        systemd_.ready(status);
    } else {
        systemd_.status(status);
    }
    if (events_)
        events_->state_changed(old, s, reason);
    changed({"State"});
}

void Supervisor::enter_failed(const std::string& why, int exit_code)
{
    failure_reason_ = why;
    set_state(State::Failed, why);
    // A caller waiting for a start hears why (after the state changed, so a
    // GetStatus it sends next says failed).
    if (pending_)
        fail_pending(OpError::StartFailed, why);
    if (!config_.exit_on_failure)
        return;
    // The service manager decides what comes next (Restart=, the start
    // limit, RestartPreventExitStatus=78): its view of the unit is then the
    // gateway's, and a daemon that stays up without a gateway is not left
    // for its watchdog to kill.
    log::error("exiting with status " + std::to_string(exit_code) + " (--exit-on-failure): " + why);
    loop_.exit(exit_code);
}

void Supervisor::changed(std::vector<std::string> names)
{
    if (events_)
        events_->properties_changed(names);
}

std::string Supervisor::describe_exit(const ExitInfo& e) const
{
    if (e.kind == "exited")
        return "exited with status " + std::to_string(e.status);
    return e.kind + " by signal " + std::to_string(e.status) + " (" + strsignal(e.status) + ")";
}

// ---------------------------------------------------------------- operations

bool Supervisor::generation_differs(const OpOptions& opts, const Completion& done) const
{
    if (!opts.if_generation || *opts.if_generation == generation_)
        return false;
    done({OpError::GenerationMismatch,
          "generation is " + std::to_string(generation_) + ", not " + std::to_string(*opts.if_generation),
          child_ ? child_->pid : 0, generation_});
    return true;
}

bool Supervisor::join_or_refuse(OpKind kind, const Completion& done)
{
    if (!pending_)
        return false;
    if (pending_->kind == kind && kind != OpKind::Shutdown) {
        pending_->waiters.push_back(done);
        return true;
    }
    done({OpError::Busy, "another operation is in progress (state " + std::string(to_string(state_)) + ")"});
    return true;
}

void Supervisor::finish_pending(const OpResult& r)
{
    if (!pending_)
        return;
    auto p = std::move(pending_);
    for (auto& waiter : p->waiters)
        waiter(r);
}

void Supervisor::fail_pending(OpError error, const std::string& message)
{
    OpResult r{error, message, child_ ? child_->pid : 0, generation_};
    finish_pending(r);
}

void Supervisor::boot(Completion done)
{
    recover_orphan();
    start(with_reason("daemon start"), std::move(done));
}

void Supervisor::start(const OpOptions& opts, Completion done)
{
    if (generation_differs(opts, done) || join_or_refuse(OpKind::Start, done))
        return;
    if (child_ && child_->ready && state_ == State::Running) {
        done({OpError::None, "already running", child_->pid, generation_});
        return;
    }
    pending_ = make_pending(OpKind::Start, opts, std::move(done), 0);
    if (child_)
        return; // starting already (e.g. after a crash): wait for it to be ready
    restart_timer_.reset();
    begin_start(opts.reason.empty() ? "start requested" : opts.reason);
}

void Supervisor::stop(const OpOptions& opts, Completion done)
{
    if (generation_differs(opts, done))
        return;
    // A stop wins over a start or replace in progress: it may be stuck.
    if (pending_ && pending_->kind != OpKind::Stop && pending_->kind != OpKind::Shutdown)
        fail_pending(OpError::Failed, "cancelled by a stop request");
    if (join_or_refuse(OpKind::Stop, done))
        return;
    restart_timer_.reset();
    if (!child_) {
        set_state(State::Stopped, opts.reason.empty() ? "stop requested" : opts.reason);
        done({OpError::None, "stopped", 0, generation_});
        return;
    }
    pending_ = make_pending(OpKind::Stop, opts, std::move(done), child_->pid);
    set_state(State::Stopping, opts.reason.empty() ? "stop requested" : opts.reason);
    begin_stop(SIGTERM, "stop");
}

void Supervisor::replace(const OpOptions& opts, bool restart_if_stopped, Completion done)
{
    if (generation_differs(opts, done) || join_or_refuse(OpKind::Replace, done))
        return;
    std::string reason = opts.reason.empty() ? "replace requested" : opts.reason;
    if (!child_ || state_ == State::Failed) {
        if (!restart_if_stopped) {
            done({OpError::NotRunning, "no gateway is running (state " + std::string(to_string(state_)) + ")", 0,
                  generation_});
            return;
        }
        restart_timer_.reset();
        pending_ = make_pending(OpKind::Replace, opts, std::move(done), 0);
        begin_start(reason);
        return;
    }
    pending_ = make_pending(OpKind::Replace, opts, std::move(done), child_->pid);
    if (opts.timeout)
        pending_->deadline = loop_.add_timer(*opts.timeout, [this] {
            // The callers stop waiting, the replace goes on: pending_ stays,
            // so that it still ends with Replaced and READY=1 (and is not
            // taken for a crash when the old gateway exits), and later
            // Replace calls join it. From now on our own limits apply.
            if (!pending_)
                return;
            pending_->options.timeout.reset();
            OpResult r{OpError::Timeout, "the replace did not finish in time; it goes on in the background",
                       child_ ? child_->pid : 0, generation_};
            auto waiters = std::exchange(pending_->waiters, {});
            for (auto& waiter : waiters)
                waiter(r);
        });
    systemd_.reloading("replacing gateway pid " + std::to_string(child_->pid) + ": " + reason);
    reloading_ = true;
    set_state(State::Replacing, reason);
    // Drain first (Hermes finishes its current work on SIGUSR1), stop-first
    // because two pollers on one bot token conflict.
    begin_stop(SIGUSR1, reason);
}

void Supervisor::shutdown(Completion done)
{
    systemd_.stopping("stopping gateway");
    reloading_ = false; // STOPPING=1 ends a reload too
    restart_timer_.reset();
    if (pending_)
        fail_pending(OpError::Failed, "the daemon is shutting down");
    if (!child_) {
        set_state(State::Stopped, "daemon shutdown");
        done({OpError::None, "stopped", 0, generation_});
        return;
    }
    pending_ = make_pending(OpKind::Shutdown, {}, std::move(done), child_->pid);
    set_state(State::Stopping, "daemon shutdown");
    begin_stop(SIGTERM, "daemon shutdown");
}

// ---------------------------------------------------------------- starting

bool Supervisor::prepare_pidfile(std::string& error)
{
    CleanOutcome c = clean(paths_);
    using A = CleanOutcome::Action;
    switch (c.action) {
    case A::Removed:
        log::warning("repaired PID file: " + c.message);
        if (events_)
            events_->pidfile_repaired(std::string(to_string(c.verdict.kind)), c.verdict.record()->pid);
        return true;
    case A::Quarantined:
        log::warning("repaired PID file: " + c.message);
        if (events_)
            events_->pidfile_repaired("corrupt", 0);
        return true;
    case A::NothingToDo: return true;
    case A::KeptLive:
    case A::Busy:
        error = "another gateway holds this home: " + c.verdict.summary;
        return false;
    case A::KeptUnsafe:
        error = "unsafe PID file, fix it by hand: " + c.verdict.summary;
        return false;
    }
    return true;
}

void Supervisor::begin_start(const std::string& reason)
{
    restart_timer_.reset();
    // A replace shows as `replacing` from the drain until the new gateway is ready.
    set_state(pending_ && pending_->kind == OpKind::Replace ? State::Replacing : State::Starting, reason);

    std::string error;
    std::optional<InstanceLock> lock;
    if (prepare_pidfile(error) && config_.write_pidfile) {
        lock = InstanceLock::try_acquire(paths_.lock_file);
        if (!lock)
            error = "gateway.lock was taken by another process while we started";
    }
    if (!error.empty()) {
        log::error("cannot start the gateway: " + error);
        enter_failed(error, kExitFailure);
        return;
    }

    SpawnRequest req;
    req.argv = config_.command;
    req.env = inheritable_environment();
    for (const auto& [k, v] : config_.environment)
        req.env[k] = v;
    req.env["HERMES_HOME"] = paths_.home.string();
    req.env["NOTIFY_SOCKET"] = notify_->address();
    if (config_.child_watchdog.count() > 0) {
        req.env["WATCHDOG_USEC"] = std::to_string(config_.child_watchdog.count());
        req.set_watchdog_pid = true;
    }
    req.working_directory = config_.working_directory;
    req.inherit_fd = lock ? lock->fd() : -1;

    auto child = std::make_unique<Child>();
    try {
        child->pid = spawn_process(req);
    } catch (const Error& e) {
        log::error(describe(e));
        enter_failed(e.what(), kExitFailure);
        return;
    }
    child->generation = ++generation_;
    child->started_at_usec = realtime_usec();
    child->start_time = read_start_time(child->pid).value_or(0);
    child->handle = ProcessHandle::for_child(child->pid);
    child->exit_watch = loop_.add_io(child->handle->fd(), EPOLLIN, [this](std::uint32_t) { on_child_exit(); });
    notify_->accept_from(child->pid);

    if (lock) {
        // A gateway that writes no record: we write it, and the lock we took
        // is now held through the child's inherited fd; ours can go.
        PidRecord rec = record_for_process(child->pid, paths_.home);
        rec.argv = config_.command;
        rec.manager = ManagerInfo{::getpid(), read_start_time(::getpid()), "hermes-gatewayd", generation_};
        if (!publish_exclusive(paths_.pid_file, serialize_record(rec)))
            log::warning("gateway.pid appeared while we held the lock; left alone");
        lock->write_record(rec);
        lock->release();
    }
    child_ = std::move(child);
    log::info("started gateway: " + config_.command.front(), child_->pid, generation_);

    // The caller's timeout_usec bounds its wait, not the gateway's start-up.
    auto timeout = config_.ready_timeout;
    child_->ready_timer = loop_.add_timer(timeout, [this] { on_ready_timeout(); });
    bool grace = config_.readiness == Readiness::Grace ||
                 (config_.readiness == Readiness::PidFile && config_.write_pidfile);
    if (grace)
        child_->grace_timer = loop_.add_timer(std::min(config_.ready_grace, timeout), [this] { mark_ready("grace time passed"); });
    changed({"GatewayPID", "Generation", "StartedAt", "Ready", "Command"});
}

void Supervisor::mark_ready(const std::string& how)
{
    // A READY=1 that arrives after we asked the gateway to stop changes nothing.
    if (!child_ || child_->ready || child_->last_signal != 0)
        return;
    child_->ready = true;
    child_->ready_timer.reset();
    child_->grace_timer.reset();
    consecutive_crashes_ = 0;
    // As systemd's WatchdogSec=: from readiness on, not only from a first
    // ping, so a gateway that hangs before it ever pings is caught too.
    if (!child_->watchdog_timer)
        arm_child_watchdog();
    log::info("gateway ready (" + how + ")", child_->pid, generation_);
    changed({"Ready"});

    bool was_replace = pending_ && pending_->kind == OpKind::Replace;
    pid_t old_pid = pending_ ? pending_->old_pid : 0;
    std::string reason = pending_ ? pending_->options.reason : std::string();
    set_state(State::Running, "gateway ready (" + how + ")");
    std::string status = "running, gateway pid " + std::to_string(child_->pid) + " (generation " +
                         std::to_string(generation_) + ")";
    if (!told_systemd_ready_ || was_replace || reloading_) {
        systemd_.ready(status); // first readiness, or the end of a RELOADING=1
        told_systemd_ready_ = true;
        reloading_ = false;
    }
    if (was_replace && events_)
        events_->replaced(old_pid, child_->pid, generation_, reason);
    if (pending_ && (pending_->kind == OpKind::Start || pending_->kind == OpKind::Replace))
        finish_pending({OpError::None, "ready", child_->pid, generation_});
}

void Supervisor::on_ready_timeout()
{
    if (!child_ || child_->ready)
        return;
    std::string msg = "gateway pid " + std::to_string(child_->pid) + " was not ready within its start timeout";
    log::error(msg, child_->pid, generation_);
    child_->failed_start = true;
    fail_pending(OpError::Timeout, msg);
    begin_stop(SIGTERM, "not ready in time");
}

void Supervisor::on_home_changed()
{
    // Drain the queue first: each event is one file in the home.
    alignas(inotify_event) char buf[4096];
    bool record_touched = false;
    for (;;) {
        ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
        if (n <= 0)
            break;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            if (ev->len && std::strcmp(ev->name, "gateway.pid") == 0)
                record_touched = true;
            p += sizeof(inotify_event) + ev->len;
        }
    }
    if (!record_touched || !child_ || child_->ready || config_.readiness != Readiness::PidFile ||
        config_.write_pidfile)
        return;
    Verdict v = validate(paths_);
    if (v.kind == VerdictKind::Live && v.record() && v.record()->pid == child_->pid && v.lock.held)
        mark_ready("record written and lock held");
}

// ---------------------------------------------------------------- notify

void Supervisor::on_notify(pid_t sender, const NotifyMessage& msg)
{
    if (!child_ || sender != child_->pid)
        return;
    if (auto it = msg.find("STATUS"); it != msg.end()) {
        child_->status_text = it->second;
        systemd_.status(std::string(to_string(state_)) + ", gateway: " + it->second);
    }
    if (auto it = msg.find("READY"); it != msg.end() && it->second == "1")
        mark_ready("READY=1");
    if (auto it = msg.find("WATCHDOG"); it != msg.end() && it->second == "1")
        arm_child_watchdog();
    if (auto it = msg.find("EXTEND_TIMEOUT_USEC"); it != msg.end() && !child_->ready && child_->ready_timer) {
        std::uint64_t extra = std::strtoull(it->second.c_str(), nullptr, 10);
        child_->ready_timer = loop_.add_timer(microseconds(extra), [this] { on_ready_timeout(); });
    }
}

void Supervisor::arm_child_watchdog()
{
    if (config_.child_watchdog.count() <= 0 || !child_)
        return;
    child_->watchdog_lapsed = false;
    child_->watchdog_timer = loop_.add_timer(config_.child_watchdog, [this] { on_child_watchdog_lapse(); });
}

void Supervisor::on_child_watchdog_lapse()
{
    if (!child_)
        return;
    child_->watchdog_lapsed = true;
    log::error("gateway stopped pinging its watchdog; replacing it", child_->pid, generation_);
    if (pending_)
        return; // an operation already changes the gateway
    replace(with_reason("watchdog timeout"), true, [](const OpResult& r) {
        if (!r.ok())
            log::error("replace after watchdog timeout failed: " + r.message);
    });
}

// ---------------------------------------------------------------- stopping

void Supervisor::begin_stop(int first_signal, const std::string& reason)
{
    if (!child_)
        return;
    log::info("sending " + std::string(sigabbrev_np(first_signal)) + " to the gateway (" + reason + ")",
              child_->pid, generation_);
    child_->last_signal = first_signal;
    child_->ready_timer.reset();
    child_->grace_timer.reset();
    child_->handle->send_signal(first_signal);
    microseconds wait = first_signal == SIGUSR1 ? config_.drain_timeout : config_.stop_timeout;
    systemd_.extend_timeout(wait + config_.stop_timeout + config_.kill_timeout);
    child_->escalate_timer = loop_.add_timer(wait, [this] { on_escalate(); });
}

void Supervisor::on_escalate()
{
    if (!child_)
        return;
    int next = child_->last_signal == SIGUSR1 ? SIGTERM : SIGKILL;
    if (child_->last_signal == SIGKILL) {
        std::string msg = "gateway pid " + std::to_string(child_->pid) + " survived SIGKILL (stuck in the kernel?)";
        log::error(msg, child_->pid, generation_);
        fail_pending(OpError::Timeout, msg);
        return;
    }
    log::warning("gateway did not exit after " + std::string(sigabbrev_np(child_->last_signal)) + "; sending " +
                     sigabbrev_np(next),
                 child_->pid, generation_);
    child_->last_signal = next;
    child_->handle->send_signal(next);
    microseconds wait = next == SIGTERM ? config_.stop_timeout : config_.kill_timeout;
    systemd_.extend_timeout(wait + config_.kill_timeout);
    child_->escalate_timer = loop_.add_timer(wait, [this] { on_escalate(); });
}

// ---------------------------------------------------------------- exits

void Supervisor::on_child_exit()
{
    if (!child_)
        return;
    // Look without reaping: until we reap, the PID cannot be reused, so the
    // record that names it can be judged and removed safely.
    siginfo_t info {};
    if (::waitid(P_PIDFD, static_cast<id_t>(child_->handle->fd()), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid == 0)
        return;
    pid_t pid = child_->pid;
    remove_record_of(pid, child_->start_time);
    int status = 0;
    ::waitpid(pid, &status, 0);
    bool failed_start = child_->failed_start;
    child_.reset();
    notify_->accept_from(0);
    after_exit(exit_info_from_wait_status(status), pid, failed_start);
}

void Supervisor::remove_record_of(pid_t pid, std::uint64_t start_time)
{
    RecordFile f = read_record_file(paths_.pid_file);
    if (f.status != FileStatus::Record || f.record->pid != pid)
        return;
    if (f.record->start_time && *f.record->start_time != start_time)
        return;
    if (remove_if_same(paths_.pid_file, f.id)) {
        log::warning("removed the record the gateway left behind", pid, generation_);
        if (events_)
            events_->pidfile_repaired("stale", pid);
    }
}

void Supervisor::after_exit(const ExitInfo& exit, pid_t pid, bool failed_start)
{
    last_exit_ = exit;
    log::info("gateway " + describe_exit(exit), pid, generation_);
    if (events_)
        events_->gateway_exited(pid, exit);
    changed({"GatewayPID", "Ready", "StartedAt", "LastExit"});

    OpKind kind = pending_ ? pending_->kind : OpKind::Start;
    bool stop_requested = pending_ && (kind == OpKind::Stop || kind == OpKind::Shutdown);
    bool replace_stop_phase = pending_ && kind == OpKind::Replace && pending_->old_pid == pid;

    if (stop_requested) {
        set_state(State::Stopped, "gateway " + describe_exit(exit));
        finish_pending({OpError::None, "stopped", 0, generation_});
        return;
    }
    if (replace_stop_phase) {
        begin_start(pending_->options.reason.empty() ? "replace" : pending_->options.reason);
        return;
    }
    // An exit nobody asked for, or a start that failed: the restart policy
    // decides. A caller waiting for a start hears why it failed.
    if (pending_)
        fail_pending(OpError::StartFailed, "gateway pid " + std::to_string(pid) + " " + describe_exit(exit) +
                                               " before it was ready");
    if (exit.kind == "exited" && exit.status == kExitConfigError) {
        enter_failed("configuration error: the gateway exited with status 78", kExitConfigError);
        return;
    }
    bool restart_me = exit.kind == "exited" && exit.status == kExitRestartMe && !failed_start;
    schedule_restart(exit, !restart_me);
}

void Supervisor::schedule_restart(const ExitInfo& exit, bool crash)
{
    microseconds delay{0};
    if (crash) {
        std::uint64_t now = EventLoop::now_usec();
        crash_times_.push_back(now);
        auto window = static_cast<std::uint64_t>(config_.burst_window.count());
        std::erase_if(crash_times_, [&](std::uint64_t t) { return now - t > window; });
        if (crash_times_.size() > config_.burst) {
            std::string why = "crashed " + std::to_string(crash_times_.size()) + " times within " +
                              seconds_text(config_.burst_window) + "; last: " + describe_exit(exit);
            enter_failed(why, kExitFailure);
            return;
        }
        // The first crash after a healthy run restarts at once (a kill -9
        // should cost nothing); each further one in a row waits twice as long.
        if (consecutive_crashes_ > 0) {
            delay = config_.restart_delay;
            for (unsigned i = 1; i < consecutive_crashes_ && delay < config_.restart_delay_max; ++i)
                delay *= 2;
            delay = std::min(delay, config_.restart_delay_max);
        }
        ++consecutive_crashes_;
    }
    std::string why = "restarting in " + seconds_text(delay) + " after the gateway " + describe_exit(exit);
    set_state(State::Starting, why);
    restart_timer_ = loop_.add_timer(delay, [this, why] {
        ++restarts_;
        changed({"Restarts"});
        begin_start(why);
    });
}

// ---------------------------------------------------------------- recovery

void Supervisor::recover_orphan()
{
    Verdict v = validate(paths_);
    if (v.kind != VerdictKind::Live || !v.record() || !v.process || !v.process->start_time)
        return;
    // A gateway runs that is not our child: left by a previous daemon that
    // crashed, or started by hand. Two would fight over the bot token, so
    // it is stopped, through a pidfd proven to name it.
    ProcessIdentity id{v.record()->pid, *v.process->start_time, current_boot_id()};
    std::string why;
    auto handle = ProcessHandle::open_verified(id, &why);
    if (!handle) {
        log::warning("found a gateway record for pid " + std::to_string(id.pid) + " but will not signal it: " + why);
        return;
    }
    log::warning("stopping a gateway that is not ours (" + v.summary + ")", id.pid);
    for (int sig : {SIGTERM, SIGKILL}) {
        if (!handle->send_signal(sig))
            break;
        auto wait = sig == SIGTERM ? config_.stop_timeout : config_.kill_timeout;
        pollfd p{handle->fd(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count() / 1000)) > 0)
            break;
    }
}

} // namespace hgw::daemon
