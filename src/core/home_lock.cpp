#include "core/home_lock.h"

#include "core/atomic_file.h"
#include "util/errors.h"

namespace hgw {

// The one place allowed to build a HomeLock: lock_home.
struct HomeLockAccess {
    static HomeLock make(HomePaths paths, InstanceLock lock, CleanOutcome cleaned)
    {
        return HomeLock(std::move(paths), std::move(lock), std::move(cleaned));
    }
};

bool HomeLock::publish(const PidRecord& record)
{
    if (!lock_)
        throw Error("publish on a gateway.lock already handed over", "this is a bug in hermes-gatewayd");
    // link() rather than O_EXCL on the final name: the record appears whole.
    auto published = publish_new(paths_.pid_file, serialize_record(record));
    if (!published)
        return false; // a writer that ignores the lock
    try {
        lock_->write_record(record);
    } catch (const SystemError&) {
        // Take back exactly what we wrote; a failure to do so must not hide
        // the error that brought us here.
        try {
            remove_if_same(paths_.pid_file, *published);
        } catch (const Error&) {
        }
        try {
            lock_->clear_record();
        } catch (const Error&) {
        }
        throw;
    }
    return true;
}

void HomeLock::hand_over() noexcept
{
    if (lock_)
        lock_->release();
    lock_.reset();
}

Claim HomeLock::into_claim(PidRecord record) &&
{
    if (!lock_)
        throw Error("claim on a gateway.lock already handed over", "this is a bug in hermes-gatewayd");
    InstanceLock lock = std::move(*lock_);
    lock_.reset();
    return Claim(std::move(paths_), std::move(lock), std::move(record));
}

namespace {

// Who runs, when we could not take the home.
void describe_runner(const HomePaths& paths, Verdict& running, std::string& message)
{
    running = validate(paths);
    const Verdict& v = running;
    if (v.kind == VerdictKind::Live)
        message = "already running: " + describe_process(*v.record());
    else if (v.lock.held)
        message = "already running: gateway.lock is held by " +
                  (v.lock.holders.empty() ? std::string("another process")
                                          : "pid " + std::to_string(v.lock.holders.front()));
    else
        message = "another gateway won the race: " + v.summary;
}

LockOutcome not_locked(const HomePaths& paths, CleanOutcome cleaned = {})
{
    LockOutcome out;
    out.cleaned = std::move(cleaned);
    describe_runner(paths, out.running, out.message);
    return out;
}

} // namespace

LockOutcome lock_home(const HomePaths& paths)
{
    auto lock = InstanceLock::try_acquire(paths.lock_file);
    if (!lock)
        return not_locked(paths);

    CleanOutcome cleaned = clean_under_lock(paths, *lock);
    if (cleaned.action == CleanOutcome::Action::KeptLive) {
        lock->release();
        return not_locked(paths, std::move(cleaned));
    }
    if (cleaned.action == CleanOutcome::Action::KeptUnsafe)
        throw UnsafeFileError(cleaned.verdict.summary,
                              "inspect and remove it by hand; it is not safe for us to touch");
    LockOutcome out;
    out.cleaned = cleaned;
    out.locked.emplace(HomeLockAccess::make(paths, std::move(*lock), std::move(cleaned)));
    return out;
}

AcquireOutcome acquire(const HomePaths& paths, const PidRecord& ours)
{
    LockOutcome step1 = lock_home(paths);
    AcquireOutcome out;
    out.cleaned = std::move(step1.cleaned);
    if (!step1.locked) {
        out.running = std::move(step1.running);
        out.message = std::move(step1.message);
        return out;
    }
    if (!step1.locked->publish(ours)) {
        step1.locked.reset(); // lets the lock go: someone else's record is there
        describe_runner(paths, out.running, out.message);
        return out;
    }
    out.claim.emplace(std::move(*step1.locked).into_claim(ours));
    return out;
}

} // namespace hgw
