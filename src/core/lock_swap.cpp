#include "core/lock_swap.h"

#include "util/errors.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

namespace hgw {

TempName& TempName::operator=(TempName&& other) noexcept
{
    if (this != &other) {
        remove();
        path_ = std::move(other.path_);
        other.path_.clear();
    }
    return *this;
}

void TempName::remove() noexcept
{
    if (!path_.empty())
        ::unlink(path_.c_str());
    path_.clear();
}

Swap swap_into(const std::filesystem::path& from, const std::filesystem::path& to)
{
    // Each round repeats only when another process created or removed `to`
    // between our two calls (Hermes' reader deletes gateway.lock, its
    // open("a+") creates it): a bounded number of rounds is plenty.
    for (int round = 0; round < 100; ++round) {
        if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0)
            return Swap::Exchanged;
        if (errno == EINVAL || errno == ENOSYS)
            return Swap::Unsupported;
        if (errno != ENOENT)
            throw_errno("exchange " + from.string() + " with " + to.string());
        if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
            return Swap::Placed;
        if (errno != EEXIST)
            throw_errno("rename " + from.string() + " to " + to.string());
    }
    throw Error(to.string() + " keeps appearing and disappearing while we put a lock file in its place",
                "another program creates and deletes " + to.filename().string() + " in a loop; stop it");
}

std::optional<bool> only_ours(int fd)
{
    if (::fcntl(fd, F_SETLEASE, F_WRLCK) == 0) {
        ::fcntl(fd, F_SETLEASE, F_UNLCK);
        return true;
    }
    if (errno == EAGAIN)
        return false;
    return std::nullopt;
}

} // namespace hgw
