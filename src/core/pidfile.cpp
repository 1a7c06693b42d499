#include "core/pidfile.h"

#include "core/atomic_file.h"
#include "util/errors.h"

namespace hgw {

std::string_view to_string(CleanOutcome::Action a)
{
    using A = CleanOutcome::Action;
    switch (a) {
    case A::NothingToDo: return "nothing-to-do";
    case A::Removed: return "removed";
    case A::Quarantined: return "quarantined";
    case A::KeptLive: return "kept-live";
    case A::KeptUnsafe: return "kept-unsafe";
    case A::Busy: return "busy";
    }
    return "unknown";
}

bool is_exactly(const PidRecord& ours, const PidRecord& other)
{
    return ours.pid == other.pid && ours.start_time && other.start_time &&
           *ours.start_time == *other.start_time && ours.boot_id && other.boot_id &&
           *ours.boot_id == *other.boot_id;
}

CleanOutcome clean_under_lock(const HomePaths& paths, const InstanceLock& held)
{
    using A = CleanOutcome::Action;
    CleanOutcome out;
    out.verdict = validate(paths, {.we_hold_lock = true, .held_lock_id = held.id()});
    const Verdict& v = out.verdict;
    switch (v.kind) {
    case VerdictKind::None:
        out.action = A::NothingToDo;
        out.message = "no PID file; nothing to clean";
        break;
    case VerdictKind::Live:
        out.action = A::KeptLive;
        out.message = "left alone: " + v.summary;
        break;
    case VerdictKind::Unsafe:
        out.action = A::KeptUnsafe;
        out.message = "left alone, not ours to touch: " + v.summary;
        break;
    case VerdictKind::Stale:
        if (remove_if_same(paths.pid_file, v.file.id)) {
            out.action = A::Removed;
            out.message = "removed stale record of pid " + std::to_string(v.record()->pid) + ": " + v.summary;
        } else {
            out.action = A::NothingToDo;
            out.message = "the stale record was replaced or removed meanwhile; left alone";
        }
        break;
    case VerdictKind::Corrupt:
        out.moved_to = quarantine_if_same(paths.pid_file, v.file.id);
        out.action = out.moved_to.empty() ? A::NothingToDo : A::Quarantined;
        out.message = out.moved_to.empty()
                          ? "the corrupt record was replaced or removed meanwhile; left alone"
                          : "moved corrupt record aside to " + out.moved_to.string() + ": " + v.summary;
        break;
    }
    return out;
}

namespace {

CleanOutcome left_alone(CleanOutcome::Action action, Verdict verdict, std::string message)
{
    CleanOutcome out;
    out.action = action;
    out.verdict = std::move(verdict);
    out.message = std::move(message);
    return out;
}

CleanOutcome busy(Verdict v)
{
    std::string message = "gateway.lock is held (" + v.summary +
                          "); a gateway is running or starting, so nothing was touched";
    return left_alone(CleanOutcome::Action::Busy, std::move(v), std::move(message));
}

} // namespace

CleanOutcome clean(const HomePaths& paths)
{
    using A = CleanOutcome::Action;
    // Judged first without the lock: a gateway starting right now must find
    // gateway.lock free unless there is something to remove. Hermes' own
    // non-blocking flock would otherwise fail and the gateway exit.
    Verdict v = validate(paths);
    switch (v.kind) {
    case VerdictKind::None:
        return left_alone(A::NothingToDo, std::move(v), "no PID file; nothing to clean");
    case VerdictKind::Unsafe:
        return left_alone(A::KeptUnsafe, v, "left alone, not ours to touch: " + v.summary);
    case VerdictKind::Live:
    case VerdictKind::Stale:
    case VerdictKind::Corrupt: break;
    }
    if (v.lock.held)
        return busy(std::move(v));
    if (v.kind == VerdictKind::Live) // not reached while Live needs the lock held; kept for safety
        return left_alone(A::KeptLive, v, "left alone: " + v.summary);

    // Something to remove: judge again under the lock, which is held for
    // that judgement and the removal only.
    std::optional<InstanceLock> lock;
    try {
        lock = InstanceLock::try_acquire(paths.lock_file);
    } catch (const UnsafeFileError& e) {
        return left_alone(A::KeptUnsafe, validate(paths), std::string("left alone, not ours to touch: ") + e.what());
    }
    if (!lock)
        return busy(validate(paths));
    return clean_under_lock(paths, *lock);
}

Claim::Claim(HomePaths paths, InstanceLock lock, PidRecord record)
    : paths_(std::move(paths)), lock_(std::move(lock)), record_(std::move(record)) {}

Claim::~Claim()
{
    try {
        release();
    } catch (...) {
        // A destructor must not throw; the lock is released by close anyway.
    }
}

bool Claim::release()
{
    if (!lock_)
        return false;
    bool removed = false;
    auto file = read_record_file(paths_.pid_file);
    if (file.status == FileStatus::Record && is_exactly(record_, *file.record))
        removed = remove_if_same(paths_.pid_file, file.id);
    lock_->clear_record();
    lock_.reset();
    return removed;
}

} // namespace hgw
