#include "core/lock_holders.h"

#include "process/process_info.h"
#include "util/unique_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace hgw {

std::string_view to_string(Holds h)
{
    switch (h) {
    case Holds::Yes: return "yes";
    case Holds::No: return "no";
    case Holds::Unknown: return "unknown";
    }
    return "unknown";
}

bool fdinfo_has_flock(std::string_view fdinfo)
{
    // "lock:\t1: FLOCK  ADVISORY  WRITE 1234 fe:00:42 0 EOF". A waiter is
    // never listed here (only granted locks are), so any such line is a hold.
    std::size_t at = 0;
    while (at < fdinfo.size()) {
        std::size_t end = fdinfo.find('\n', at);
        if (end == std::string_view::npos)
            end = fdinfo.size();
        std::string_view line = fdinfo.substr(at, end - at);
        if (line.rfind("lock:", 0) == 0 && line.find(" FLOCK ") != std::string_view::npos)
            return true;
        at = end + 1;
    }
    return false;
}

namespace {

// Opens a directory for fd-relative lookups; invalid when it cannot be.
UniqueFd open_dir(const std::string& path)
{
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// Calls `each(name)` for every entry of an opened directory except . and ..;
// the fd stays ours (fdopendir would take it).
template <typename F>
void for_each_entry(int dir_fd, F each)
{
    UniqueFd copy(::dup(dir_fd));
    if (!copy)
        return;
    DIR* d = ::fdopendir(copy.get());
    if (!d)
        return;
    copy.release(); // closedir closes it now
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        if (!each(std::string_view(e->d_name)))
            break;
    }
    ::closedir(d);
}

bool fd_holds_flock(pid_t pid, std::string_view fd_name)
{
    auto info = read_small_file("/proc/" + std::to_string(pid) + "/fdinfo/" + std::string(fd_name), 1 << 20);
    return info && fdinfo_has_flock(*info);
}

} // namespace

Holds process_holds_lock(pid_t pid, FileId lock_id)
{
    if (pid <= 0)
        return Holds::No;
    UniqueFd fds = open_dir("/proc/" + std::to_string(pid) + "/fd");
    if (!fds)
        return errno == EACCES || errno == EPERM ? Holds::Unknown : Holds::No;
    Holds found = Holds::No;
    for_each_entry(fds.get(), [&](std::string_view name) {
        // stat follows the magic link to the open file itself, whatever its
        // path is now (renamed, unlinked, seen through another mount).
        struct stat st {};
        if (::fstatat(fds.get(), std::string(name).c_str(), &st, 0) != 0)
            return true; // closed meanwhile, or not ours to see
        if (FileId{st.st_dev, st.st_ino} == lock_id && fd_holds_flock(pid, name)) {
            found = Holds::Yes;
            return false;
        }
        return true;
    });
    return found;
}

std::optional<FileId> flock_on_path(pid_t pid, const std::filesystem::path& path)
{
    UniqueFd fds = open_dir("/proc/" + std::to_string(pid) + "/fd");
    if (!fds)
        return std::nullopt;
    const std::string live = path.string(), gone = live + " (deleted)";
    std::optional<FileId> found;
    for_each_entry(fds.get(), [&](std::string_view name) {
        const std::string entry(name);
        char target[4096];
        const ssize_t n = ::readlinkat(fds.get(), entry.c_str(), target, sizeof target);
        if (n <= 0 || static_cast<std::size_t>(n) >= sizeof target)
            return true;
        const std::string_view text(target, static_cast<std::size_t>(n));
        if (text != live && text != gone)
            return true;
        struct stat st {};
        if (::fstatat(fds.get(), entry.c_str(), &st, 0) == 0 && fd_holds_flock(pid, name)) {
            found = FileId{st.st_dev, st.st_ino};
            return false;
        }
        return true;
    });
    return found;
}

std::vector<pid_t> find_lock_holders(FileId lock_id)
{
    std::vector<pid_t> holders;
    UniqueFd proc = open_dir("/proc");
    if (!proc)
        return holders;
    for_each_entry(proc.get(), [&](std::string_view name) {
        if (name.find_first_not_of("0123456789") != std::string_view::npos)
            return true;
        pid_t pid = static_cast<pid_t>(std::strtol(std::string(name).c_str(), nullptr, 10));
        if (process_holds_lock(pid, lock_id) == Holds::Yes)
            holders.push_back(pid);
        return true;
    });
    std::sort(holders.begin(), holders.end());
    return holders;
}

} // namespace hgw
