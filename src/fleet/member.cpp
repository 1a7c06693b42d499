#include "fleet/member.h"

#include <nlohmann/json.hpp>

namespace hgw::fleet {

namespace {

nlohmann::json parsed(std::string_view value)
{
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("host") || !j.at("host").is_string())
        return nullptr;
    return j;
}

} // namespace

std::string member_value(const std::string& host, long pid)
{
    return nlohmann::json{{"host", host}, {"pid", pid}}.dump();
}

std::string member_host(std::string_view value)
{
    const auto j = parsed(value);
    return j.is_null() ? std::string() : j.at("host").get<std::string>();
}

std::string describe_member(std::string_view value)
{
    const auto j = parsed(value);
    if (j.is_null())
        return std::string(value);
    const auto& pid = j.contains("pid") ? j.at("pid") : nlohmann::json();
    return j.at("host").get<std::string>() + " (daemon pid " +
           (pid.is_number_integer() ? std::to_string(pid.get<long>()) : std::string("?")) + ")";
}

} // namespace hgw::fleet
