#include "core/manager_record.h"

#include <nlohmann/json.hpp>

#include <limits>

namespace hgw {

using nlohmann::json;

namespace {

json identity_json(pid_t pid, std::uint64_t start_time, const std::string& boot_id)
{
    json j = json::object();
    j["pid"] = pid;
    j["start_time"] = start_time;
    j["boot_id"] = boot_id;
    return j;
}

// The three identity fields, each of its exact type; pid a valid one.
bool read_identity(const json& j, ProcessIdentity& out)
{
    if (!j.is_object())
        return false;
    auto pid = j.find("pid");
    auto start = j.find("start_time");
    auto boot = j.find("boot_id");
    if (pid == j.end() || start == j.end() || boot == j.end())
        return false;
    if (!pid->is_number_integer() || !start->is_number_unsigned() || !boot->is_string())
        return false;
    auto p = pid->get<std::int64_t>();
    if (p <= 0 || p > std::numeric_limits<pid_t>::max())
        return false;
    out.pid = static_cast<pid_t>(p);
    out.start_time = start->get<std::uint64_t>();
    out.boot_id = boot->get<std::string>();
    return true;
}

} // namespace

std::string serialize_manager_record(const ManagerRecord& r)
{
    json j = identity_json(r.pid, r.start_time, r.boot_id);
    j["child"] = r.child ? identity_json(r.child->pid, r.child->start_time, r.child->boot_id) : json(nullptr);
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<ManagerRecord> parse_manager_record(std::string_view bytes)
{
    // allow_exceptions = false: malformed input yields a discarded value.
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::nullopt;
    ProcessIdentity self;
    if (!read_identity(j, self))
        return std::nullopt;
    ManagerRecord r{self.pid, self.start_time, std::move(self.boot_id), std::nullopt};
    if (auto child = j.find("child"); child != j.end() && !child->is_null()) {
        ProcessIdentity c;
        if (!read_identity(*child, c))
            return std::nullopt;
        r.child = std::move(c);
    }
    return r;
}

} // namespace hgw
