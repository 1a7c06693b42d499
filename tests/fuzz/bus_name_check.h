#pragma once
// The promise of core/profile.h, checked by the configuration targets: a
// valid profile owns a valid, well-known bus name, one-to-one.

#include "core/profile.h"
#include "fuzz_support.h"

#include <string>
#include <string_view>

namespace hgw::fuzz {

inline void check_profile_bus_name(std::string_view profile)
{
    if (!is_valid_profile_name(profile))
        return;
    const std::string name = bus_name_for_profile(profile);
    const std::string base = HGW_BUS_NAME ".";
    FUZZ_CHECK(name.size() <= 255 && name.rfind(base, 0) == 0, "bus name '%s'", name.c_str());
    std::string element = name.substr(base.size());
    FUZZ_CHECK(!element.empty() && !(element[0] >= '0' && element[0] <= '9'), "bus-name element '%s'",
               element.c_str());
    for (char c : element)
        FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-',
                   "bus-name element '%s'", element.c_str());
    // One-to-one: the profile is the element, less the '_' put before a digit.
    if (element[0] == '_')
        element.erase(0, 1);
    FUZZ_CHECK(element == profile, "profile '%.*s' owns '%s'", static_cast<int>(profile.size()), profile.data(),
               name.c_str());
}

} // namespace hgw::fuzz
