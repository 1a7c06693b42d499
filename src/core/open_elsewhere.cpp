#include "core/open_elsewhere.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace hgw {

OpenElsewhere open_elsewhere(const std::filesystem::path& path)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        return errno == ENOENT ? OpenElsewhere::No : OpenElsewhere::Unknown;
    return open_elsewhere(fd.get());
}

OpenElsewhere open_elsewhere(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return OpenElsewhere::Unknown;
    // A lease break (someone opening the file in this moment) is signalled
    // with SIGURG, which nobody dies of, instead of SIGIO, which kills.
    if (::fcntl(fd, F_SETSIG, SIGURG) != 0)
        return OpenElsewhere::Unknown;
    if (::fcntl(fd, F_SETLEASE, F_WRLCK) != 0)
        return errno == EAGAIN ? OpenElsewhere::Yes : OpenElsewhere::Unknown;
    ::fcntl(fd, F_SETLEASE, F_UNLCK);
    return OpenElsewhere::No;
}

UniqueFd open_through_lease(const std::filesystem::path& path, int flags, mode_t mode)
{
    UniqueFd fd(::open(path.c_str(), flags | O_NONBLOCK | O_NOFOLLOW, mode));
    if (fd || errno != EWOULDBLOCK)
        return fd;
    // Only a lease gives EWOULDBLOCK from open(). Wait for it on the file we
    // can prove regular, reopened through its magic link.
    UniqueFd path_fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!path_fd || ::fstat(path_fd.get(), &st) != 0)
        return UniqueFd();
    if (!S_ISREG(st.st_mode)) {
        errno = EWOULDBLOCK;
        return UniqueFd();
    }
    const std::string link = "/proc/self/fd/" + std::to_string(path_fd.get());
    return UniqueFd(::open(link.c_str(), flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK)));
}

} // namespace hgw
