#include "daemon/leftovers.h"

#include "process/proc_stat.h"

#include <dirent.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

namespace hgw::daemon {

namespace {

// Every thread's children file: a child belongs to the thread that forked it
// (or, reparented, to whichever of ours the kernel picked).
std::optional<std::vector<pid_t>> children_from_task_files()
{
    DIR* dir = ::opendir("/proc/self/task");
    if (!dir)
        return std::nullopt;
    std::vector<pid_t> out;
    bool any_file = false;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/children");
        if (!in)
            continue;
        any_file = true;
        for (pid_t pid = 0; in >> pid;)
            out.push_back(pid);
    }
    ::closedir(dir);
    // A kernel without CONFIG_PROC_CHILDREN has no such file at all.
    if (!any_file)
        return std::nullopt;
    return out;
}

std::vector<pid_t> children_from_scan()
{
    std::vector<pid_t> out;
    const pid_t self = ::getpid();
    for (pid_t pid : list_processes())
        if (auto st = read_proc_stat(pid); st && st->ppid == self)
            out.push_back(pid);
    return out;
}

// Reaps `pid` if it has exited; true if it still lives.
bool still_alive(pid_t pid)
{
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) != 0)
        return false; // not our child (any more)
    return info.si_pid == 0;
}

} // namespace

bool become_subreaper() { return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0; }

std::vector<pid_t> living_children(std::initializer_list<pid_t> keep)
{
    auto listed = children_from_task_files();
    const std::vector<pid_t> children = listed ? std::move(*listed) : children_from_scan();
    std::vector<pid_t> out;
    for (pid_t pid : children) {
        if (std::find(keep.begin(), keep.end(), pid) != keep.end())
            continue;
        if (still_alive(pid))
            out.push_back(pid);
    }
    return out;
}

} // namespace hgw::daemon
