#include "daemon/file_keeper.h"

#include "core/atomic_file.h"
#include "core/lock_holders.h"
#include "daemon/log.h"
#include "util/errors.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace hgw::daemon {

namespace {

// Hermes' reader deletes in every start and stop window it sees: with
// replaces every 60 ms that is some 50 repairs a second, which must all be
// at once. A tool deleting in a tight loop gets 100 a second: each costs a
// few syscalls, so that is bounded work, never a busy loop.
constexpr double kBurst = 100;
constexpr double kPerSecond = 100;

std::optional<FileId> id_at(const std::filesystem::path& path)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return std::nullopt;
    return FileId{st.st_dev, st.st_ino};
}

// A new gateway.lock candidate: a file beside it holding `record`, locked by
// us. Not yet at the path, so no reader can see it held and empty.
UniqueFd staged_lock(const std::filesystem::path& staged, const std::string& record)
{
    UniqueFd fd(::open(staged.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd)
        throw_errno("create " + staged.string());
    auto fail = [&](const std::string& what) {
        const int err = errno;
        ::unlink(staged.c_str());
        throw SystemError(what + " " + staged.string(), err, "check that the Hermes home is writable");
    };
    if (::write(fd.get(), record.data(), record.size()) != static_cast<ssize_t>(record.size()))
        fail("write");
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
        fail("flock");
    return fd;
}

} // namespace

FileKeeper::FileKeeper(EventLoop& loop, const HomePaths& paths, Repaired repaired)
    : loop_(loop), paths_(paths), repaired_(std::move(repaired))
{
}

void FileKeeper::adopt(pid_t pid, std::uint64_t start_time, FileId lock, std::string record, bool keep_record)
{
    if (pid != pid_)
        release();
    pid_ = pid;
    start_time_ = start_time;
    child_lock_ = lock;
    record_ = std::move(record);
    keep_record_ = keep_record;
    check();
}

void FileKeeper::release()
{
    pid_ = 0;
    our_lock_.reset();
    our_lock_id_ = {};
    retry_.reset();
    storm_reported_ = false;
}

bool FileKeeper::record_true() const
{
    RecordFile f = read_record_file(paths_.pid_file);
    if (f.status == FileStatus::Unsafe)
        return true; // a directory, FIFO or symlink there is for a person to remove, not us
    return f.status == FileStatus::Record && f.record->pid == pid_ &&
           (!f.record->start_time || *f.record->start_time == start_time_);
}

bool FileKeeper::lock_true() const
{
    auto at = id_at(paths_.lock_file);
    return at && (*at == child_lock_ || (our_lock_ && *at == our_lock_id_));
}

void FileKeeper::check()
{
    if (!pid_)
        return;
    const bool lock_ok = lock_true(), record_ok = !keep_record_ || record_true();
    if (lock_ok && record_ok)
        return;
    if (!allow_repair())
        return;
    try {
        if (!lock_ok)
            repair_lock();
        if (!record_ok)
            repair_record();
    } catch (const Error& e) {
        // A full or read-only home: the next change of the home tries again.
        log::warning("cannot repair the gateway's files now: " + describe(e), pid_);
    }
}

// A token bucket: a burst of kBurst repairs, then kPerSecond a second.
bool FileKeeper::allow_repair()
{
    const std::uint64_t now = EventLoop::now_usec();
    tokens_ = std::min(kBurst, tokens_ + static_cast<double>(now - refilled_at_) / 1e6 * kPerSecond);
    refilled_at_ = now;
    if (tokens_ >= 1) {
        tokens_ -= 1;
        return true;
    }
    if (!storm_reported_) {
        storm_reported_ = true;
        log::warning("something keeps deleting the gateway's files; repairing at most " +
                         std::to_string(static_cast<int>(kPerSecond)) + " times a second",
                     pid_);
    }
    if (!retry_) {
        const auto wait = static_cast<std::uint64_t>((1 - tokens_) / kPerSecond * 1e6) + 1;
        retry_ = loop_.add_timer_at(now + wait, [this] {
            retry_.reset();
            check();
        });
    }
    return false;
}

void FileKeeper::repair_record()
{
    RecordFile f = read_record_file(paths_.pid_file);
    const std::string found = f.status == FileStatus::Missing  ? "missing"
                              : f.status == FileStatus::Record ? "naming pid " + std::to_string(f.record->pid)
                                                               : "corrupt";
    publish_replace(paths_.pid_file, record_, Durability::Immediate);
    ++repairs_;
    log::warning("gateway.pid was " + found + "; published the gateway's record again", pid_);
    repaired_(f.status == FileStatus::Missing ? "missing" : "replaced", pid_);
}

void FileKeeper::repair_lock()
{
    const std::filesystem::path staged =
        paths_.home / (".gateway.lock." + std::to_string(::getpid()) + "." + std::to_string(repairs_));
    UniqueFd fd = staged_lock(staged, record_);
    FileId staged_id{};
    if (auto id = id_at(staged))
        staged_id = *id;
    // Into the empty path, or in exchange for an unlocked file there; a file
    // someone holds locked at the path is a second gateway: not ours to undo.
    if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, paths_.lock_file.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno != EEXIST ||
            ::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, paths_.lock_file.c_str(), RENAME_EXCHANGE) != 0) {
            const int err = errno;
            ::unlink(staged.c_str());
            throw SystemError("put a new gateway.lock in place", err, "check that the Hermes home is writable");
        }
        // The former gateway.lock is at `staged` now.
        UniqueFd former(::open(staged.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        if (former && ::flock(former.get(), LOCK_EX | LOCK_NB) != 0) {
            ::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, paths_.lock_file.c_str(), RENAME_EXCHANGE);
            ::unlink(staged.c_str());
            log::error("gateway.lock names a file another process holds locked: a second gateway may run",
                       pid_);
            return;
        }
        ::unlink(staged.c_str());
    }
    our_lock_ = std::move(fd);
    our_lock_id_ = staged_id;
    ++repairs_;
    log::warning("gateway.lock no longer named the file the gateway holds locked; put a locked one with its "
                 "record in place",
                 pid_);
    repaired_("lock-replaced", pid_);
}

} // namespace hgw::daemon
