#include "core/lock_file.h"

#include "core/open_elsewhere.h"
#include "util/errors.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

namespace hgw {

namespace {

constexpr int kOpenFlags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;

[[noreturn]] void throw_open_error(const std::filesystem::path& path, int err)
{
    const std::string name = path.filename().string();
    if (err == ELOOP)
        throw UnsafeFileError(path.string() + " is a symlink; refusing to lock through it",
                              "remove the symlink; " + name + " must be a plain file");
    if (err == EISDIR)
        throw UnsafeFileError(path.string() + " is a directory", "remove it; " + name + " must be a plain file");
    throw SystemError("open " + path.string(), err, "check that the Hermes home exists and is writable");
}

LockedFile open_lock_file(const std::filesystem::path& path, const LockFileOptions& options)
{
    UniqueFd fd = open_through_lease(path, O_RDWR | O_CREAT | kOpenFlags, options.mode);
    if (fd)
        return {std::move(fd), {}, true};
    int err = errno;
    if (options.read_only_fallback && (err == EROFS || err == EACCES)) {
        fd = open_through_lease(path, O_RDONLY | kOpenFlags);
        if (fd)
            return {std::move(fd), {}, false};
        if (errno != ENOENT)
            err = errno; // a symlink or directory says more than EROFS
    }
    throw_open_error(path, err);
}

FileId check_trusted(const std::filesystem::path& path, int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw_errno("fstat " + path.string());
    if (!S_ISREG(st.st_mode))
        throw UnsafeFileError(path.string() + " is not a regular file", "remove it");
    if (auto why = trust_problem(st.st_uid, st.st_gid, st.st_mode, directory_owner(path)); !why.empty())
        throw UnsafeFileError(path.string() + " " + why, "fix its owner and mode (owned by the gateway's user, "
                                                         "writable by no one else)");
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

std::optional<LockedFile> try_lock_file(const std::filesystem::path& path, const LockFileOptions& options)
{
    // A bounded retry: each round only repeats when someone replaced the file
    // between our open and our lock, which needs a misbehaving peer.
    for (int attempt = 0; attempt < 100; ++attempt) {
        LockedFile f = open_lock_file(path, options);
        f.id = check_trusted(path, f.fd.get());
        if (::flock(f.fd.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK)
                return std::nullopt;
            throw_errno("flock " + path.string());
        }
        if (path_names(path, f.id))
            return f;
        // We locked an inode that is no longer at the path: useless. Retry.
    }
    throw Error(path.string() + " keeps being replaced while we lock it",
                "another program is deleting " + path.filename().string() + " in a loop; stop it");
}

} // namespace hgw
