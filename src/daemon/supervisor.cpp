#include "daemon/supervisor.h"

#include "core/manager_lock.h"
#include "core/hermes_files.h"
#include "core/home_lock.h"
#include "core/lock_holders.h"
#include "core/pidfile.h"
#include "core/record_file.h"
#include "core/start_check.h"
#include "daemon/file_keeper.h"
#include "daemon/home_watch.h"
#include "daemon/leftovers.h"
#include "daemon/log.h"
#include "daemon/orphans.h"
#include "daemon/pidfile_upkeep.h"
#include "daemon/spawn.h"
#include "daemon/state_table.h"
#include "process/pidfd.h"
#include "process/proc_stat.h"
#include "process/process_info.h"
#include "util/errors.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>
#include <variant>

namespace hgw::daemon {

// ---------------------------------------------------------------- names

std::string_view to_string(OpError e)
{
    switch (e) {
    case OpError::None: return "none";
    case OpError::Busy: return "busy";
    case OpError::Timeout: return "timeout";
    case OpError::NotRunning: return "not-running";
    case OpError::GenerationMismatch: return "generation-mismatch";
    case OpError::StartFailed: return "start-failed";
    case OpError::CannotStart: return "cannot-start";
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

std::string describe_exit(const ExitInfo& e)
{
    if (e.kind == "exited")
        return "exited with status " + std::to_string(e.status);
    return e.kind + " by signal " + std::to_string(e.status) + " (" + strsignal(e.status) + ")";
}

namespace {

constexpr int kExitRestartMe = 75;   // Hermes: drained, start me again
constexpr int kExitConfigError = 78; // Hermes: configuration error, do not restart
constexpr int kExitFailure = 1;      // ours, with --exit-on-failure: anything else

constexpr microseconds kRetryFirst = 100ms;  // first retry of a blocked start
constexpr microseconds kRetryMax = 10s;      // retries back off up to this
constexpr microseconds kForeignRecheck = 30s;
constexpr pid_t kUnknownReplacer = -1; // a takeover marker seen, but gone before we read it
constexpr microseconds kTakeoverExpiry = 30s; // a foreign gateway we cannot watch by pidfd
constexpr microseconds kLeftoverGrace = 1s;  // SIGTERM -> SIGKILL for a dead gateway's leftovers
constexpr microseconds kMaxExtend = std::chrono::hours(24); // EXTEND_TIMEOUT_USEC beyond this is clamped

std::uint64_t realtime_usec()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

bool is_kill_phase(Phase p)
{
    return p == Phase::Recovering || p == Phase::Draining || p == Phase::Stopping || p == Phase::Killing;
}

// Live (not zombie) members of process group `pgid` other than its leader.
std::vector<pid_t> group_members(pid_t pgid)
{
    std::vector<pid_t> out;
    for (pid_t pid : list_processes()) {
        if (pid == pgid)
            continue;
        auto stat = read_proc_stat(pid);
        if (stat && stat->pgrp == pgid && stat->state != 'Z')
            out.push_back(pid);
    }
    return out;
}

// Hermes' storm breaker, as the gateway's environment sets it.
StormRule storm_rule_of(const std::map<std::string, std::string>& env)
{
    StormRule r;
    if (auto it = env.find("HERMES_GATEWAY_MAX_STARTS"); it != env.end())
        r.max_starts = std::atoi(it->second.c_str());
    if (auto it = env.find("HERMES_GATEWAY_START_WINDOW_S"); it != env.end())
        if (double w = std::atof(it->second.c_str()); w > 0)
            r.window_s = w;
    return r;
}

} // namespace

// ---------------------------------------------------------------- the machine

struct Supervisor::Impl {
    // The process the machine acts on: our child, or an orphan being stopped.
    struct Gateway {
        pid_t pid = 0;
        std::uint64_t start_time = 0;
        std::uint64_t generation = 0;
        std::uint64_t started_at_usec = 0;
        std::optional<ProcessHandle> handle;
        bool child = true;         // false: an orphan, stopped but never waited for
        bool ready = false;
        bool start_failed = false; // stopped for not becoming ready: its exit is a crash
        bool record_seen = false;  // its record appeared (inotify), even if a reader deleted it since
        pid_t taken_over_by = 0;   // `hermes gateway run --replace` named it in its takeover marker
        EventSource takeover_expiry; // a takeover that has not happened by then did not happen
        std::chrono::seconds backoff{0}; // Hermes' storm breaker makes it sleep this long first
        std::string status_text;
        EventSource exit_watch;
    };

    // The operation callers wait for.
    struct Operation {
        Job kind = Job::None;
        OpOptions options;
        std::vector<Completion> waiters;
        pid_t old_pid = 0;
        bool spawned = false; // its new gateway exists: later Replace calls queue a follow-up
        bool start_retried = false; // one start failed, and the restart at once is part of it
        EventSource deadline;
    };

    Impl(Supervisor& owner, EventLoop& loop, const Config& config, const HomePaths& paths);

    Supervisor& owner;
    EventLoop& loop;
    const Config& config;
    const HomePaths& paths;
    std::vector<SupervisorObserver*> observers;
    std::unique_ptr<ChildNotifySocket> notify;
    HomeWatch watch;
    FileKeeper keeper;
    StormRule storm_rule;
    std::optional<ManagerLock> manager;
    Supervisor::StartGate start_gate; // fleet mode: may this host run a gateway now?
    std::optional<ProcessIdentity> marked_child; // from the previous daemon, checked once

    Phase phase = Phase::Stopped;
    bool want_run = false;
    EventSource timer; // the one timer of the phase
    std::unique_ptr<Gateway> gw;
    pid_t corpse = 0; // a dead gateway not reaped yet: pins its process group for the leftovers
    bool subreaper = become_subreaper(); // what the gateway's tree leaves becomes our child
    EventSource reaper; // SIGCHLD
    UniqueFd obstacle_watch;
    EventSource obstacle_source;
    RestartPolicy policy;
    microseconds retry_delay = kRetryFirst;
    std::uint64_t healthy_at = 0; // monotonic: last moment the machine was healthy
    std::uint64_t last_attempt = 0; // monotonic: the last start attempt

    std::uint64_t generation = 0;
    std::uint32_t restarts = 0;
    ExitInfo last_exit;
    std::string failure_reason, blocked_reason;
    pid_t foreign_pid = 0;

    Operation op;
    Operation followup; // one queued Replace shared by every late caller

    // Steps.
    void enter(Phase to, Event ev, const std::string& reason, std::optional<microseconds> after = {},
               EventLoop::Callback on_timer = {});
    void try_start(const std::string& reason);
    void spawn_gateway(const std::string& reason);
    void block(const std::string& reason, UniqueFd watch_fd = {});
    void enter_foreign(pid_t pid, const std::string& why, UniqueFd watch_fd, Event ev = Event::FoundForeign);
    void watch_gateway(pid_t pid, ProcessHandle handle);
    // What blocks us, for Snapshot, and the pidfd whose readiness retries.
    void hold_off(const std::string& why, pid_t pid, UniqueFd watch_fd);
    void fail(Event ev, const std::string& why, int exit_code);
    void signal_gateway(int sig, Phase next, Event ev, const std::string& reason);
    void stop_gateway(Event ev, const std::string& reason);
    void mark_ready(const std::string& how);
    bool ensure_manager();
    [[nodiscard]] bool ready_by_time() const;
    [[nodiscard]] std::vector<pid_t> leftovers() const;
    void signal_leftovers(const std::vector<pid_t>& left, int sig);
    bool term_leftovers();
    void kill_leftovers();
    void reap_corpse();
    void reap_strays();

    // Events.
    void on_exit();
    void on_notify(pid_t sender, const NotifyMessage& msg);
    void on_home_changed(const HomeChange& c);
    void on_record_seen(const HomeChange& c);
    void on_takeover_marker();
    void expect_takeover(pid_t replacer);
    void on_starts_logged();
    bool adopt_foreign(const std::string& why);
    void keep_lock_of_child(bool and_record);
    void on_obstacle_gone();
    void on_start_timeout();
    void on_escalate();
    void on_watchdog_lapse();
    void after_exit(const ExitInfo& exit, pid_t pid, bool was_child, bool start_failed, bool was_ready);
    void after_takeover(const ExitInfo& exit, pid_t pid, pid_t replacer);

    // Operations.
    void begin_op(Job kind, const OpOptions& opts, Completion done, microseconds default_timeout);
    void finish_op(const OpResult& r);
    void fail_op(OpError e, const std::string& message);
    void retry_or_fail_start(const RestartDecision& d, const std::string& failure);
    void start_followup();
    [[nodiscard]] OpResult result(OpError e, std::string message) const;
    // Answers GenerationMismatch when the caller's if_generation is not ours.
    bool generation_differs(const OpOptions& opts, const Completion& done) const;
    bool gate_refuses(Completion& done);
    [[nodiscard]] microseconds start_budget() const;
    [[nodiscard]] microseconds stop_budget(Phase from) const;

    template <typename F>
    void notify_observers(F&& f)
    {
        for (auto* o : std::vector<SupervisorObserver*>(observers))
            f(*o);
    }
    void changed() { notify_observers([](SupervisorObserver& o) { o.changed(); }); }
};

Supervisor::Impl::Impl(Supervisor& o, EventLoop& l, const Config& c, const HomePaths& p)
    : owner(o), loop(l), config(c), paths(p),
      watch(l, p.home, [this](const HomeChange& change) { on_home_changed(change); }),
      keeper(l, p,
             [this](const std::string& what, pid_t pid) {
                 notify_observers([&](SupervisorObserver& obs) { obs.pidfile_repaired(what, pid); });
             }),
      policy(RestartLimits{c.restart_delay, c.restart_delay_max, c.burst, c.burst_window})
{
    notify = std::make_unique<ChildNotifySocket>(
        loop, config.notify_socket, [this](pid_t sender, const NotifyMessage& m) { on_notify(sender, m); });
    healthy_at = EventLoop::now_usec();
    reaper = loop.add_signal(SIGCHLD, [this] { reap_strays(); });
    if (!subreaper)
        log::warning("cannot become the subreaper of the gateway's processes; leftovers are looked for in its "
                     "process group only");
}

// ---------------------------------------------------------------- transitions

void Supervisor::Impl::enter(Phase to, Event ev, const std::string& reason, std::optional<microseconds> after,
                             EventLoop::Callback on_timer)
{
    const Phase from = phase;
    if (!allowed(from, ev, to))
        log::error("state machine: " + std::string(to_string(from)) + " --" + std::string(to_string(ev)) + "--> " +
                   std::string(to_string(to)) + " is not in the state table");
    const State state_from = state_of(from, op.kind);
    phase = to;
    timer.reset();
    if (after && on_timer)
        timer = loop.add_timer(*after, std::move(on_timer));
    if (to != Phase::Failed)
        failure_reason.clear();
    if (to != Phase::Waiting && to != Phase::Foreign) {
        blocked_reason.clear();
        foreign_pid = 0;
        obstacle_source.reset();
        obstacle_watch.reset();
    }
    if (to == Phase::Running || to == Phase::Stopped)
        healthy_at = EventLoop::now_usec();

    const pid_t pid = gw ? gw->pid : 0;
    if (from != to) // a retry in the same phase logs its own line
        log::info("phase " + std::string(to_string(from)) + " -> " + std::string(to_string(to)) +
                      (reason.empty() ? "" : ": " + reason),
                  pid, generation);
    PhaseChange change{from, to, state_from, state_of(to, op.kind), op.kind, reason, pid, generation, {}};
    if (after && is_kill_phase(to))
        change.timer = *after + stop_budget(to);
    notify_observers([&](SupervisorObserver& o) { o.phase_changed(change); });
    changed();
}

void Supervisor::Impl::block(const std::string& reason, UniqueFd watch_fd)
{
    log::warning("cannot start the gateway now: " + reason + "; retrying in " +
                 std::to_string(retry_delay.count() / 1000) + " ms or when the home changes");
    const microseconds delay = retry_delay;
    retry_delay = std::min(retry_delay * 2, kRetryMax);
    enter(Phase::Waiting, Event::Blocked, reason, delay, [this] { try_start("retry"); });
    hold_off(reason, 0, std::move(watch_fd));
}

void Supervisor::Impl::enter_foreign(pid_t pid, const std::string& why, UniqueFd watch_fd, Event ev)
{
    enter(Phase::Foreign, ev, why, kForeignRecheck, [this] { try_start("re-check"); });
    hold_off(why, pid, std::move(watch_fd));
}

void Supervisor::Impl::hold_off(const std::string& why, pid_t pid, UniqueFd watch_fd)
{
    blocked_reason = why;
    foreign_pid = pid;
    if (watch_fd) {
        // Its exit is worth a retry at once; it is never signalled.
        obstacle_watch = std::move(watch_fd);
        obstacle_source = loop.add_io(obstacle_watch.get(), EPOLLIN, [this](std::uint32_t) { on_obstacle_gone(); });
    }
    changed();
}

void Supervisor::Impl::fail(Event ev, const std::string& why, int exit_code)
{
    want_run = false;
    enter(Phase::Failed, ev, why);
    failure_reason = why;
    changed();
    fail_op(OpError::StartFailed, why);
    for (auto& w : std::exchange(followup.waiters, {}))
        w(result(OpError::StartFailed, why));
    if (!config.exit_on_failure)
        return;
    // The service manager decides what comes next (Restart=, the start
    // limit, RestartPreventExitStatus=78).
    log::error("exiting with status " + std::to_string(exit_code) + " (--exit-on-failure): " + why);
    loop.exit(exit_code);
}

bool Supervisor::Impl::ensure_manager()
{
    if (manager && !manager->still_in_place()) {
        log::warning("the home's gatewayd.lock was removed (the home deleted?); taking it anew");
        manager.reset();
    }
    if (manager)
        return true;
    auto got = ManagerLock::try_acquire(paths);
    if (auto* held = std::get_if<ManagerLock::Held>(&got)) {
        block("another hermes-gatewayd (pid " + std::to_string(held->pid) + ") manages " + paths.home.string());
        return false;
    }
    if (auto* unavailable = std::get_if<ManagerLock::Unavailable>(&got)) {
        block(unavailable->reason);
        return false;
    }
    manager.emplace(std::move(std::get<ManagerLock>(got)));
    if (manager->previous() && manager->previous()->child)
        marked_child = manager->previous()->child;
    return true;
}

// ---------------------------------------------------------------- starting

void Supervisor::Impl::try_start(const std::string& reason)
{
    if (!want_run || gw)
        return;
    last_attempt = EventLoop::now_usec();
    kill_leftovers();
    try {
        if (StartCheck home = check_home_exists(paths); !home) {
            block(home.problem);
            return;
        }
        if (!ensure_manager())
            return;
        if (auto storage = storage_problem(paths)) {
            block(*storage);
            return;
        }
        if (!watch.ensure()) {
            block("the Hermes home " + paths.home.string() + " is missing");
            return;
        }
        Obstacle o = find_obstacle(paths, marked_child);
        marked_child.reset(); // checked: gone, or now in `o` (a fault above keeps it for the retry)
        switch (o.kind) {
        case Obstacle::Kind::None: break;
        case Obstacle::Kind::Orphan: {
            log::warning("stopping " + o.why, o.pid);
            watch_gateway(o.pid, std::move(*o.orphan));
            signal_gateway(SIGTERM, Phase::Recovering, Event::FoundOrphan, o.why);
            return;
        }
        case Obstacle::Kind::Foreign: enter_foreign(o.pid, o.why, std::move(o.watch)); return;
        case Obstacle::Kind::Holder: block(o.why, std::move(o.watch)); return;
        }
        spawn_gateway(reason);
    } catch (const ExecError& e) {
        log::error(describe(e));
        fail(Event::Unstartable, std::string("cannot run the gateway: ") + e.what(), kExitFailure);
    } catch (const UnsafeFileError& e) {
        block(std::string(e.what()) + " (fix it by hand)");
    } catch (const Error& e) {
        block(describe(e));
    } catch (const std::exception& e) {
        block(e.what());
    }
}

void Supervisor::Impl::spawn_gateway(const std::string& reason)
{
    std::optional<HomeLock> held;
    CleanOutcome cleaned;
    if (config.write_pidfile) {
        LockOutcome l = lock_home(paths);
        if (!l.locked) {
            block(l.message);
            return;
        }
        held = std::move(l.locked);
        cleaned = held->cleaned();
    } else if (read_record_file(paths.pid_file).status != FileStatus::Missing) {
        cleaned = clean(paths); // only a record is worth the judgement (and its lock probe)
    }
    if (auto problem = pidfile_problem(cleaned)) {
        block(*problem);
        return;
    }
    report_repair(cleaned, [this](const std::string& verdict, pid_t pid) {
        notify_observers([&](SupervisorObserver& o) { o.pidfile_repaired(verdict, pid); });
    });

    SpawnRequest req;
    req.argv = config.command;
    req.env = inheritable_environment();
    for (const auto& [k, v] : config.environment)
        req.env[k] = v;
    req.env["HERMES_HOME"] = paths.home.string();
    // Hermes recognises a supervisor by this (or systemd's INVOCATION_ID,
    // passed through) and then leaves restarts to it instead of refusing a
    // start its own conflict guard does not trust.
    req.env["HERMES_GATEWAY_EXTERNAL_SUPERVISOR"] = "1";
    // A planned replace is no respawn storm, but Hermes' breaker counts it:
    // past five starts in two minutes it sleeps 10 s and more before taking
    // the lock. Its own variable turns the breaker off for this one start;
    // restarts after a crash keep it, and a value the user set wins.
    if (op.kind == Job::Replace && !req.env.count("HERMES_GATEWAY_MAX_STARTS"))
        req.env["HERMES_GATEWAY_MAX_STARTS"] = "0";
    storm_rule = storm_rule_of(req.env);
    req.env["NOTIFY_SOCKET"] = notify->address();
    if (config.child_watchdog.count() > 0) {
        req.env["WATCHDOG_USEC"] = std::to_string(config.child_watchdog.count());
        req.set_watchdog_pid = true;
    }
    req.working_directory = config.working_directory;
    req.inherit_fd = held ? held->fd() : -1;
    req.die_with_parent = config.fleet.enabled();

    auto g = std::make_unique<Gateway>();
    const std::uint64_t next_generation = generation + 1;
    g->pid = spawn_process(req, [&](pid_t pid) {
        // Before it runs: a daemon killed from here on leaves a marker that
        // names it, so the next one finds and stops it.
        g->start_time = read_start_time(pid).value_or(0);
        manager->record_child({pid, g->start_time, current_boot_id()});
    });
    if (held) {
        // Only past its exec does the child's command line read as a gateway
        // to Hermes' reader, so only now does its lock file go in place
        // (core/home_lock.h). If that fails the child goes: its lock is not gateway.lock.
        try {
            if (!held->publish(gateway_record(paths, config, g->pid, next_generation)))
                throw Error(held->refusal(), "the gateway just started was stopped; waiting to start it again");
        } catch (...) {
            log::warning("stopping the gateway just started: its record could not be published", g->pid);
            ::killpg(g->pid, SIGKILL); // ours and not reaped: its process group is no one else's
            corpse = g->pid;           // reaped, with whatever it started, before the next start
            throw;
        }
        held->hand_over(); // the child's inherited fd holds the lock now
    }
    generation = next_generation;
    g->generation = generation;
    g->started_at_usec = realtime_usec();
    g->handle = ProcessHandle::for_child(g->pid);
    g->exit_watch = loop.add_io(g->handle->fd(), EPOLLIN, [this](std::uint32_t) { on_exit(); });
    notify->accept_from(g->pid);
    gw = std::move(g);
    if (op.kind != Job::None)
        op.spawned = true;
    retry_delay = kRetryFirst;
    log::info("started gateway: " + config.command.front(), gw->pid, generation);

    if (ready_by_time())
        enter(Phase::Starting, Event::Spawned, reason, std::min(config.ready_grace, config.ready_timeout),
              [this] { mark_ready("grace time passed"); });
    else
        enter(Phase::Starting, Event::Spawned, reason, config.ready_timeout, [this] { on_start_timeout(); });
}

bool Supervisor::Impl::ready_by_time() const
{
    // A gateway that writes no record of its own cannot show readiness by
    // one: alive for the grace time counts, unless it says READY=1 first.
    return config.readiness == Readiness::Grace || (config.readiness == Readiness::PidFile && config.write_pidfile);
}

// ---------------------------------------------------------------- readiness

void Supervisor::Impl::mark_ready(const std::string& how)
{
    if (!gw || gw->ready || phase != Phase::Starting)
        return;
    gw->ready = true;
    policy.on_ready();
    retry_delay = kRetryFirst;
    if (manager)
        manager->record_child({gw->pid, gw->start_time, current_boot_id()});
    if (gw->child)
        keep_lock_of_child(true);
    const bool was_replace = op.kind == Job::Replace;
    const pid_t old_pid = op.old_pid;
    const std::string op_reason = op.options.reason;
    enter(Phase::Running, Event::Ready, "gateway ready (" + how + ")",
          config.child_watchdog.count() > 0 ? std::optional(config.child_watchdog) : std::nullopt,
          [this] { on_watchdog_lapse(); });
    const pid_t pid = gw->pid;
    const std::uint64_t gen = generation;
    notify_observers([&](SupervisorObserver& o) { o.gateway_ready(pid, gen); });
    if (was_replace && old_pid)
        notify_observers([&](SupervisorObserver& o) { o.replaced(old_pid, pid, gen, op_reason); });
    if (op.kind == Job::Start || op.kind == Job::Replace)
        finish_op(result(OpError::None, "ready"));
    start_followup();
}

void Supervisor::Impl::on_home_changed(const HomeChange& c)
{
    if (phase == Phase::Waiting) {
        if (!c.other && !c.record)
            return;
        // A home something writes to all the time must not make this a
        // busy loop: at most one attempt per first back-off.
        const std::uint64_t next = last_attempt + static_cast<std::uint64_t>(kRetryFirst.count());
        if (EventLoop::now_usec() >= next)
            try_start("the home changed");
        else
            timer = loop.add_timer_at(next, [this] { try_start("the home changed"); });
        return;
    }
    if (!gw || !gw->child)
        return;
    if (c.takeover)
        on_takeover_marker();
    if (c.starts_log && phase == Phase::Starting)
        on_starts_logged();
    if (phase == Phase::Starting && !gw->ready) {
        if (c.lock)
            keep_lock_of_child(false); // a reader unlinked it in the gateway's acquire window
        on_record_seen(c);
    } else if ((phase == Phase::Running || phase == Phase::Draining) && (c.record || c.lock) && !gw->taken_over_by) {
        // Also while it drains: it holds the lock until it exits, and a
        // starter must not find the lock split meanwhile. (A gateway being
        // taken over removes its files on the way out: left alone.)
        keeper.check();
    }
}

// Keeps gateway.lock naming a locked file with our child's record while the
// child holds the one it took; with `and_record`, gateway.pid too.
void Supervisor::Impl::keep_lock_of_child(bool and_record)
{
    if (auto lock = flock_on_path(gw->pid, paths.lock_file))
        keeper.adopt(gw->pid, gw->start_time, *lock, record_to_keep(paths, config, gw->pid, generation), and_record);
}

// Readiness by record counts what was seen: the record appearing (a reader
// may delete it a moment later) and the child holding a flock on the file
// it opened as gateway.lock (even if a reader unlinked that path since).
void Supervisor::Impl::on_record_seen(const HomeChange& c)
{
    if (!c.record || config.readiness != Readiness::PidFile || config.write_pidfile)
        return;
    RecordFile f = read_record_file(paths.pid_file);
    const bool names_child = f.status == FileStatus::Record && f.record->pid == gw->pid;
    if (names_child || (c.record_created && f.status == FileStatus::Missing))
        gw->record_seen = true;
    if (gw->record_seen && flock_on_path(gw->pid, paths.lock_file))
        mark_ready("record written and lock held");
}

// `hermes gateway run --replace` names the gateway it is about to SIGTERM;
// the gateway deletes the marker when the signal comes, so it is read now.
void Supervisor::Impl::on_takeover_marker()
{
    auto marker = read_takeover_marker(paths);
    if (!marker) {
        // Gone already: our gateway consumed it on the SIGTERM that came
        // with it. The replacer is looked for when the gateway exits.
        if (gw->ready && !gw->taken_over_by)
            expect_takeover(kUnknownReplacer);
        return;
    }
    if (marker->target_pid != gw->pid || (marker->target_start_time && *marker->target_start_time != gw->start_time))
        return;
    expect_takeover(marker->replacer_pid > 0 ? marker->replacer_pid : kUnknownReplacer);
    log::warning("hermes gateway run --replace (pid " + std::to_string(marker->replacer_pid) +
                     ") is taking over from our gateway",
                 gw->pid, generation);
}

// Hermes' replacer waits 10 s for the old gateway, then SIGKILLs it: ours
// still alive well after that was not taken over (the replacer gave up),
// and its files are kept true again.
void Supervisor::Impl::expect_takeover(pid_t replacer)
{
    gw->taken_over_by = replacer;
    gw->takeover_expiry = loop.add_timer(kTakeoverExpiry, [this] {
        if (!gw)
            return;
        gw->taken_over_by = 0;
        gw->takeover_expiry.reset();
        keeper.check();
    });
}

// Hermes logged this start; if its storm breaker makes the gateway sleep
// first, that sleep is no hang: the start timeout grows by it.
void Supervisor::Impl::on_starts_logged()
{
    const double now = static_cast<double>(realtime_usec()) / 1e6;
    const std::chrono::seconds backoff = storm_backoff(read_starts_log(paths), now, storm_rule);
    if (backoff.count() == 0 || backoff == gw->backoff || ready_by_time())
        return;
    gw->backoff = backoff;
    const microseconds budget = config.ready_timeout + backoff;
    log::warning("Hermes' respawn-storm breaker makes the gateway wait " + std::to_string(backoff.count()) +
                     " s before it starts; allowing it that long",
                 gw->pid, generation);
    timer = loop.add_timer(budget, [this] { on_start_timeout(); });
    gw->status_text = "backing off " + std::to_string(backoff.count()) + " s (Hermes' respawn-storm breaker)";
    if ((op.kind == Job::Start || op.kind == Job::Replace) && op.deadline)
        op.deadline = loop.add_timer(budget, [this] {
            auto waiters = std::exchange(op.waiters, {});
            OpResult r = result(OpError::Timeout, "the new gateway is still backing off (Hermes' respawn-storm "
                                                  "breaker); it goes on in the background");
            for (auto& w : waiters)
                w(r);
        });
    notify_observers([&](SupervisorObserver& o) { o.start_extended(budget, gw->status_text); });
    changed();
}

void Supervisor::Impl::on_notify(pid_t sender, const NotifyMessage& msg)
{
    if (!gw || !gw->child || sender != gw->pid)
        return;
    if (auto it = msg.find("STATUS"); it != msg.end()) {
        gw->status_text = it->second;
        const std::string text = it->second;
        notify_observers([&](SupervisorObserver& o) { o.gateway_status(text); });
        changed();
    }
    if (auto it = msg.find("READY"); it != msg.end() && it->second == "1")
        mark_ready("READY=1");
    if (auto it = msg.find("WATCHDOG"); it != msg.end() && it->second == "1" && phase == Phase::Running &&
                                        config.child_watchdog.count() > 0)
        timer = loop.add_timer(config.child_watchdog, [this] { on_watchdog_lapse(); });
    if (auto it = msg.find("EXTEND_TIMEOUT_USEC"); it != msg.end() && phase == Phase::Starting && !ready_by_time()) {
        // Clamped: a huge or garbled value must never wrap around into "now".
        const std::uint64_t raw = std::strtoull(it->second.c_str(), nullptr, 10);
        const auto cap = static_cast<std::uint64_t>(kMaxExtend.count());
        timer = loop.add_timer(microseconds(static_cast<std::int64_t>(std::min(raw, cap))),
                               [this] { on_start_timeout(); });
    }
}

void Supervisor::Impl::on_start_timeout()
{
    if (!gw || phase != Phase::Starting)
        return;
    std::string msg = "gateway pid " + std::to_string(gw->pid) + " was not ready within its start timeout";
    log::error(msg, gw->pid, generation);
    gw->start_failed = true;
    fail_op(OpError::Timeout, msg);
    signal_gateway(SIGTERM, Phase::Stopping, Event::Timeout, "not ready in time");
}

void Supervisor::Impl::on_watchdog_lapse()
{
    if (!gw || phase != Phase::Running)
        return;
    log::error("gateway stopped pinging its watchdog; replacing it", gw->pid, generation);
    owner.replace(OpOptions{"watchdog timeout", {}, {}}, true, [](const OpResult& r) {
        if (!r.ok())
            log::error("replace after watchdog timeout failed: " + r.message);
    });
}

// ---------------------------------------------------------------- stopping

void Supervisor::Impl::signal_gateway(int sig, Phase next, Event ev, const std::string& reason)
{
    log::info("sending " + std::string(sigabbrev_np(sig)) + " to the gateway (" + reason + ")", gw->pid, generation);
    microseconds wait = sig == SIGUSR1 ? config.drain_timeout : sig == SIGTERM ? config.stop_timeout
                                                                                : config.kill_timeout;
    bool refused = false;
    try {
        gw->handle->send_signal(sig);
        // A stopped (SIGSTOPped) gateway cannot act on what we asked.
        gw->handle->send_signal(SIGCONT);
    } catch (const SystemError& e) {
        refused = true;
        log::error("cannot signal pid " + std::to_string(gw->pid) + ": " + describe(e), gw->pid, generation);
    }
    if (refused && !gw->child) {
        // EPERM is a verdict, never a crash: the orphan is not ours to stop.
        const pid_t pid = gw->pid;
        gw.reset();
        enter_foreign(pid, "a gateway of this home we may not signal: pid " + std::to_string(pid),
                      UniqueFd(pidfd_open(pid)));
        return;
    }
    enter(next, ev, reason, wait, [this] { on_escalate(); });
}

void Supervisor::Impl::stop_gateway(Event ev, const std::string& reason)
{
    if (phase == Phase::Stopping || phase == Phase::Killing || phase == Phase::Recovering)
        return; // already on its way out
    signal_gateway(SIGTERM, Phase::Stopping, ev, reason);
}

void Supervisor::Impl::on_escalate()
{
    if (!gw)
        return;
    if (phase == Phase::Draining) {
        log::warning("gateway did not exit after SIGUSR1; sending SIGTERM", gw->pid, generation);
        signal_gateway(SIGTERM, Phase::Stopping, Event::Timeout, "drain timeout");
    } else if (phase == Phase::Stopping || phase == Phase::Recovering) {
        log::warning("gateway did not exit after SIGTERM; sending SIGKILL", gw->pid, generation);
        signal_gateway(SIGKILL, Phase::Killing, Event::Timeout, "stop timeout");
    } else if (phase == Phase::Killing) {
        std::string msg = "gateway pid " + std::to_string(gw->pid) + " survived SIGKILL (stuck in the kernel?)";
        log::error(msg, gw->pid, generation);
        fail_op(OpError::Timeout, msg);
        // Never given up: it is still ours, and its exit will still come.
        signal_gateway(SIGKILL, Phase::Killing, Event::Timeout, "still alive after SIGKILL");
    }
}

// ---------------------------------------------------------------- exits

void Supervisor::Impl::on_exit()
{
    if (!gw)
        return;
    const pid_t pid = gw->pid;
    const bool was_child = gw->child;
    int status = 0;
    if (was_child) {
        // Look without reaping: until we reap, the PID cannot be reused, so
        // the record that names it can be judged and removed safely, and
        // its process group stays pinned for the leftovers.
        siginfo_t info{};
        if (::waitid(P_PIDFD, static_cast<id_t>(gw->handle->fd()), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid == 0)
            return;
        try {
            remove_record_of(paths, pid, gw->start_time, [this, pid](const std::string& verdict) {
                notify_observers([&](SupervisorObserver& o) { o.pidfile_repaired(verdict, pid); });
            });
        } catch (const std::exception& e) {
            // The next start's clean judges it again; this exit must go on.
            log::warning(std::string("cannot remove the dead gateway's record now: ") + e.what(), pid);
        }
        status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : info.si_status & 0x7f;
        if (info.si_code == CLD_DUMPED)
            status |= 0x80;
        corpse = pid;
    } else if (gw->handle->running()) {
        return;
    }
    const bool start_failed = gw->start_failed;
    const bool was_ready = gw->ready;
    const pid_t taken_over_by = gw->taken_over_by;
    keeper.release(); // our hold on gateway.lock, if we put one in place, ends with it
    gw.reset();
    notify->accept_from(0);
    if (manager)
        manager->clear_child();
    if (was_child)
        term_leftovers();
    if (taken_over_by && want_run && op.kind == Job::None) {
        const std::optional<pid_t> replacer =
            taken_over_by == kUnknownReplacer ? find_replacer(paths) : std::optional<pid_t>(taken_over_by);
        if (replacer) {
            after_takeover(exit_info_from_wait_status(status), pid, *replacer);
            return;
        }
    }
    after_exit(exit_info_from_wait_status(status), pid, was_child, start_failed, was_ready);
}

// `hermes gateway run --replace` stopped our gateway to run its own: no
// crash, and no fight. It is watched as a foreign gateway (never signalled
// unless a person asks) and ours starts again once it is gone.
void Supervisor::Impl::after_takeover(const ExitInfo& exit, pid_t pid, pid_t replacer)
{
    last_exit = exit;
    log::info("gateway " + describe_exit(exit) + ", taken over by pid " + std::to_string(replacer), pid, generation);
    notify_observers([&](SupervisorObserver& o) { o.gateway_exited(pid, exit); });
    kill_leftovers();
    UniqueFd replacer_fd(pidfd_open(replacer));
    if (!replacer_fd) {
        try_start("the gateway that took over is gone");
        return;
    }
    enter_foreign(replacer, "taken over by hermes gateway run --replace, pid " + std::to_string(replacer),
                  std::move(replacer_fd), Event::TakenOver);
}

void Supervisor::Impl::after_exit(const ExitInfo& exit, pid_t pid, bool was_child, bool start_failed,
                                  bool was_ready)
{
    if (was_child) {
        last_exit = exit;
        log::info("gateway " + describe_exit(exit), pid, generation);
        notify_observers([&](SupervisorObserver& o) { o.gateway_exited(pid, exit); });
    } else {
        log::info("the gateway we did not start, pid " + std::to_string(pid) + ", is gone");
    }
    changed();

    if (!want_run) {
        kill_leftovers();
        enter(Phase::Stopped, Event::Exit, was_child ? "gateway " + describe_exit(exit) : "the gateway we did not start stopped");
        if (op.kind == Job::Stop || op.kind == Job::Shutdown)
            finish_op(result(OpError::None, "stopped"));
        return;
    }
    if (!was_child || (op.kind == Job::Replace && op.old_pid == pid)) {
        // The orphan is gone, or the old gateway of a replace: start ours,
        // once what is left of the old one's process group had its chance
        // to exit.
        const std::string why = op.options.reason.empty() ? "replace" : op.options.reason;
        if (corpse)
            enter(Phase::AutoRestart, Event::Exit, "waiting for what the old gateway left to exit", kLeftoverGrace,
                  [this, why] { try_start(why); });
        else
            // On the next turn of the loop, so that observers see the
            // moment without a gateway; the kill phase's timer is moot now.
            timer = loop.add_defer([this, why] { try_start(why); });
        return;
    }
    // An exit nobody asked for, or a start that failed: the restart policy
    // decides. A caller waiting for a start hears why it failed.
    const std::string start_failure =
        "gateway pid " + std::to_string(pid) + " " + describe_exit(exit) + " before it was ready";
    ExitClass cls = ExitClass::Crash;
    if (exit.kind == "exited" && exit.status == kExitConfigError)
        cls = ExitClass::ConfigError;
    else if (auto storage = storage_problem(paths)) {
        // It died of a full or read-only home, most likely: no crash of its
        // own, and no use starting it again until that changes.
        kill_leftovers();
        fail_op(OpError::StartFailed, start_failure);
        block(*storage + "; the gateway " + describe_exit(exit));
        return;
    } else if (!was_ready) {
        // A start that failed at once may have found gateway.lock held by
        // someone else (the quick start does not probe it): wait for them.
        kill_leftovers();
        if (Obstacle holder = lock_holder(paths); holder.kind != Obstacle::Kind::None) {
            fail_op(OpError::StartFailed, start_failure);
            block(holder.why + "; the gateway " + describe_exit(exit), std::move(holder.watch));
            return;
        }
    }
    else if (exit.kind == "exited" && exit.status == kExitRestartMe && was_ready && !start_failed)
        cls = ExitClass::RestartMe;
    RestartDecision d = policy.on_exit(cls, EventLoop::now_usec());
    switch (d.kind) {
    case RestartDecision::Kind::Fail:
        kill_leftovers();
        fail(Event::CrashLoop, d.why + "; last: gateway " + describe_exit(exit),
             cls == ExitClass::ConfigError ? kExitConfigError : kExitFailure);
        return;
    case RestartDecision::Kind::Now:
    case RestartDecision::Kind::After: {
        if (op.kind == Job::Start || op.kind == Job::Replace)
            retry_or_fail_start(d, start_failure);
        const std::string why = d.why + " after the gateway " + describe_exit(exit);
        const microseconds delay = corpse ? std::max(d.delay, kLeftoverGrace) : d.delay;
        enter(Phase::AutoRestart, Event::Exit, why, delay, [this, why] {
            ++restarts;
            changed();
            try_start(why);
        });
        return;
    }
    }
}

// A start can fail for a moment's reason: Hermes' own status reader holds
// its probe flock on gateway.lock just as the gateway tries to take it, and
// the gateway exits "already held". The restart at once is still part of
// the caller's start; a second failure, or one the policy delays, is the
// caller's answer.
void Supervisor::Impl::retry_or_fail_start(const RestartDecision& d, const std::string& failure)
{
    if (d.kind == RestartDecision::Kind::Now && !op.start_retried) {
        op.start_retried = true;
        log::warning(failure + "; trying once more before the " +
                     (op.kind == Job::Replace ? std::string("replace") : std::string("start")) + " reports it");
        return;
    }
    fail_op(OpError::StartFailed, failure);
}

// ---------------------------------------------------------------- leftovers

// What the dead gateway left: our other children (we are their subreaper),
// or, where the kernel refused that, the rest of its process group. The
// dead gateway is not reaped yet, so its process group cannot be anyone
// else's either.
std::vector<pid_t> Supervisor::Impl::leftovers() const
{
    return subreaper ? living_children({corpse}) : group_members(corpse);
}

void Supervisor::Impl::signal_leftovers(const std::vector<pid_t>& left, int sig)
{
    ::killpg(corpse, sig);
    for (pid_t pid : left)
        ::kill(pid, sig);
    if (sig != SIGKILL) {
        ::killpg(corpse, SIGCONT);
        for (pid_t pid : left)
            ::kill(pid, SIGCONT);
    }
}

// They get SIGTERM now and SIGKILL before the next start.
bool Supervisor::Impl::term_leftovers()
{
    if (!corpse)
        return false;
    const std::vector<pid_t> left = leftovers();
    if (left.empty()) {
        reap_corpse();
        return false;
    }
    log::warning("the dead gateway left " + std::to_string(left.size()) + " process(es); sending them SIGTERM",
                 corpse);
    signal_leftovers(left, SIGTERM);
    return true;
}

void Supervisor::Impl::kill_leftovers()
{
    if (!corpse)
        return;
    if (const std::vector<pid_t> left = leftovers(); !left.empty()) {
        log::warning("sending SIGKILL to the " + std::to_string(left.size()) + " process(es) the dead gateway left",
                     corpse);
        signal_leftovers(left, SIGKILL);
    }
    reap_corpse();
}

void Supervisor::Impl::reap_corpse()
{
    int ignored = 0;
    ::waitpid(corpse, &ignored, 0);
    corpse = 0;
}

// SIGCHLD: a child of ours other than the gateway exited (a leftover we
// signalled, or a process reparented to us while the gateway runs).
void Supervisor::Impl::reap_strays()
{
    (void)living_children({gw && gw->child ? gw->pid : 0, corpse});
}

// ---------------------------------------------------------------- obstacles

void Supervisor::Impl::on_obstacle_gone()
{
    obstacle_source.reset();
    obstacle_watch.reset();
    if (phase == Phase::Waiting || phase == Phase::Foreign)
        try_start("what blocked the start is gone");
}

// A gateway that is not our child becomes the one the machine acts on.
void Supervisor::Impl::watch_gateway(pid_t pid, ProcessHandle handle)
{
    auto g = std::make_unique<Gateway>();
    g->pid = pid;
    g->child = false;
    g->handle = std::move(handle);
    g->exit_watch = loop.add_io(g->handle->fd(), EPOLLIN, [this](std::uint32_t) { on_exit(); });
    gw = std::move(g);
}

// A person asked to stop or replace the foreign gateway: it is acted on only
// if it is, now, a validated gateway of this home.
bool Supervisor::Impl::adopt_foreign(const std::string& why)
{
    Obstacle o = find_obstacle(paths, std::nullopt);
    if (o.kind != Obstacle::Kind::Foreign || !o.orphan)
        return false;
    obstacle_source.reset();
    obstacle_watch.reset();
    log::warning(why + ", for the gateway we did not start: " + o.why, o.pid);
    watch_gateway(o.pid, std::move(*o.orphan));
    return true;
}

// ---------------------------------------------------------------- operations

OpResult Supervisor::Impl::result(OpError e, std::string message) const
{
    return {e, std::move(message), gw ? gw->pid : 0, generation};
}

// Fleet mode: a host that is not the fleet's leader runs no gateway, and
// says so to whoever asks for one.
bool Supervisor::Impl::gate_refuses(Completion& done)
{
    if (!start_gate)
        return false;
    if (auto why = start_gate()) {
        done(result(OpError::CannotStart, *why));
        return true;
    }
    return false;
}

bool Supervisor::Impl::generation_differs(const OpOptions& opts, const Completion& done) const
{
    if (!opts.if_generation || *opts.if_generation == generation)
        return false;
    done(result(OpError::GenerationMismatch,
                "generation is " + std::to_string(generation) + ", not " + std::to_string(*opts.if_generation)));
    return true;
}

microseconds Supervisor::Impl::start_budget() const
{
    return config.ready_timeout + config.drain_timeout + config.stop_timeout + config.kill_timeout;
}

microseconds Supervisor::Impl::stop_budget(Phase from) const
{
    switch (from) {
    case Phase::Draining: return config.stop_timeout + config.kill_timeout;
    case Phase::Stopping:
    case Phase::Recovering: return config.kill_timeout;
    default: return microseconds{0};
    }
}

void Supervisor::Impl::begin_op(Job kind, const OpOptions& opts, Completion done, microseconds default_timeout)
{
    op.kind = kind;
    op.options = opts;
    op.waiters.push_back(std::move(done));
    op.old_pid = gw ? gw->pid : 0;
    // A start waits for the gateway starting now, if any; a replace for one
    // spawned after its stop.
    op.spawned = kind == Job::Start && gw && gw->child;
    const microseconds limit = opts.timeout.value_or(default_timeout);
    if (limit.count() > 0)
        op.deadline = loop.add_timer(limit, [this] {
            // The callers stop waiting; the machine goes on (a replace still
            // ends with Replaced and READY=1, and later calls join it).
            auto waiters = std::exchange(op.waiters, {});
            OpResult r = result(OpError::Timeout, "the operation did not finish in time; it goes on in the background");
            for (auto& w : waiters)
                w(r);
        });
}

void Supervisor::Impl::finish_op(const OpResult& r)
{
    Operation done = std::move(op);
    op = Operation{};
    for (auto& w : done.waiters)
        w(r);
    changed();
}

void Supervisor::Impl::fail_op(OpError e, const std::string& message)
{
    if (op.kind == Job::None)
        return;
    finish_op(result(e, message));
}

void Supervisor::Impl::start_followup()
{
    if (followup.waiters.empty() || op.kind != Job::None)
        return;
    Operation next = std::move(followup);
    followup = Operation{};
    auto waiters = std::move(next.waiters);
    Completion first = std::move(waiters.front());
    owner.replace(next.options, true, std::move(first));
    for (std::size_t i = 1; i < waiters.size(); ++i)
        op.waiters.push_back(std::move(waiters[i]));
}

// ---------------------------------------------------------------- Supervisor

Supervisor::Supervisor(EventLoop& loop, Config config, std::optional<ManagerLock> manager)
    : paths_(paths_for(config.hermes_home.empty() ? default_home() : config.hermes_home)),
      config_(std::move(config))
{
    impl_ = std::make_unique<Impl>(*this, loop, config_, paths_);
    if (manager) {
        impl_->manager = std::move(manager);
        if (impl_->manager->previous() && impl_->manager->previous()->child)
            impl_->marked_child = impl_->manager->previous()->child;
    }
}

Supervisor::~Supervisor() = default;

void Supervisor::add_observer(SupervisorObserver* o) { impl_->observers.push_back(o); }

void Supervisor::remove_observer(SupervisorObserver* o) { std::erase(impl_->observers, o); }

Snapshot Supervisor::snapshot() const
{
    const Impl& m = *impl_;
    Snapshot s;
    s.phase = m.phase;
    s.job = m.op.kind;
    s.state = state_of(m.phase, m.op.kind);
    s.generation = m.generation;
    s.restarts = m.restarts;
    s.last_exit = m.last_exit;
    s.failure_reason = m.failure_reason;
    s.blocked_reason = m.blocked_reason;
    s.foreign_pid = m.foreign_pid;
    s.command = config_.command;
    if (m.gw && m.gw->child) {
        s.pid = m.gw->pid;
        s.started_at_usec = m.gw->started_at_usec;
        s.ready = m.gw->ready;
        s.status_text = m.gw->status_text;
    }
    return s;
}

bool Supervisor::healthy(microseconds grace) const
{
    const Impl& m = *impl_;
    if (m.phase == Phase::Failed)
        return false;
    // Running or stopped on request, an operation someone asked for (it has
    // timeouts of its own), or a wait on the environment that a restart of
    // the daemon would not shorten: healthy. A gateway that keeps crashing,
    // or that is not ready, is not, once that has lasted `grace`.
    if (m.phase == Phase::Running || m.phase == Phase::Stopped || m.phase == Phase::Waiting ||
        m.phase == Phase::Foreign || m.op.kind != Job::None)
        return true;
    return EventLoop::now_usec() - m.healthy_at < static_cast<std::uint64_t>(grace.count());
}

void Supervisor::boot(Completion done) { start(OpOptions{"daemon start", {}, {}}, std::move(done)); }

void Supervisor::set_start_gate(StartGate gate) { impl_->start_gate = std::move(gate); }

void Supervisor::start(const OpOptions& opts, Completion done)
{
    Impl& m = *impl_;
    if (m.generation_differs(opts, done) || m.gate_refuses(done))
        return;
    if (m.op.kind == Job::Start || m.op.kind == Job::Replace) {
        m.op.waiters.push_back(std::move(done)); // answered when the gateway is ready
        return;
    }
    if (m.op.kind != Job::None) {
        done(m.result(OpError::Busy, "another operation is in progress (" + std::string(to_string(m.op.kind)) + ")"));
        return;
    }
    if (m.phase == Phase::Running) {
        done(m.result(OpError::None, "already running"));
        return;
    }
    const std::string reason = opts.reason.empty() ? "start requested" : opts.reason;
    m.begin_op(Job::Start, opts, std::move(done), m.start_budget());
    if (m.phase == Phase::Stopped || m.phase == Phase::Failed)
        m.policy.reset();
    m.want_run = true;
    if (!m.gw)
        m.try_start(reason); // from stopped, failed, auto-restart, waiting, foreign: now
}

void Supervisor::stop(const OpOptions& opts, Completion done)
{
    Impl& m = *impl_;
    if (m.generation_differs(opts, done))
        return;
    // A stop wins over a start or replace in progress: it may be stuck.
    if (m.op.kind == Job::Start || m.op.kind == Job::Replace)
        m.fail_op(OpError::Failed, "cancelled by a stop request");
    for (auto& w : std::exchange(m.followup.waiters, {}))
        w(m.result(OpError::Failed, "cancelled by a stop request"));
    if (m.op.kind == Job::Stop || m.op.kind == Job::Shutdown) {
        m.op.waiters.push_back(std::move(done));
        return;
    }
    const std::string reason = opts.reason.empty() ? "stop requested" : opts.reason;
    m.want_run = false;
    if (!m.gw && m.phase == Phase::Foreign)
        m.adopt_foreign(reason); // a Stop asked now is for the gateway that runs
    m.begin_op(Job::Stop, opts, std::move(done), microseconds{0});
    if (!m.gw) {
        m.enter(Phase::Stopped, Event::Stop, reason);
        m.finish_op(m.result(OpError::None, "stopped"));
        return;
    }
    m.stop_gateway(Event::Stop, reason);
}

void Supervisor::replace(const OpOptions& opts, bool restart_if_stopped, Completion done)
{
    Impl& m = *impl_;
    if (m.generation_differs(opts, done))
        return;
    // Nothing to replace is said first, also on a fleet host that does not
    // lead: an update hook learns that this host has nothing to do.
    const bool stopped = !m.gw && m.op.kind == Job::None && (m.phase == Phase::Stopped || m.phase == Phase::Failed);
    if (stopped && !restart_if_stopped) {
        done(m.result(OpError::NotRunning,
                      "no gateway is running (state " + std::string(to_string(state_of(m.phase, m.op.kind))) + ")"));
        return;
    }
    if (m.gate_refuses(done))
        return;
    const std::string reason = opts.reason.empty() ? "replace requested" : opts.reason;
    if (m.op.kind == Job::Stop || m.op.kind == Job::Shutdown) {
        done(m.result(OpError::Busy, "the gateway is being stopped"));
        return;
    }
    if (m.op.kind == Job::Start || m.op.kind == Job::Replace) {
        // Join only if the gateway it waits for will be spawned after this
        // call; else one follow-up replace, shared by every late caller.
        if (!m.op.spawned) {
            m.op.waiters.push_back(std::move(done));
        } else {
            if (m.followup.waiters.empty())
                m.followup.options = opts;
            m.followup.waiters.push_back(std::move(done));
        }
        return;
    }
    const bool foreign = !m.gw && m.phase == Phase::Foreign && m.adopt_foreign(reason);
    if (!m.gw) {
        m.begin_op(Job::Replace, opts, std::move(done), m.start_budget());
        if (stopped)
            m.policy.reset();
        m.want_run = true;
        m.try_start(reason);
        return;
    }
    if (m.phase != Phase::Running && !foreign) {
        // Spawned before this call (starting), or on its way out: a
        // follow-up replace once a gateway is ready.
        if (m.followup.waiters.empty())
            m.followup.options = opts;
        m.followup.waiters.push_back(std::move(done));
        return;
    }
    // Check before we stop: a gateway that provably cannot start again is
    // not stopped for nothing.
    if (auto problem = start_problem(paths_)) {
        done(m.result(OpError::CannotStart, "a new gateway could not start, so the running one was left alone: " +
                                                *problem));
        return;
    }
    m.begin_op(Job::Replace, opts, std::move(done), opts.timeout ? *opts.timeout : microseconds{0});
    m.want_run = true;
    // Drain first (Hermes finishes its current work on SIGUSR1), stop-first
    // because two pollers on one bot token conflict.
    m.signal_gateway(SIGUSR1, Phase::Draining, Event::Replace, reason);
}

void Supervisor::stop_orphan(Completion done)
{
    Impl& m = *impl_;
    if (m.gw || m.op.kind != Job::None || m.want_run) {
        done(m.result(OpError::Busy, "the gateway is managed already; no orphan to look for"));
        return;
    }
    std::optional<Obstacle> found;
    try {
        found = find_obstacle(paths_, m.marked_child);
    } catch (const std::exception& e) {
        // Looked for again at the first start, which stops an orphan too.
        done(m.result(OpError::Failed, std::string("cannot look for an orphaned gateway now: ") + e.what()));
        return;
    }
    m.marked_child.reset();
    if (found->kind == Obstacle::Kind::Foreign)
        log::warning("a gateway this daemon did not start runs in the home (" + found->why +
                         "); it is left alone, and runs beside the fleet's leader until it is stopped",
                     found->pid);
    if (found->kind != Obstacle::Kind::Orphan) {
        done(m.result(OpError::None, "no orphaned gateway"));
        return;
    }
    m.begin_op(Job::Stop, OpOptions{"fleet: a follower runs no gateway", {}, {}}, std::move(done), microseconds{0});
    log::warning("stopping " + found->why, found->pid);
    m.watch_gateway(found->pid, std::move(*found->orphan));
    m.signal_gateway(SIGTERM, Phase::Recovering, Event::FoundOrphan, found->why);
}

void Supervisor::shutdown(Completion done)
{
    Impl& m = *impl_;
    if (m.op.kind != Job::None && m.op.kind != Job::Shutdown)
        m.fail_op(OpError::Failed, "the daemon is shutting down");
    for (auto& w : std::exchange(m.followup.waiters, {}))
        w(m.result(OpError::Failed, "the daemon is shutting down"));
    m.want_run = false;
    if (m.op.kind == Job::Shutdown) {
        m.op.waiters.push_back(std::move(done));
        return;
    }
    m.begin_op(Job::Shutdown, {}, std::move(done), microseconds{0});
    if (!m.gw) {
        m.enter(Phase::Stopped, Event::Shutdown, "daemon shutdown");
        m.finish_op(m.result(OpError::None, "stopped"));
        return;
    }
    if (m.phase == Phase::Draining)
        m.signal_gateway(SIGTERM, Phase::Stopping, Event::Shutdown, "daemon shutdown");
    else
        m.stop_gateway(Event::Shutdown, "daemon shutdown");
}

void Supervisor::on_fault(const std::string& where, const std::string& what)
{
    Impl& m = *impl_;
    log::error("fault in " + where + ": " + what + " (phase " + std::string(to_string(m.phase)) + ")");
    // With a gateway, its exit watch and the phase's timer still hold the
    // machine. Without one, a start we wanted must not be lost.
    if (!m.gw && m.want_run && m.phase != Phase::Waiting)
        m.block("internal fault: " + what);
}

} // namespace hgw::daemon
