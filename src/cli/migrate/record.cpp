#include "cli/migrate/record.h"

#include "util/errors.h"

#include <nlohmann/json.hpp>

#include <ctime>

namespace hgw::cli {

namespace {

using Json = nlohmann::ordered_json;

Json optional_text(const std::optional<std::string>& s)
{
    return s ? Json(*s) : Json(nullptr);
}

std::optional<std::string> text_or_none(const Json& j, const char* key)
{
    const Json& v = j.at(key);
    return v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>());
}

std::string utc_now()
{
    char buf[32];
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

} // namespace

MigrateRecord record_of(const MigratePlan& plan, const std::optional<std::string>& config_before)
{
    return {plan.their_unit,      plan.our_unit,    plan.their_path,      plan.their_state,
            plan.dropin_path,     plan.dropin_text, plan.config_file,     config_before,
            plan.config_text,     plan.bus_policy_path, plan.bus_policy_text, utc_now()};
}

std::filesystem::path record_file(const std::filesystem::path& record_dir)
{
    return record_dir / "record.json";
}

std::filesystem::path unit_copy(const std::filesystem::path& record_dir, const std::string& their_unit)
{
    return record_dir / their_unit;
}

std::string record_to_text(const MigrateRecord& r)
{
    Json j;
    j["their_unit"] = r.their_unit;
    j["our_unit"] = r.our_unit;
    j["their_path"] = r.their_path.string();
    j["was_enabled"] = r.their_state.enabled;
    j["was_active"] = r.their_state.active;
    j["dropin_path"] = r.dropin_path.string();
    j["dropin_text"] = r.dropin_text;
    j["config_file"] = r.config_file.string();
    j["config_before"] = optional_text(r.config_before);
    j["config_after"] = optional_text(r.config_after);
    j["bus_policy_path"] = r.bus_policy_path.string();
    j["bus_policy_text"] = r.bus_policy_text;
    j["migrated_at"] = r.migrated_at;
    return j.dump(2) + "\n";
}

MigrateRecord record_from_text(const std::string& text, const std::filesystem::path& file)
{
    try {
        const Json j = Json::parse(text);
        MigrateRecord r;
        r.their_unit = j.at("their_unit").get<std::string>();
        r.our_unit = j.at("our_unit").get<std::string>();
        r.their_path = j.at("their_path").get<std::string>();
        r.their_state = {j.at("was_enabled").get<bool>(), j.at("was_active").get<bool>()};
        r.dropin_path = j.at("dropin_path").get<std::string>();
        r.dropin_text = j.at("dropin_text").get<std::string>();
        r.config_file = j.at("config_file").get<std::string>();
        r.config_before = text_or_none(j, "config_before");
        r.config_after = text_or_none(j, "config_after");
        r.bus_policy_path = j.at("bus_policy_path").get<std::string>();
        r.bus_policy_text = j.at("bus_policy_text").get<std::string>();
        r.migrated_at = j.at("migrated_at").get<std::string>();
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw Error("cannot read " + file.string() + ": " + e.what(),
                    "it is what migrate --undo needs; restore it, or undo by hand with what it says");
    }
}

} // namespace hgw::cli
