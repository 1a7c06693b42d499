#include "core/lock_probe.h"

#include "process/process_info.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <sstream>

namespace hgw {

std::vector<pid_t> flock_holders(const std::string& proc_locks, FileId id)
{
    char want[64];
    std::snprintf(want, sizeof want, "%02x:%02x:%lu", major(id.dev), minor(id.dev),
                  static_cast<unsigned long>(id.ino));
    std::vector<pid_t> pids;
    std::istringstream in(proc_locks);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string ordinal, type, advisory, mode, dev_ino;
        long pid = 0;
        if (!(f >> ordinal >> type))
            continue;
        if (type == "->")
            continue; // a waiter, not a holder
        if (type != "FLOCK" || !(f >> advisory >> mode >> pid >> dev_ino))
            continue;
        if (dev_ino == want)
            pids.push_back(static_cast<pid_t>(pid));
    }
    return pids;
}

namespace {

// Fallback when /proc/locks cannot be read: a shared, non-blocking probe.
bool probe_with_flock(int fd)
{
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd, LOCK_UN);
        return false;
    }
    return errno == EWOULDBLOCK;
}

} // namespace

LockState probe_lock(const std::filesystem::path& lock_path)
{
    LockState s;
    UniqueFd fd(::open(lock_path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        if (errno != ENOENT)
            s.problem = errno == ELOOP ? "is a symlink" : "cannot be opened";
        s.exists = errno != ENOENT;
        return s;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        s.exists = true;
        s.problem = "is not a regular file";
        return s;
    }
    s.exists = true;
    s.id = {st.st_dev, st.st_ino};
    s.problem = trust_problem(st.st_uid, st.st_gid, st.st_mode, directory_owner(lock_path));

    if (auto locks = read_small_file("/proc/locks", 16 << 20)) {
        s.method = "proc-locks";
        s.holders = flock_holders(*locks, s.id);
        s.held = !s.holders.empty();
    } else {
        s.method = "flock-probe";
        s.held = probe_with_flock(fd.get());
    }
    return s;
}

} // namespace hgw
