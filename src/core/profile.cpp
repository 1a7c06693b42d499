#include "core/profile.h"

#include "util/errors.h"

namespace hgw {

namespace {

constexpr std::size_t kMaxProfileLength = 64;

bool is_lower_or_digit(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

} // namespace

bool is_valid_profile_name(std::string_view profile)
{
    if (profile.empty() || profile.size() > kMaxProfileLength || !is_lower_or_digit(profile.front()))
        return false;
    for (char c : profile)
        if (!is_lower_or_digit(c) && c != '_' && c != '-')
            return false;
    return true;
}

std::filesystem::path profile_home(const std::filesystem::path& root, std::string_view profile)
{
    return root / "profiles" / std::string(profile);
}

std::string profile_bus_element(std::string_view profile)
{
    if (!is_valid_profile_name(profile))
        throw Error("invalid profile name '" + std::string(profile) + "'",
                    "profile names are 1 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit");
    // D-Bus forbids a leading digit in well-known name elements; '-' and
    // '_' are allowed as they are.
    std::string element(profile);
    if (is_digit(element.front()))
        element.insert(element.begin(), '_');
    return element;
}

std::string bus_name_for_profile(std::string_view profile)
{
    std::string name = HGW_BUS_NAME;
    if (profile.empty())
        return name;
    return name + "." + profile_bus_element(profile);
}

} // namespace hgw
