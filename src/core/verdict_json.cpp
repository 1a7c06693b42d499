#include "core/verdict_json.h"

namespace hgw {

using nlohmann::ordered_json;

ordered_json record_to_json(const PidRecord& r)
{
    return ordered_json::parse(serialize_record(r));
}

static ordered_json process_to_json(const ProcessInfo& p)
{
    ordered_json j;
    j["pid"] = p.pid;
    j["liveness"] = std::string(to_string(p.liveness));
    j["start_time"] = p.start_time ? ordered_json(*p.start_time) : ordered_json(nullptr);
    j["argv"] = p.argv ? ordered_json(*p.argv) : ordered_json(nullptr);
    j["uid"] = p.uid ? ordered_json(*p.uid) : ordered_json(nullptr);
    return j;
}

ordered_json verdict_to_json(const Verdict& v, const HomePaths& paths)
{
    ordered_json j;
    j["verdict"] = std::string(to_string(v.kind));
    j["reason"] = v.reason ? ordered_json(std::string(to_string(*v.reason))) : ordered_json(nullptr);
    j["summary"] = v.summary;
    j["home"] = paths.home.string();
    j["pid_file"] = paths.pid_file.string();
    j["record"] = v.record() ? record_to_json(*v.record()) : ordered_json(nullptr);
    j["problem"] = v.file.problem.empty() ? ordered_json(nullptr) : ordered_json(v.file.problem);
    ordered_json lock;
    lock["path"] = paths.lock_file.string();
    lock["exists"] = v.lock.exists;
    lock["held"] = v.lock.held;
    lock["holders"] = v.lock.holders;
    lock["method"] = v.lock.method;
    j["lock"] = std::move(lock);
    j["process"] = v.process ? process_to_json(*v.process) : ordered_json(nullptr);
    // Does the recorded process hold this home's gateway.lock (its fdinfo)?
    j["holds_lock"] = v.holds_lock ? ordered_json(std::string(to_string(*v.holds_lock))) : ordered_json(nullptr);
    j["boot_id"] = v.boot_id;
    j["notes"] = v.notes;
    return j;
}

ordered_json clean_to_json(const CleanOutcome& c, const HomePaths& paths)
{
    ordered_json j;
    j["action"] = std::string(to_string(c.action));
    j["message"] = c.message;
    j["moved_to"] = c.moved_to.empty() ? ordered_json(nullptr) : ordered_json(c.moved_to.string());
    j["verdict"] = verdict_to_json(c.verdict, paths);
    return j;
}

} // namespace hgw
