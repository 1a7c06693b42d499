#include "core/lock_probe.h"

#include "core/lock_holders.h"
#include "core/open_elsewhere.h"
#include "process/process_info.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <sstream>

namespace hgw {

namespace {

std::string dev_ino_text(dev_t dev, ino_t ino)
{
    char text[64];
    std::snprintf(text, sizeof text, "%02x:%02x:%lu", major(dev), minor(dev), static_cast<unsigned long>(ino));
    return text;
}

} // namespace

std::vector<pid_t> flock_holders(const std::string& proc_locks, FileId id, std::optional<dev_t> overlay_dev)
{
    const std::string want = dev_ino_text(id.dev, id.ino);
    const std::string want_overlay = overlay_dev ? dev_ino_text(*overlay_dev, id.ino) : want;
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
        if (dev_ino == want || dev_ino == want_overlay)
            pids.push_back(static_cast<pid_t>(pid));
    }
    return pids;
}

namespace {

// The device /proc/locks names for a file on overlayfs: the overlay's own.
// fstat() of a file may give its layer's instead (layers on different
// filesystems, without xino), but an overlay directory always reports the
// overlay's device, and the inode numbers agree.
std::optional<dev_t> overlay_device(int fd, const std::filesystem::path& lock_path)
{
    struct statfs fs {};
    if (::fstatfs(fd, &fs) != 0 || fs.f_type != OVERLAYFS_SUPER_MAGIC)
        return std::nullopt;
    const std::filesystem::path dir = lock_path.has_parent_path() ? lock_path.parent_path() : ".";
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return std::nullopt;
    return st.st_dev;
}

// The pids /proc/locks names are those that took the lock: one may be dead
// (its worker inherited the fd) or have let its fd go (the daemon, once the
// gateway has it). Keep those that hold it now (or may: hidden from us), and
// look the others up by the fds that hold it.
std::vector<pid_t> current_holders(const std::vector<pid_t>& named, FileId id, bool held)
{
    std::vector<pid_t> kept;
    for (pid_t p : named)
        if (p > 0 && process_holds_lock(p, id) != Holds::No)
            kept.push_back(p);
    if (held && kept.size() != named.size()) {
        for (pid_t p : find_lock_holders(id))
            if (std::find(kept.begin(), kept.end(), p) == kept.end())
                kept.push_back(p);
    }
    return kept;
}

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

LockState probe_lock(const std::filesystem::path& lock_path, pid_t expected_holder, pid_t also_expected)
{
    LockState s;
    UniqueFd fd = open_through_lease(lock_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
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

    pid_t asked = 0;
    for (pid_t p : {expected_holder, also_expected})
        if (!asked && p > 0 && process_holds_lock(p, s.id) == Holds::Yes)
            asked = p;
    if (asked) {
        s.method = "fdinfo";
        s.held = true;
        s.holders = {asked};
    } else if (open_elsewhere(fd.get()) == OpenElsewhere::No) {
        s.method = "lease"; // nobody else has it open, so nobody holds it
    } else if (auto locks = read_small_file("/proc/locks", 16 << 20)) {
        s.method = "proc-locks";
        auto named = flock_holders(*locks, s.id, overlay_device(fd.get(), lock_path));
        s.held = !named.empty();
        s.holders = current_holders(named, s.id, s.held);
    } else {
        s.method = "flock-probe";
        s.held = probe_with_flock(fd.get());
        if (s.held)
            s.holders = find_lock_holders(s.id);
    }
    return s;
}

} // namespace hgw
