#pragma once
// Unit files that stand between systemctl and our units: a file in a
// directory systemd reads before the package's, with our unit's name
// (Hermes' own `hermes gateway install` writes exactly that), or Hermes'
// unit of a profile, which runs a second gateway on our profile's home.
// Nothing tells a user otherwise: `systemctl --user restart hermes-gateway`
// just runs the other unit.

#include "cli/units/hermes_unit.h"
#include "cli/units/unit_places.h"

#include <filesystem>
#include <string>
#include <vector>

namespace hgw::cli {

struct ShadowFinding {
    std::filesystem::path path;
    GatewayUnit unit;
    bool shadows = true; // false: a unit of another name that runs beside ours
};

// What stands in the way of our unit for `profile` ("" for the default one)
// in `places`' scope. Unreadable files are reported too (kind Other).
std::vector<ShadowFinding> find_shadowing(const ScopePlaces& places, std::string_view profile);

// One paragraph per finding, each starting "warning: ", saying what to do.
std::string describe_findings(const std::vector<ShadowFinding>& findings, const ScopePlaces& places,
                              std::string_view profile);

// The unit file at `path`, read and parsed. Throws hgw::Error.
UnitFile read_unit_file(const std::filesystem::path& path);

} // namespace hgw::cli
