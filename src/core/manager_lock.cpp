#include "core/manager_lock.h"

#include "core/lock_file.h"
#include "process/process_info.h"
#include "util/errors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace hgw {

namespace {

// A record is a few hundred bytes; more is not one of ours.
constexpr std::size_t kManagerRecordCap = 4096;

std::optional<std::string> read_capped(int fd)
{
    std::string bytes;
    char buf[1024];
    while (bytes.size() <= kManagerRecordCap) {
        ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(bytes.size()));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::nullopt;
        if (n == 0)
            return bytes;
        bytes.append(buf, static_cast<std::size_t>(n));
    }
    return std::nullopt;
}

std::optional<ManagerRecord> read_record_at(int fd)
{
    auto bytes = read_capped(fd);
    return bytes ? parse_manager_record(*bytes) : std::nullopt;
}

// The holder's pid as its file says, 0 when it cannot be told.
pid_t holder_pid(const std::filesystem::path& path)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        return 0;
    auto r = read_record_at(fd.get());
    return r ? r->pid : 0;
}

} // namespace

std::variant<ManagerLock, ManagerLock::Held, ManagerLock::Unavailable>
ManagerLock::try_acquire(const HomePaths& paths)
{
    const std::filesystem::path path = paths.home / kManagerLockName;
    std::optional<LockedFile> locked;
    try {
        locked = try_lock_file(path, {.mode = 0600, .read_only_fallback = true});
    } catch (const SystemError& e) {
        if (e.code() == ENOENT || e.code() == EROFS || e.code() == EACCES || e.code() == ENOTDIR)
            return Unavailable{describe(e)};
        throw;
    }
    if (!locked)
        return Held{holder_pid(path)};

    ManagerLock lock(path, std::move(locked->fd), locked->writable);
    struct stat st {};
    if (::fstat(lock.fd_.get(), &st) == 0)
        lock.file_size_ = static_cast<std::size_t>(st.st_size);
    lock.previous_ = read_record_at(lock.fd_.get());
    // Bytes that are no record (corrupt, hostile, oversized) hold nothing
    // worth keeping: start from an empty file, so our padded rewrites stay small.
    if (!lock.previous_ && lock.writable_ && ::ftruncate(lock.fd_.get(), 0) == 0)
        lock.file_size_ = 0;
    lock.current_.pid = ::getpid();
    lock.current_.start_time = read_start_time(::getpid()).value_or(0);
    lock.current_.boot_id = current_boot_id();
    if (lock.previous_)
        lock.current_.child = lock.previous_->child;
    lock.write_current();
    return lock;
}

bool ManagerLock::still_in_place() const noexcept
{
    struct stat ours {}, named {};
    if (!fd_ || ::fstat(fd_.get(), &ours) != 0 || ::lstat(path_.c_str(), &named) != 0)
        return false;
    return ours.st_dev == named.st_dev && ours.st_ino == named.st_ino;
}

bool ManagerLock::record_child(const ProcessIdentity& child)
{
    current_.child = child;
    return write_current();
}

bool ManagerLock::clear_child()
{
    current_.child.reset();
    return write_current();
}

bool ManagerLock::write_current() noexcept
{
    if (!fd_ || !writable_)
        return false;
    try {
        // One pwrite over the whole old content (padded with blanks, which
        // JSON allows), never a truncate first: a daemon killed at any point
        // leaves either the old record or the new one, never an empty file.
        std::string text = serialize_manager_record(current_) + "\n";
        if (text.size() < file_size_)
            text.append(file_size_ - text.size(), ' ');
        ssize_t n;
        do
            n = ::pwrite(fd_.get(), text.data(), text.size(), 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return false;
        file_size_ = std::max(file_size_, static_cast<std::size_t>(n));
        return static_cast<std::size_t>(n) == text.size();
    } catch (...) {
        return false; // std::bad_alloc: the record is best effort
    }
}

} // namespace hgw
