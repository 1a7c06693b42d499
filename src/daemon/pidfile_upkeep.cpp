#include "daemon/pidfile_upkeep.h"

#include "core/atomic_file.h"
#include "core/record_file.h"
#include "core/start_check.h"
#include "core/validation.h"
#include "daemon/log.h"
#include "process/process_info.h"

#include <sys/statvfs.h>
#include <unistd.h>

namespace hgw::daemon {

std::optional<std::string> pidfile_problem(const CleanOutcome& c)
{
    using A = CleanOutcome::Action;
    switch (c.action) {
    case A::KeptLive:
    case A::Busy: return "another gateway holds this home: " + c.verdict.summary;
    case A::KeptUnsafe: return "unsafe PID file, fix it by hand: " + c.verdict.summary;
    case A::NothingToDo:
    case A::Removed:
    case A::Quarantined: return std::nullopt;
    }
    return std::nullopt;
}

void report_repair(const CleanOutcome& c, const std::function<void(const std::string&, pid_t)>& repaired)
{
    using A = CleanOutcome::Action;
    if (c.action == A::Removed) {
        log::warning("repaired PID file: " + c.message);
        repaired(std::string(to_string(c.verdict.kind)), c.verdict.record() ? c.verdict.record()->pid : 0);
    } else if (c.action == A::Quarantined) {
        log::warning("repaired PID file: " + c.message);
        repaired("corrupt", 0);
    }
}

PidRecord gateway_record(const HomePaths& paths, const Config& config, pid_t pid, std::uint64_t generation)
{
    PidRecord rec = record_for_process(pid, paths.home);
    rec.argv = config.command;
    rec.manager = ManagerInfo{::getpid(), read_start_time(::getpid()), "hermes-gatewayd", generation};
    return rec;
}

std::string record_to_keep(const HomePaths& paths, const Config& config, pid_t pid, std::uint64_t generation)
{
    RecordFile f = read_record_file(paths.pid_file);
    PidRecord rec = f.status == FileStatus::Record && f.record->pid == pid ? *f.record
                    : config.write_pidfile                                 ? gateway_record(paths, config, pid, generation)
                                                                           : record_for_process(pid, paths.home);
    // Names us, so that a gateway.lock we hold on its behalf is seen as its.
    rec.manager = ManagerInfo{::getpid(), read_start_time(::getpid()), "hermes-gatewayd", generation};
    return serialize_record(rec);
}

void remove_record_of(const HomePaths& paths, pid_t pid, std::uint64_t start_time,
                      const std::function<void(const std::string&)>& removed)
{
    RecordFile f = read_record_file(paths.pid_file);
    if (f.status != FileStatus::Record || f.record->pid != pid)
        return;
    if (f.record->start_time && *f.record->start_time != start_time)
        return;
    if (remove_if_same(paths.pid_file, f.id)) {
        log::warning("removed the record the gateway left behind", pid);
        removed("stale");
    }
}

bool record_ready(const HomePaths& paths, pid_t pid)
{
    Verdict v = validate(paths);
    return v.kind == VerdictKind::Live && v.record() && v.record()->pid == pid && v.lock.held;
}

std::optional<std::string> start_problem(const HomePaths& paths)
{
    StartCheck c = check_can_start(paths);
    if (c.ok)
        return storage_problem(paths); // a full disk: the new one could not write its record
    return c.hint.empty() ? c.problem : c.problem + " (" + c.hint + ")";
}

std::optional<std::string> storage_problem(const HomePaths& paths)
{
    struct statvfs st {};
    if (::statvfs(paths.home.c_str(), &st) != 0)
        return std::nullopt; // missing or unreadable: the start attempt says why
    if (st.f_flag & ST_RDONLY)
        return "the file system of " + paths.home.string() + " is read-only";
    if (st.f_bavail == 0)
        return "the file system of " + paths.home.string() + " is full";
    return std::nullopt;
}

} // namespace hgw::daemon
