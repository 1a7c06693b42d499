#include "daemon/orphans.h"

#include "core/lock_holders.h"
#include "core/lock_probe.h"
#include "core/open_elsewhere.h"
#include "core/gateway_cmdline.h"
#include "core/record_file.h"
#include "core/validation.h"
#include "process/pidfd.h"
#include "process/proc_stat.h"
#include "process/process_info.h"

#include <sys/stat.h>

#include <algorithm>

namespace hgw::daemon {

namespace {

std::string name_of(pid_t pid)
{
    auto argv = read_cmdline(pid);
    std::string text = "pid " + std::to_string(pid);
    if (argv && !argv->empty()) {
        std::string cmd;
        for (const auto& a : *argv)
            cmd += (cmd.empty() ? "" : " ") + a;
        if (cmd.size() > 120)
            cmd = cmd.substr(0, 117) + "...";
        text += " (" + cmd + ")";
    }
    return text;
}

UniqueFd watch_fd(pid_t pid) { return UniqueFd(pid > 0 ? pidfd_open(pid) : -1); }

bool names_this_home(const PidRecord& r, const HomePaths& paths)
{
    return r.hermes_home && !r.hermes_home->empty() &&
           (*r.hermes_home == paths.home.string() || canonical_home(*r.hermes_home) == canonical_home(paths.home));
}

Obstacle from_marker(const ProcessIdentity& child)
{
    Obstacle o;
    std::string why;
    auto handle = ProcessHandle::open_verified(child, &why);
    if (!handle)
        return o; // gone, or its PID reused since: nothing of ours left there
    o.kind = Obstacle::Kind::Orphan;
    o.pid = child.pid;
    o.why = "the gateway a previous daemon of this home started, " + name_of(child.pid);
    o.orphan = std::move(handle);
    return o;
}

// A live gateway of this home that no marker of ours names: started by a
// person (`hermes gateway run`, perhaps with --replace) or by another
// manager. It is never signalled on our own initiative; a validated one
// comes with a verified handle, for a Stop or Replace a person asks for.
Obstacle from_record(const Verdict& v, const HomePaths& paths)
{
    Obstacle o;
    const PidRecord& r = *v.record();
    o.pid = r.pid;
    o.kind = Obstacle::Kind::Foreign;
    o.watch = watch_fd(r.pid);
    Holds holds = process_holds_lock(r.pid, v.lock.id);
    if (holds == Holds::Yes && names_this_home(r, paths) && v.process && v.process->start_time) {
        std::string why;
        o.orphan = ProcessHandle::open_verified({r.pid, *v.process->start_time, current_boot_id()}, &why);
        if (o.orphan) {
            o.why = "a gateway of this home that we did not start, " + name_of(r.pid);
            return o;
        }
    }
    o.why = "a gateway we cannot prove ours runs for this home: " + v.summary;
    return o;
}

Obstacle holder_of(const LockState& lock)
{
    Obstacle o;
    o.kind = Obstacle::Kind::Holder;
    std::vector<pid_t> holders = lock.holders.empty() ? find_lock_holders(lock.id) : lock.holders;
    if (holders.empty()) {
        o.why = "gateway.lock is held by a process we cannot see";
        return o;
    }
    o.pid = holders.front();
    o.why = "gateway.lock is held by " + name_of(o.pid);
    o.watch = watch_fd(o.pid);
    return o;
}

// With no record there is nothing to validate. A lock file that nobody else
// has open is held by nobody, and the kernel says so in microseconds (a
// lease it grants only then). Otherwise a holder is looked for in the fd
// tables we can see, which disturbs nobody, instead of /proc/locks, whose
// read can stall every flock() on the machine for milliseconds. A holder we
// cannot see makes the new gateway fail at once, and lock_holder() then
// names it.
Obstacle visible_holder(const HomePaths& paths)
{
    if (open_elsewhere(paths.lock_file) == OpenElsewhere::No)
        return {};
    struct stat st {};
    if (::lstat(paths.lock_file.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return {}; // missing, or unsafe: the start attempt says so
    LockState lock;
    lock.id = {st.st_dev, st.st_ino};
    lock.holders = find_lock_holders(lock.id);
    if (lock.holders.empty())
        return {};
    lock.held = true;
    return holder_of(lock);
}

} // namespace

Obstacle find_obstacle(const HomePaths& paths, const std::optional<ProcessIdentity>& marked_child)
{
    if (marked_child) {
        Obstacle o = from_marker(*marked_child);
        if (o.kind != Obstacle::Kind::None)
            return o;
    }
    if (read_record_file(paths.pid_file).status == FileStatus::Missing)
        return visible_holder(paths);
    Verdict v = validate(paths);
    if (v.kind == VerdictKind::Live && v.record())
        return from_record(v, paths);
    return v.lock.held ? holder_of(v.lock) : Obstacle{};
}

std::optional<pid_t> find_replacer(const HomePaths& paths)
{
    const auto ours = canonical_home(paths.home);
    for (pid_t pid : list_processes()) {
        auto argv = read_cmdline(pid);
        if (!argv || !looks_like_gateway(*argv) || std::find(argv->begin(), argv->end(), "--replace") == argv->end())
            continue;
        const auto env = read_environment(pid).value_or(std::map<std::string, std::string>{});
        const auto home = env.find("HERMES_HOME");
        if (home != env.end() && !home->second.empty() && canonical_home(home->second) == ours)
            return pid;
    }
    return std::nullopt;
}

Obstacle lock_holder(const HomePaths& paths)
{
    LockState lock = probe_lock(paths.lock_file);
    return lock.held ? holder_of(lock) : Obstacle{};
}

} // namespace hgw::daemon
