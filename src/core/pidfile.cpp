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

CleanOutcome clean_under_lock(const HomePaths& paths, const InstanceLock& /*held*/)
{
    using A = CleanOutcome::Action;
    CleanOutcome out;
    out.verdict = validate(paths, {.we_hold_lock = true});
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

CleanOutcome clean(const HomePaths& paths)
{
    std::optional<InstanceLock> lock;
    try {
        lock = InstanceLock::try_acquire(paths.lock_file);
    } catch (const UnsafeFileError& e) {
        CleanOutcome out;
        out.action = CleanOutcome::Action::KeptUnsafe;
        out.verdict = validate(paths);
        out.message = std::string("left alone, not ours to touch: ") + e.what();
        return out;
    }
    if (!lock) {
        CleanOutcome out;
        out.action = CleanOutcome::Action::Busy;
        out.verdict = validate(paths);
        out.message = "gateway.lock is held (" + out.verdict.summary +
                      "); a gateway is running or starting, so nothing was touched";
        return out;
    }
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

namespace {

AcquireOutcome lost(const HomePaths& paths, CleanOutcome cleaned = {})
{
    AcquireOutcome out;
    out.cleaned = std::move(cleaned);
    out.running = validate(paths);
    const Verdict& v = out.running;
    if (v.kind == VerdictKind::Live)
        out.message = "already running: " + describe_process(*v.record());
    else if (v.lock.held)
        out.message = "already running: gateway.lock is held by " +
                      (v.lock.holders.empty() ? std::string("another process")
                                              : "pid " + std::to_string(v.lock.holders.front()));
    else
        out.message = "another gateway won the race: " + v.summary;
    return out;
}

} // namespace

AcquireOutcome acquire(const HomePaths& paths, const PidRecord& ours)
{
    auto lock = InstanceLock::try_acquire(paths.lock_file);
    if (!lock)
        return lost(paths);

    CleanOutcome cleaned = clean_under_lock(paths, *lock);
    if (cleaned.action == CleanOutcome::Action::KeptLive) {
        lock->release();
        return lost(paths, std::move(cleaned)); // a gateway runs without its lock
    }
    if (cleaned.action == CleanOutcome::Action::KeptUnsafe)
        throw UnsafeFileError(cleaned.verdict.summary,
                              "inspect and remove it by hand; it is not safe for us to touch");

    // link() rather than O_EXCL on the final name: the record appears whole.
    if (!publish_exclusive(paths.pid_file, serialize_record(ours))) {
        lock->release();
        return lost(paths, std::move(cleaned)); // a writer that ignores the lock
    }
    lock->write_record(ours);
    AcquireOutcome out;
    out.cleaned = std::move(cleaned);
    out.claim.emplace(paths, std::move(*lock), ours);
    return out;
}

} // namespace hgw
