#pragma once
// Hermes profiles: which names are valid, where their homes are, and which
// well-known bus name the daemon of each one owns.
//
// The default home owns HGW_BUS_NAME (org.hermes.Gateway1, util/bus_names.h);
// the profile NAME owns org.hermes.Gateway1.<element>. Hermes allows profile names matching
// [a-z0-9][a-z0-9_-]{0,63}. Bus-name elements may contain [A-Za-z0-9_-]
// (so '-' needs no change) but must not start with a digit, so a profile
// starting with a digit gets a '_' put in front: "2nd-bot" owns
// org.hermes.Gateway1._2nd-bot. No profile name starts with '_', so the
// mapping is one-to-one: two profiles never fight over one bus name.

#include "util/bus_names.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace hgw {

// Hermes' rule: [a-z0-9][a-z0-9_-]{0,63}.
bool is_valid_profile_name(std::string_view profile);

// Hermes keeps a profile's home at <root>/profiles/<name>.
std::filesystem::path profile_home(const std::filesystem::path& root, std::string_view profile);

// The bus-name element for a valid profile name. Throws hgw::Error for an
// invalid one.
std::string profile_bus_element(std::string_view profile);

// org.hermes.Gateway1 for an empty profile, else
// org.hermes.Gateway1.<profile_bus_element(profile)>. Throws hgw::Error for
// an invalid profile name.
std::string bus_name_for_profile(std::string_view profile);

} // namespace hgw
