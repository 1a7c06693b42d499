#include "core/validation.h"

#include "core/gateway_cmdline.h"

#include <unistd.h>

#include <ctime>

namespace hgw {

std::string_view to_string(VerdictKind k)
{
    switch (k) {
    case VerdictKind::None: return "none";
    case VerdictKind::Live: return "live";
    case VerdictKind::Stale: return "stale";
    case VerdictKind::Corrupt: return "corrupt";
    case VerdictKind::Unsafe: return "unsafe";
    }
    return "unknown";
}

std::string_view to_string(StaleReason r)
{
    switch (r) {
    case StaleReason::ProcessGone: return "process-gone";
    case StaleReason::PidReused: return "pid-reused";
    case StaleReason::PreviousBoot: return "previous-boot";
    case StaleReason::NotGateway: return "not-gateway";
    case StaleReason::OtherHome: return "other-home";
    case StaleReason::LockFree: return "lock-free";
    case StaleReason::NotHolder: return "not-holder";
    }
    return "unknown";
}

int check_exit_code(VerdictKind k)
{
    switch (k) {
    case VerdictKind::Live: return 0;
    case VerdictKind::Stale: return 1;
    case VerdictKind::None: return 3;
    case VerdictKind::Corrupt:
    case VerdictKind::Unsafe: return 4;
    }
    return 4;
}

std::string describe_process(const PidRecord& record)
{
    std::string s = "pid " + std::to_string(record.pid);
    if (!record.start_time || (record.boot_id && *record.boot_id != current_boot_id()))
        return s;
    auto epoch = start_time_to_epoch(*record.start_time);
    if (!epoch)
        return s;
    std::time_t t = static_cast<std::time_t>(*epoch);
    std::tm tm {};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return s + " since " + buf;
}

namespace {

std::string holders_text(const LockState& lock)
{
    if (lock.holders.empty())
        return "a process";
    std::string s = "pid";
    for (pid_t p : lock.holders)
        s += " " + std::to_string(p);
    return s;
}

Verdict& stale(Verdict& v, StaleReason why, std::string summary)
{
    v.kind = VerdictKind::Stale;
    v.reason = why;
    v.summary = std::move(summary);
    return v;
}

// Checks that need no process: home and boot. True if the verdict is decided.
bool judge_record_origin(Verdict& v, const PidRecord& r, const HomePaths& paths)
{
    // Textually equal absolute paths name the same home; only a different
    // spelling needs the (costlier) resolution of symlinks.
    if (r.hermes_home && !r.hermes_home->empty() && *r.hermes_home != paths.home.string() &&
        canonical_home(*r.hermes_home) != canonical_home(paths.home)) {
        stale(v, StaleReason::OtherHome, "record names another Hermes home: " + *r.hermes_home);
        return true;
    }
    if (r.boot_id && *r.boot_id != v.boot_id) {
        stale(v, StaleReason::PreviousBoot,
              "record was written on a previous boot (boot id " + *r.boot_id + ")");
        return true;
    }
    return false;
}

// Is the process at r.pid the one the record describes? True if decided (stale).
bool judge_process(Verdict& v, const PidRecord& r, const ProcessInfo& p)
{
    if (!is_alive(p.liveness)) {
        stale(v, StaleReason::ProcessGone,
              "process " + std::to_string(r.pid) + " is " + std::string(to_string(p.liveness)));
        return true;
    }
    if (r.start_time && p.start_time && *r.start_time != *p.start_time) {
        stale(v, StaleReason::PidReused,
              "PID " + std::to_string(r.pid) + " was reused: start time is " +
                  std::to_string(*p.start_time) + ", record says " + std::to_string(*r.start_time));
        return true;
    }
    if (p.argv) {
        if (!looks_like_gateway(*p.argv)) {
            stale(v, StaleReason::NotGateway,
                  "PID " + std::to_string(r.pid) + " runs '" + (p.argv->empty() ? "" : (*p.argv)[0]) +
                      "', not a Hermes gateway");
            return true;
        }
    } else {
        v.notes.push_back("command line unreadable; judged from the record's argv");
        bool record_says_gateway = r.kind == kGatewayKind && r.argv && looks_like_gateway(*r.argv);
        if (!record_says_gateway) {
            stale(v, StaleReason::NotGateway,
                  "command line of " + std::to_string(r.pid) +
                      " is unreadable and the record does not describe a gateway");
            return true;
        }
    }
    return false;
}

// Proven beyond the lock: start time recorded and matching, on this boot.
bool identity_proven(const PidRecord& r, const ProcessInfo& p)
{
    return r.start_time && p.start_time && *r.start_time == *p.start_time && p.argv.has_value();
}

// Does the recorded process hold this home's gateway.lock? Only its own fd
// table can say; /proc/locks may name a dead taker or a home's neighbour.
Holds record_holds_lock(const PidRecord& r, const LockState& lock, const ValidateOptions& options)
{
    if (options.we_hold_lock) {
        // We took it just now through a descriptor nobody else shares, so
        // only we can hold it.
        Holds h = process_holds_lock(r.pid, options.held_lock_id);
        return h == Holds::Unknown ? Holds::No : h;
    }
    if (!lock.exists || !lock.held)
        return Holds::No; // nobody holds it, so not this process either
    return process_holds_lock(r.pid, lock.id);
}

// A supervisor may hold gateway.lock on its gateway's behalf: after a reader
// unlinked the file the gateway had locked, hermes-gatewayd puts a new one in
// place, locked, with the gateway's record inside naming the daemon as its
// manager. The gateway still holds the file it locked (unlinked now).
bool held_by_its_manager(const PidRecord& r, const LockState& lock, const HomePaths& paths)
{
    if (!lock.held)
        return false;
    RecordFile in_lock = read_record_file(paths.lock_file);
    if (in_lock.status != FileStatus::Record || in_lock.id != lock.id || !same_process(*in_lock.record, r))
        return false;
    const std::optional<ManagerInfo>& m = in_lock.record->manager;
    if (!m || m->pid <= 0 || !m->start_time || read_start_time(m->pid) != m->start_time)
        return false;
    return process_holds_lock(m->pid, lock.id) == Holds::Yes && flock_on_path(r.pid, paths.lock_file).has_value();
}

void judge_record(Verdict& v, const PidRecord& r, const HomePaths& paths, const ValidateOptions& options)
{
    if (r.kind && *r.kind != kGatewayKind) {
        v.kind = VerdictKind::Corrupt;
        v.summary = "record of kind '" + *r.kind + "', not a Hermes gateway record";
        return;
    }
    if (judge_record_origin(v, r, paths))
        return;
    v.process = probe_process(r.pid);
    if (judge_process(v, r, *v.process))
        return;
    if (!r.start_time)
        v.notes.push_back("record has no start time: PID reuse cannot be ruled out by it");
    v.holds_lock = record_holds_lock(r, v.lock, options);
    if (*v.holds_lock == Holds::No && !options.we_hold_lock && held_by_its_manager(r, v.lock, paths)) {
        v.holds_lock = Holds::Yes;
        v.notes.push_back("gateway.lock is held on its behalf by its manager (see the record inside gateway.lock); "
                          "the gateway holds the lock file it took, unlinked since");
    }
    switch (*v.holds_lock) {
    case Holds::Yes:
        v.kind = VerdictKind::Live;
        v.summary = "gateway running: " + describe_process(r);
        return;
    case Holds::Unknown:
        // Held, by a process whose fds we may not see: most likely this
        // home's gateway run by another user. Live, never proven ours.
        v.kind = VerdictKind::Live;
        v.summary = "gateway running: " + describe_process(r) + " (another user's; not proven to hold gateway.lock)";
        v.notes.push_back("cannot see whether pid " + std::to_string(r.pid) +
                          " holds gateway.lock: its /proc fd table is not readable to us");
        return;
    case Holds::No: break;
    }
    bool held_by_other = v.lock.held && !options.we_hold_lock;
    if (!held_by_other && !identity_proven(r, *v.process)) {
        stale(v, StaleReason::LockFree,
              "no process holds gateway.lock and PID " + std::to_string(r.pid) + "'s identity is unproven");
        return;
    }
    // A gateway of another home (a copied record), or one that lost its
    // lock file: whatever it is, it is not this home's instance.
    stale(v, StaleReason::NotHolder,
          "the recorded process " + std::to_string(r.pid) + " does not hold this home's gateway.lock" +
              (held_by_other ? " (held by " + holders_text(v.lock) + ")" : std::string()));
}

// The manager the record inside gateway.lock names, or 0. Its descriptor is
// closed again before the lock is probed: a lease asks whether anyone else
// has the file open.
pid_t manager_named_in(const std::filesystem::path& lock_file)
{
    RecordFile in_lock = read_record_file(lock_file);
    return in_lock.status == FileStatus::Record && in_lock.record->manager ? in_lock.record->manager->pid : 0;
}

} // namespace

Verdict validate(const HomePaths& paths, const ValidateOptions& options)
{
    Verdict v;
    v.boot_id = current_boot_id();
    // Reading /proc/locks can cost milliseconds (the kernel waits for an RCU
    // grace period), so it is skipped when the caller holds the lock itself.
    if (options.we_hold_lock) {
        v.lock.exists = true;
        v.lock.held = true;
        v.lock.holders = {::getpid()};
        v.lock.method = "held-by-us";
    } else {
        // The record first: the process it names is asked before /proc/locks.
        v.file = read_record_file(paths.pid_file);
        // A manager may hold the lock on its gateway's behalf (see
        // held_by_its_manager): the record inside gateway.lock names it.
        const pid_t manager = manager_named_in(paths.lock_file);
        v.lock = probe_lock(paths.lock_file, v.file.status == FileStatus::Record ? v.file.record->pid : 0, manager);
    }
    if (options.we_hold_lock)
        v.file = read_record_file(paths.pid_file);
    bool held_by_other = v.lock.held && !options.we_hold_lock;
    if (options.we_hold_lock)
        v.lock.id = options.held_lock_id;

    if (!v.lock.problem.empty()) {
        v.kind = VerdictKind::Unsafe;
        v.summary = paths.lock_file.string() + " " + v.lock.problem;
        return v;
    }
    switch (v.file.status) {
    case FileStatus::Missing:
        v.kind = VerdictKind::None;
        v.summary = held_by_other
                        ? "no PID file, but gateway.lock is held by " + holders_text(v.lock) +
                              " (a gateway is starting, or runs without a PID file)"
                        : "no gateway is running (no PID file)";
        return v;
    case FileStatus::Unsafe:
        v.kind = VerdictKind::Unsafe;
        v.summary = paths.pid_file.string() + " " + v.file.problem;
        return v;
    case FileStatus::Corrupt:
        v.kind = VerdictKind::Corrupt;
        v.summary = paths.pid_file.string() + ": " + v.file.problem;
        return v;
    case FileStatus::Record:
        judge_record(v, *v.file.record, paths, options);
        return v;
    }
    return v;
}

} // namespace hgw
