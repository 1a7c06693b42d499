#include "core/instance_lock.h"

#include "util/errors.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace hgw {

namespace {

UniqueFd open_lock_file(const std::filesystem::path& path)
{
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd >= 0)
        return UniqueFd(fd);
    if (errno == ELOOP)
        throw UnsafeFileError(path.string() + " is a symlink; refusing to lock through it",
                              "remove the symlink; gateway.lock must be a plain file");
    if (errno == EISDIR)
        throw UnsafeFileError(path.string() + " is a directory", "remove it; gateway.lock must be a plain file");
    throw_errno("open " + path.string(), "check that the Hermes home exists and is writable");
}

FileId check_trusted(const std::filesystem::path& path, int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw_errno("fstat " + path.string());
    if (!S_ISREG(st.st_mode))
        throw UnsafeFileError(path.string() + " is not a regular file", "remove it");
    if (auto why = trust_problem(st.st_uid, st.st_gid, st.st_mode, directory_owner(path)); !why.empty())
        throw UnsafeFileError(path.string() + " " + why,
                              "fix its owner and mode (0644, owned by the gateway's user)");
    return {st.st_dev, st.st_ino};
}

bool path_names(const std::filesystem::path& path, FileId id)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return false;
    return FileId{st.st_dev, st.st_ino} == id;
}

} // namespace

std::optional<InstanceLock> InstanceLock::try_acquire(const std::filesystem::path& lock_path)
{
    // A bounded retry: each round only repeats when someone replaced the file
    // between our open and our lock, which needs a misbehaving peer.
    for (int attempt = 0; attempt < 100; ++attempt) {
        UniqueFd fd = open_lock_file(lock_path);
        FileId id = check_trusted(lock_path, fd.get());
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK)
                return std::nullopt;
            throw_errno("flock " + lock_path.string());
        }
        if (path_names(lock_path, id))
            return InstanceLock(lock_path, std::move(fd), id);
        // We locked an inode that is no longer at the path: useless. Retry.
    }
    throw Error(lock_path.string() + " keeps being replaced while we lock it",
                "another program is deleting gateway.lock in a loop; stop it");
}

void InstanceLock::write_record(const PidRecord& record)
{
    std::string text = serialize_record(record);
    if (::ftruncate(fd_.get(), 0) != 0)
        throw_errno("truncate " + path_.string());
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::pwrite(fd_.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("write " + path_.string());
        done += static_cast<std::size_t>(n);
    }
    ::fdatasync(fd_.get());
}

void InstanceLock::clear_record()
{
    if (fd_ && ::ftruncate(fd_.get(), 0) != 0)
        throw_errno("truncate " + path_.string());
}

void InstanceLock::release() noexcept
{
    // Close, never LOCK_UN: the lock belongs to the open file description, and
    // a child that inherited it must keep holding it after we let go.
    fd_.reset();
}

} // namespace hgw
