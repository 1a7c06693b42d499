#include "cli/pidfile_command.h"

#include "cli/output.h"
#include "core/pidfile.h"
#include "core/start_check.h"
#include "core/verdict_json.h"
#include "util/errors.h"


namespace hgw::cli {

namespace {

// The home to act on, which must exist: judging a home that is not there
// would answer "none" about a typo.
HomePaths resolve(const PidfileRequest& o)
{
    if (o.home && o.home->empty())
        throw Error("empty --home", "give a path, or leave --home out for $HERMES_HOME or ~/.hermes");
    HomePaths paths = paths_for(o.home ? std::filesystem::path(*o.home) : default_home());
    if (StartCheck home = check_home_exists(paths); !home)
        throw Error(home.problem, home.hint);
    return paths;
}

std::string record_line(const PidRecord& r)
{
    std::string s = "pid " + std::to_string(r.pid);
    s += ", start_time " + (r.start_time ? std::to_string(*r.start_time) : std::string("null"));
    if (r.boot_id)
        s += ", boot " + r.boot_id->substr(0, 8) + (*r.boot_id == current_boot_id() ? " (this boot)" : " (another boot)");
    if (r.hermes_home)
        s += ", home " + *r.hermes_home;
    if (r.legacy)
        s += " (legacy bare PID)";
    if (r.manager)
        s += ", managed by " + r.manager->name + " pid " + std::to_string(r.manager->pid);
    return s;
}

void print_verdict(const Verdict& v, const HomePaths& paths)
{
    std::string out = std::string(to_string(v.kind)) + ": " + v.summary + "\n";
    out += "  pid file: " + paths.pid_file.string() + "\n";
    if (v.record())
        out += "  record:   " + record_line(*v.record()) + "\n";
    if (v.process) {
        out += "  process:  " + std::string(to_string(v.process->liveness));
        if (v.process->start_time)
            out += ", start_time " + std::to_string(*v.process->start_time);
        if (v.process->argv && !v.process->argv->empty())
            out += ", runs " + (*v.process->argv)[0];
        out += "\n";
    }
    out += "  lock:     " + paths.lock_file.string() + ", " + (!v.lock.exists ? "absent" : v.lock.held ? "held" : "not held");
    for (pid_t p : v.lock.holders)
        out += " by pid " + std::to_string(p);
    out += "\n";
    for (const auto& n : v.notes)
        out += "  note:     " + n + "\n";
    print(out);
}

int run_check(const PidfileRequest& o)
{
    auto paths = resolve(o);
    Verdict v = validate(paths);
    if (o.json)
        print(verdict_to_json(v, paths).dump() + "\n");
    else
        print_verdict(v, paths);
    return check_exit_code(v.kind);
}

int run_show(const PidfileRequest& o)
{
    auto paths = resolve(o);
    RecordFile f = read_record_file(paths.pid_file);
    if (o.json) {
        nlohmann::ordered_json j;
        j["pid_file"] = paths.pid_file.string();
        j["status"] = f.status == FileStatus::Missing   ? "missing"
                      : f.status == FileStatus::Record  ? "record"
                      : f.status == FileStatus::Corrupt ? "corrupt"
                                                        : "unsafe";
        j["problem"] = f.problem.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(f.problem);
        j["record"] = f.record ? record_to_json(*f.record) : nlohmann::ordered_json(nullptr);
        print(j.dump() + "\n");
    } else if (f.status == FileStatus::Missing) {
        print(paths.pid_file.string() + ": no such file\n");
    } else if (f.record) {
        std::string out = paths.pid_file.string() + ": " + record_line(*f.record) + "\n";
        if (f.record->argv)
            for (const auto& a : *f.record->argv)
                out += "  argv: " + a + "\n";
        print(out);
    } else {
        print(paths.pid_file.string() + ": " + (f.status == FileStatus::Corrupt ? "corrupt" : "unsafe") + ": " +
              f.problem + "\n");
    }
    switch (f.status) {
    case FileStatus::Record: return 0;
    case FileStatus::Missing: return 3;
    default: return 4;
    }
}

int run_clean(const PidfileRequest& o)
{
    using A = CleanOutcome::Action;
    auto paths = resolve(o);
    CleanOutcome c = clean(paths);
    if (o.json)
        print(clean_to_json(c, paths).dump() + "\n");
    else
        print(std::string(to_string(c.action)) + ": " + c.message + "\n");
    switch (c.action) {
    case A::NothingToDo:
    case A::Removed:
    case A::Quarantined: return 0;
    case A::KeptLive:
    case A::Busy: return 1;
    case A::KeptUnsafe: return 4;
    }
    return 4;
}

// Runs `body`, turning our errors into a message and exit code 2.
template <typename F>
int guarded(F body)
{
    try {
        return body();
    } catch (const Error& e) {
        print_error("hermes-gatewayctl: " + describe(e) + "\n");
    } catch (const std::exception& e) {
        print_error("hermes-gatewayctl: " + std::string(e.what()) + "\n");
    }
    return 2;
}

} // namespace

int run_pidfile(const PidfileRequest& request)
{
    switch (request.action) {
    case PidfileAction::Show: return guarded([&] { return run_show(request); });
    case PidfileAction::Check: return guarded([&] { return run_check(request); });
    case PidfileAction::Clean: return guarded([&] { return run_clean(request); });
    }
    return 2;
}

} // namespace hgw::cli
