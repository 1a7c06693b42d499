#include "core/home_lock.h"

#include "core/atomic_file.h"
#include "core/lock_holders.h"
#include "core/open_elsewhere.h"
#include "util/errors.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

namespace hgw {

using namespace std::chrono_literals;

namespace {

// How long a placeholder stays at gateway.lock before our lock file takes
// its place: longer than a Hermes reader takes from finding the lock free
// to unlinking gateway.lock (tens of microseconds; a reader descheduled on a
// busy machine, a few time slices).
constexpr auto kSettle = 20ms;
// Placeholders readers may take from us in a row before we give up.
constexpr int kPlacements = 20;
// How long we wait, at most, for others to close a lock file we displaced.
constexpr auto kOpenersWait = 200ms;
// Where the kernel cannot tell who has a file open (no leases): time enough
// for a process that opened it just before it lost its name to flock it.
constexpr auto kOpenersGrace = 10ms;
// A lock seen held is looked at again this many times, 1 ms apart, before
// it counts: Hermes' reader holds it for the microseconds of its probe.
constexpr int kProbeRetries = 20;

// Tags of our temporary lock files (atomic_file.h's sibling()).
constexpr const char* kStagedTag = "new";
constexpr const char* kPlaceholderTag = "hold";

FileId id_of_fd(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw_errno("fstat");
    return {st.st_dev, st.st_ino};
}

bool names(const std::filesystem::path& path, FileId id)
{
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && FileId{st.st_dev, st.st_ino} == id;
}

// A fresh lock file under a temporary name beside gateway.lock, locked by
// us, with gateway.lock's owner and mode (`like`): Hermes' reader opens
// gateway.lock for writing, and unlinks one it is not allowed to open.
struct TempLock {
    TempName name;
    InstanceLock lock;
};

TempLock make_temp_lock(const HomePaths& paths, const char* tag, const struct stat& like)
{
    const std::filesystem::path path = sibling(paths.lock_file, tag);
    UniqueFd made(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!made)
        throw_errno("create " + path.string(), "check that the Hermes home is writable");
    TempName name(path);
    if (::geteuid() == 0 && ::fchown(made.get(), like.st_uid, like.st_gid) != 0)
        throw_errno("chown " + path.string());
    if (::fchmod(made.get(), like.st_mode & 0777) != 0)
        throw_errno("chmod " + path.string());
    const FileId made_id = id_of_fd(made.get());
    std::optional<InstanceLock> lock = InstanceLock::try_acquire(path);
    if (!lock || !(lock->id() == made_id))
        throw Error(path.string() + " was replaced or locked by another process as we made it",
                    "another program is tampering with the Hermes home");
    return {std::move(name), std::move(*lock)};
}

// gateway.lock's owner and mode, for our lock files to copy. A missing one
// is created empty first, as any starter would: it is free, and a failed
// publish puts it back the way it was.
struct stat lock_file_stat(const HomePaths& paths)
{
    UniqueFd fd = open_through_lease(paths.lock_file, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (!fd) {
        if (errno == ELOOP || errno == EISDIR)
            throw UnsafeFileError(paths.lock_file.string() + " is not a plain file",
                                  "remove it; gateway.lock must be a plain file");
        throw_errno("open " + paths.lock_file.string(), "check that the Hermes home exists and is writable");
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw_errno("fstat " + paths.lock_file.string());
    if (!S_ISREG(st.st_mode))
        throw UnsafeFileError(paths.lock_file.string() + " is not a regular file", "remove it");
    return st;
}

// One acquisition of ours at a time per home: an flock on the home
// directory, which Hermes never looks at, so holding it shows its reader
// nothing. Taken without waiting, like a lock; when another process has it,
// returns no fd and names it in `holders`.
UniqueFd reserve(const HomePaths& paths, std::vector<pid_t>& holders)
{
    UniqueFd dir(::open(paths.home.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir)
        throw_errno("open " + paths.home.string(), "check that the Hermes home exists and is writable");
    if (::flock(dir.get(), LOCK_EX | LOCK_NB) == 0)
        return dir;
    if (errno != EWOULDBLOCK)
        throw_errno("flock " + paths.home.string());
    holders = find_lock_holders(id_of_fd(dir.get()));
    return {};
}

// What a killed acquirer of ours left: its temporary lock files. While we
// hold the reservation no acquisition of ours is under way, so each is a
// leftover, unless someone holds its lock (the gateway of a daemon that died
// before publishing holds its staged file): that one stays.
void sweep(const HomePaths& paths)
{
    const std::string base = "." + paths.lock_file.filename().string() + ".";
    const std::string staged = base + kStagedTag + "-", placeholder = base + kPlaceholderTag + "-";
    std::vector<std::filesystem::path> found;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(paths.home, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(staged, 0) == 0 || name.rfind(placeholder, 0) == 0)
            found.push_back(it->path());
    }
    for (const auto& path : found) {
        try {
            if (auto lock = InstanceLock::try_acquire(path))
                ::unlink(path.c_str()); // unlinked while locked, then let go
        } catch (const Error&) {
            // Not a file we may touch (a symlink, another owner's): left alone.
        }
    }
}

// Takes away the very file judged stale (deleted) or corrupt (moved aside,
// its bytes kept for a person).
CleanOutcome remove_judged(const HomePaths& paths, Verdict v)
{
    using A = CleanOutcome::Action;
    const bool corrupt = v.kind == VerdictKind::Corrupt;
    CleanOutcome out{.action = corrupt ? A::Quarantined : A::Removed, .verdict = {}, .moved_to = {}, .message = {}};
    const bool gone = corrupt ? !(out.moved_to = quarantine_if_same(paths.pid_file, v.file.id)).empty()
                              : remove_if_same(paths.pid_file, v.file.id);
    if (!gone) {
        out.action = A::NothingToDo;
        out.message = "the judged record was replaced or removed meanwhile; left alone";
    } else {
        out.message = corrupt ? "moved corrupt record aside to " + out.moved_to.string() + ": " + v.summary
                              : "removed stale record of pid " + std::to_string(v.record()->pid) + ": " + v.summary;
    }
    out.verdict = std::move(v);
    return out;
}

// Judges the home and removes a stale or corrupt gateway.pid without ever
// taking gateway.lock: holding it with no record in it would show Hermes'
// reader a held lock it cannot vouch for, and it would unlink it. Instead the
// file is judged twice, the lock free both times: a starter holds the lock
// from before it creates gateway.pid until it dies, so a file seen with the
// lock free before and after it was read is no live starter's. A lock held
// only for a moment (a reader's probe) is waited out.
CleanOutcome judge_and_clean(const HomePaths& paths)
{
    using A = CleanOutcome::Action;
    std::optional<Verdict> before; // the previous judgement, made with the lock free
    int held = 0;
    for (int round = 0; round < 100; ++round) {
        Verdict v = validate(paths);
        if (v.kind == VerdictKind::Unsafe)
            return {.action = A::KeptUnsafe,
                    .verdict = v,
                    .moved_to = {},
                    .message = "left alone, not ours to touch: " + v.summary};
        if (v.kind == VerdictKind::Live)
            return {.action = A::KeptLive, .verdict = v, .moved_to = {}, .message = "left alone: " + v.summary};
        if (v.lock.held) {
            if (++held > kProbeRetries)
                return {.action = A::Busy,
                        .verdict = v,
                        .moved_to = {},
                        .message = "gateway.lock is held (" + v.summary +
                                   "); a gateway is running or starting, so nothing was touched"};
            before.reset();
            std::this_thread::sleep_for(1ms);
            continue;
        }
        if (v.kind == VerdictKind::None)
            return {.action = A::NothingToDo,
                    .verdict = v,
                    .moved_to = {},
                    .message = "no PID file; nothing to clean"};
        if (before && before->kind == v.kind && before->file.id == v.file.id)
            return remove_judged(paths, std::move(v));
        before = std::move(v);
    }
    throw Error("gateway.pid in " + paths.home.string() + " keeps changing while we judge it",
                "another program rewrites it in a loop; stop it");
}

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

LockOutcome not_reserved(const HomePaths& paths, const std::vector<pid_t>& holders)
{
    LockOutcome out;
    out.running = validate(paths);
    const std::string who = holders.empty() ? std::string("another process") : "pid " + std::to_string(holders.front());
    if (!out.running.lock.held) {
        // gateway.lock is not taken yet, but the home is: say by whom.
        out.running.lock.held = true;
        out.running.lock.holders = holders;
    }
    out.message = "another start is under way: " + who + " is taking " + paths.home.string() +
                  " (it holds the home directory's flock)";
    return out;
}

// Lock files we displaced or gave up: unlinked already and still locked by
// us. Each is let go only once no other process has it open; one that
// opened it by its old name just before it lost that name would otherwise
// flock it, free, and believe it holds the home.
class Retired {
public:
    Retired() = default;
    Retired(const Retired&) = delete;
    Retired& operator=(const Retired&) = delete;
    ~Retired() { let_go(); }

    void add(std::optional<InstanceLock>& lock)
    {
        if (lock)
            locks_.push_back(std::move(*lock));
        lock.reset();
    }

    void let_go() noexcept
    {
        const auto deadline = std::chrono::steady_clock::now() + kOpenersWait;
        for (InstanceLock& lock : locks_) {
            // A lease only on a file without a name (see only_ours): one an
            // undo could not unlink is let go after the grace time.
            struct stat st {};
            const bool nameless = ::fstat(lock.fd(), &st) == 0 && st.st_nlink == 0;
            for (;;) {
                std::optional<bool> alone = nameless ? only_ours(lock.fd()) : std::nullopt;
                if (!alone) {
                    std::this_thread::sleep_for(kOpenersGrace);
                    break;
                }
                if (*alone || std::chrono::steady_clock::now() >= deadline)
                    break;
                std::this_thread::sleep_for(1ms);
            }
            lock.release();
        }
        locks_.clear();
    }

private:
    std::vector<InstanceLock> locks_;
};

// One placeholder P and what it displaced. `name` is P's temporary name until
// P is placed; after an exchange it names the displaced file (locked by us in
// `displaced`), after a plain placement nothing.
struct Placeholder {
    TempName name;
    std::optional<InstanceLock> own;
    std::optional<InstanceLock> displaced;
};

// Gives a placeholder up: its files are unlinked and retired.
void abandon(Placeholder& ph, Retired& retired)
{
    ph.name.remove();
    retired.add(ph.displaced);
    retired.add(ph.own);
}

// Undoes an exchange with gateway.lock: the file at `name` goes back to
// gateway.lock, and `name` names what was there (our P, unless a reader
// unlinked it meanwhile), to be removed with it.
void put_back(const HomePaths& paths, TempName& name)
{
    if (swap_into(name.path(), paths.lock_file) == Swap::Placed)
        name.forget();
}

// The lock of a file we displaced (or of the file at the name, where there
// is no exchange), looked at again for a moment when held: Hermes' reader
// holds it for the microseconds of its probe, a gateway or starter for good.
std::optional<InstanceLock> lock_displaced(const std::filesystem::path& path)
{
    for (int tries = 0;; ++tries) {
        std::optional<InstanceLock> lock = InstanceLock::try_acquire(path);
        if (lock || tries == kProbeRetries)
            return lock;
        std::this_thread::sleep_for(1ms);
    }
}

enum class Placing { Done, Lost };

// Step 3b: P to gateway.lock in one step; what was there must be free.
Placing place(const HomePaths& paths, Placeholder& ph)
{
    switch (swap_into(ph.name.path(), paths.lock_file)) {
    case Swap::Placed: ph.name.forget(); return Placing::Done;
    case Swap::Exchanged: {
        std::optional<InstanceLock> old;
        try {
            old = lock_displaced(ph.name.path());
        } catch (const Error&) {
            put_back(paths, ph.name); // not ours to judge (unsafe, unreadable): it goes back
            throw;
        }
        if (!old) {
            put_back(paths, ph.name); // held: a gateway runs or starts
            return Placing::Lost;
        }
        ph.displaced = std::move(old);
        return Placing::Done;
    }
    case Swap::Unsupported: {
        // No exchange on this file system (NFS...): the file at the name is
        // locked for the moment of a plain rename over it. A reader can see
        // that moment; there is no better way here.
        std::optional<InstanceLock> old = lock_displaced(paths.lock_file);
        if (!old)
            return Placing::Lost;
        if (::rename(ph.name.path().c_str(), paths.lock_file.c_str()) != 0)
            throw_errno("rename " + ph.name.path().string() + " to " + paths.lock_file.string());
        ph.name.forget();
        ph.displaced = std::move(old); // unlinked by the rename
        return Placing::Done;
    }
    }
    return Placing::Lost;
}

std::string holder_text(const HomePaths& paths)
{
    LockState s = probe_lock(paths.lock_file);
    return s.holders.empty() ? std::string("another process") : "pid " + std::to_string(s.holders.front());
}

} // namespace

// The one place allowed to build a HomeLock: lock_home.
struct HomeLockAccess {
    static HomeLock make(HomePaths paths, UniqueFd reservation, TempName staged, InstanceLock lock,
                         CleanOutcome cleaned)
    {
        return HomeLock(std::move(paths), std::move(reservation), std::move(staged), std::move(lock),
                        std::move(cleaned));
    }
};

bool HomeLock::publish(const PidRecord& record)
{
    if (!lock_ || staged_.empty())
        throw Error("publish on a HomeLock with no staged lock file (handed over, published or failed before)",
                    "this is a bug in hermes-gatewayd");
    refusal_.clear();
    placements_ = 0;
    Retired retired;    // let go last, once every name is settled
    Placeholder ph;     // the current placeholder
    bool swapped = false; // 3d done: our lock file is at the name, staged_ names P

    // Everything back the way we found it; the child still holds our lock
    // file, unlinked, until its caller stops it.
    auto undo = [&]() noexcept {
        try {
            // Our lock file out, P back at the name: held and valid both.
            if (swapped && !staged_.empty() && ph.own && names(staged_.path(), ph.own->id()))
                put_back(paths_, staged_);
            if (ph.own && names(paths_.lock_file, ph.own->id())) {
                if (ph.displaced && !ph.name.empty()) {
                    // The old gateway.lock goes back, free before it is at the
                    // name: never held there without a record.
                    ph.displaced->release();
                    ph.displaced.reset();
                    put_back(paths_, ph.name);
                } else {
                    remove_if_same(paths_.lock_file, ph.own->id());
                }
            }
        } catch (...) {
            // A failure to undo must not hide the error that brought us here.
        }
        abandon(ph, retired);
        staged_.remove();
    };

    try {
        lock_->write_record(record); // 3a
        const struct stat like = lock_file_stat(paths_);
        for (;;) { // 3b, 3c
            if (placements_ == kPlacements)
                throw Error("gateway.lock was unlinked " + std::to_string(kPlacements) +
                                " times in a row while we published",
                            "something deletes gateway.lock in a loop; stop it");
            TempLock p = make_temp_lock(paths_, kPlaceholderTag, like);
            ph.name = std::move(p.name);
            ph.own.emplace(std::move(p.lock));
            ph.own->write_record(record);
            ++placements_;
            if (place(paths_, ph) == Placing::Lost) {
                refusal_ = "gateway.lock is held by " + holder_text(paths_) + " (a gateway runs or is starting)";
                undo();
                return false;
            }
            std::this_thread::sleep_for(kSettle);
            if (names(paths_.lock_file, ph.own->id()))
                break;
            abandon(ph, retired); // a reader unlinked it: place another
        }
        switch (swap_into(staged_.path(), paths_.lock_file)) { // 3d
        case Swap::Placed: staged_.forget(); break; // a reader unlinked P since 3c
        case Swap::Exchanged:
            if (!names(staged_.path(), ph.own->id())) {
                // Not P: a reader unlinked it and another file took the name.
                std::optional<InstanceLock> other = lock_displaced(staged_.path());
                if (!other) {
                    put_back(paths_, staged_); // a starter's: theirs again, ours back here
                    refusal_ = "gateway.lock was taken by " + holder_text(paths_) + " while we published";
                    undo();
                    return false;
                }
                staged_.remove();
                retired.add(other);
            }
            break; // staged_ names P until we are done: an undo puts it back
        case Swap::Unsupported:
            if (::rename(staged_.path().c_str(), paths_.lock_file.c_str()) != 0)
                throw_errno("rename " + staged_.path().string() + " to " + paths_.lock_file.string());
            staged_.forget();
            break;
        }
        swapped = true;
        if (!publish_new(paths_.pid_file, serialize_record(record))) { // 3e
            refusal_ = "a gateway.pid appeared while we published ours (another program writes it)";
            undo();
            return false;
        }
        staged_.remove(); // 3f: P, the old gateway.lock: unlinked, let go when nobody has them open
        abandon(ph, retired);
        fsync_dir(paths_.home);
    } catch (...) {
        undo();
        throw;
    }
    published_ = true;
    return true;
}

void HomeLock::hand_over() noexcept
{
    if (lock_)
        lock_->release();
    lock_.reset();
    staged_.remove();
    reservation_.reset();
}

Claim HomeLock::into_claim(PidRecord record) &&
{
    if (!lock_ || !published_)
        throw Error("claim on a gateway.lock not published or already handed over", "this is a bug in hermes-gatewayd");
    InstanceLock lock = std::move(*lock_);
    lock_.reset();
    reservation_.reset();
    return Claim(std::move(paths_), std::move(lock), std::move(record));
}

LockOutcome lock_home(const HomePaths& paths)
{
    std::vector<pid_t> reserving;
    UniqueFd reservation = reserve(paths, reserving);
    if (!reservation)
        return not_reserved(paths, reserving);
    sweep(paths);
    // Before the judgement: a missing gateway.lock is created, and the errors
    // of opening it (EMFILE, ENOENT...) are told as such, not as a verdict.
    const struct stat like = lock_file_stat(paths);

    CleanOutcome cleaned = judge_and_clean(paths);
    switch (cleaned.action) {
    case CleanOutcome::Action::KeptUnsafe:
        throw UnsafeFileError(cleaned.verdict.summary, "inspect and remove it by hand; it is not safe for us to touch");
    case CleanOutcome::Action::KeptLive:
    case CleanOutcome::Action::Busy: return not_locked(paths, std::move(cleaned));
    case CleanOutcome::Action::NothingToDo:
    case CleanOutcome::Action::Removed:
    case CleanOutcome::Action::Quarantined: break;
    }
    TempLock staged = make_temp_lock(paths, kStagedTag, like);
    LockOutcome out;
    out.cleaned = cleaned;
    out.locked.emplace(HomeLockAccess::make(paths, std::move(reservation), std::move(staged.name),
                                            std::move(staged.lock), std::move(cleaned)));
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
        step1.locked.reset(); // lets our lock file go: another process holds the home
        describe_runner(paths, out.running, out.message);
        return out;
    }
    out.claim.emplace(std::move(*step1.locked).into_claim(ours));
    return out;
}

} // namespace hgw
