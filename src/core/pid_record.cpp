#include "core/pid_record.h"

#include "core/home.h"
#include "process/process_info.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <climits>

namespace hgw {

using nlohmann::json;

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::string_view trim(std::string_view s)
{
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && ws(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && ws(s.back()))
        s.remove_suffix(1);
    return s;
}

RecordParse fail(std::string why) { return {std::nullopt, std::move(why)}; }

std::optional<std::string> parse_pid(const json& v, pid_t& out)
{
    if (v.is_boolean() || !v.is_number_integer())
        return std::string("\"pid\" is ") + v.type_name() + ", not an integer";
    if (v.is_number_unsigned() ? v.get<std::uint64_t>() > INT_MAX : (v.get<std::int64_t>() > INT_MAX))
        return std::string("\"pid\" ") + v.dump() + " is larger than any PID";
    auto n = v.get<std::int64_t>();
    if (n <= 0)
        return std::string("\"pid\" ") + v.dump() + " is not a valid PID (must be > 0)";
    out = static_cast<pid_t>(n);
    return std::nullopt;
}

std::optional<std::string> parse_optional_ticks(const json& obj, const char* key,
                                                std::optional<std::uint64_t>& out)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return std::nullopt;
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
        return std::string("\"") + key + "\" is " + it->type_name() + ", not a non-negative integer";
    out = it->get<std::uint64_t>();
    return std::nullopt;
}

std::optional<std::string> parse_optional_string(const json& obj, const char* key,
                                                 std::optional<std::string>& out)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return std::nullopt;
    if (!it->is_string())
        return std::string("\"") + key + "\" is " + it->type_name() + ", not a string";
    out = it->get<std::string>();
    return std::nullopt;
}

std::optional<std::string> parse_argv(const json& obj, std::optional<std::vector<std::string>>& out)
{
    auto it = obj.find("argv");
    if (it == obj.end() || it->is_null())
        return std::nullopt;
    if (!it->is_array())
        return std::string("\"argv\" is ") + it->type_name() + ", not a list";
    std::vector<std::string> argv;
    for (const auto& a : *it) {
        if (!a.is_string())
            return std::string("\"argv\" holds a ") + a.type_name() + ", not only strings";
        argv.push_back(a.get<std::string>());
    }
    out = std::move(argv);
    return std::nullopt;
}

std::optional<std::string> parse_manager(const json& obj, std::optional<ManagerInfo>& out)
{
    auto it = obj.find("manager");
    if (it == obj.end() || it->is_null())
        return std::nullopt;
    if (!it->is_object() || !it->contains("pid"))
        return std::string("\"manager\" is not an object with a pid");
    ManagerInfo m;
    if (auto e = parse_pid(it->at("pid"), m.pid))
        return "manager: " + *e;
    std::optional<std::string> name;
    if (auto e = parse_optional_ticks(*it, "start_time", m.start_time))
        return "manager: " + *e;
    if (auto e = parse_optional_ticks(*it, "generation", m.generation))
        return "manager: " + *e;
    if (auto e = parse_optional_string(*it, "name", name))
        return "manager: " + *e;
    m.name = name.value_or("");
    out = std::move(m);
    return std::nullopt;
}

RecordParse parse_object(const json& obj)
{
    PidRecord r;
    auto pid_it = obj.find("pid");
    if (pid_it == obj.end())
        return fail("no \"pid\" key");
    if (auto e = parse_pid(*pid_it, r.pid))
        return fail(*e);
    for (auto e : {parse_optional_string(obj, "kind", r.kind), parse_argv(obj, r.argv),
                   parse_optional_ticks(obj, "start_time", r.start_time),
                   parse_optional_string(obj, "hermes_home", r.hermes_home),
                   parse_optional_string(obj, "boot_id", r.boot_id), parse_manager(obj, r.manager)})
        if (e)
            return fail(*e);
    return {std::move(r), {}};
}

} // namespace

namespace {

bool is_hex4(std::string_view s, std::size_t at)
{
    if (at + 4 > s.size())
        return false;
    for (std::size_t i = at; i < at + 4; ++i)
        if (!std::isxdigit(static_cast<unsigned char>(s[i])))
            return false;
    return true;
}

unsigned hex4(std::string_view s, std::size_t at)
{
    return static_cast<unsigned>(std::stoul(std::string(s.substr(at, 4)), nullptr, 16));
}

bool is_high_surrogate(unsigned u) { return u >= 0xD800 && u <= 0xDBFF; }
bool is_low_surrogate(unsigned u) { return u >= 0xDC00 && u <= 0xDFFF; }

// Python writes bytes that are not UTF-8 (an argv from a non-UTF-8 path) as
// lone surrogate escapes such as "\udce9", and reads them back; strict JSON
// parsers refuse them. Replacing each lone one with U+FFFD keeps such a
// record readable, as Hermes itself reads it.
std::string replace_lone_surrogates(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        if (s[i] != '\\' || i + 1 >= s.size()) {
            out.push_back(s[i++]);
            continue;
        }
        if (s[i + 1] != 'u' || !is_hex4(s, i + 2)) {
            out.append(s.substr(i, 2)); // any other escape, "\\" included
            i += 2;
            continue;
        }
        unsigned unit = hex4(s, i + 2);
        bool pair = is_high_surrogate(unit) && i + 12 <= s.size() && s.substr(i + 6, 2) == "\\u" &&
                    is_hex4(s, i + 8) && is_low_surrogate(hex4(s, i + 8));
        if (pair) {
            out.append(s.substr(i, 12));
            i += 12;
        } else if (is_high_surrogate(unit) || is_low_surrogate(unit)) {
            out.append("\\ufffd");
            i += 6;
        } else {
            out.append(s.substr(i, 6));
            i += 6;
        }
    }
    return out;
}

} // namespace

RecordParse parse_record(std::string_view bytes)
{
    if (bytes.substr(0, kBom.size()) == kBom)
        bytes.remove_prefix(kBom.size());
    bytes = trim(bytes);
    if (bytes.empty())
        return fail("the file is empty");

    std::string cleaned;
    if (bytes.find("\\u") != std::string_view::npos) {
        cleaned = replace_lone_surrogates(bytes);
        bytes = cleaned;
    }
    json doc = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded())
        return fail("not valid JSON (truncated, binary or not UTF-8)");
    if (doc.is_number_integer() && !doc.is_boolean()) {
        PidRecord r;
        if (auto e = parse_pid(doc, r.pid))
            return fail("legacy bare PID: " + *e);
        r.legacy = true;
        return {std::move(r), {}};
    }
    if (!doc.is_object())
        return fail(std::string("a JSON ") + doc.type_name() + ", not an object or a bare PID");
    return parse_object(doc);
}

std::string serialize_record(const PidRecord& r)
{
    // ordered_json keeps Hermes' key order, which eases diffs by eye.
    nlohmann::ordered_json j;
    j["pid"] = r.pid;
    j["kind"] = r.kind ? json(*r.kind) : json(nullptr);
    j["argv"] = r.argv ? json(*r.argv) : json::array();
    j["start_time"] = r.start_time ? json(*r.start_time) : json(nullptr);
    j["hermes_home"] = r.hermes_home ? json(*r.hermes_home) : json(nullptr);
    if (r.boot_id)
        j["boot_id"] = *r.boot_id;
    if (r.manager) {
        nlohmann::ordered_json m;
        m["pid"] = r.manager->pid;
        m["start_time"] = r.manager->start_time ? json(*r.manager->start_time) : json(nullptr);
        m["name"] = r.manager->name;
        if (r.manager->generation)
            m["generation"] = *r.manager->generation;
        j["manager"] = std::move(m);
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

PidRecord record_for_process(pid_t pid, const std::filesystem::path& home)
{
    PidRecord r;
    r.pid = pid;
    r.kind = std::string(kGatewayKind);
    r.argv = read_cmdline(pid).value_or(std::vector<std::string>{});
    r.start_time = read_start_time(pid);
    r.hermes_home = canonical_home(home).string();
    r.boot_id = current_boot_id();
    return r;
}

bool same_process(const PidRecord& a, const PidRecord& b)
{
    if (a.pid != b.pid)
        return false;
    if (a.start_time && b.start_time && *a.start_time != *b.start_time)
        return false;
    if (a.boot_id && b.boot_id && *a.boot_id != *b.boot_id)
        return false;
    return true;
}

} // namespace hgw
