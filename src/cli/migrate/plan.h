#pragma once
// What `hermes-gatewayctl migrate` will do, worked out before anything is
// touched, so that --dry-run shows exactly what a real run does and a case
// it cannot handle is refused before the gateway stops.
//
// The supervision moves from Hermes' unit to ours with what Hermes' unit
// gave its gateway: the command (into gatewayd.conf, which all our units of
// the scope read; Hermes' --profile is left out, as the daemon gives each
// gateway its home through HERMES_HOME), and the environment and working
// directory (into a drop-in for our unit). For a system unit also its
// account (User=, Group=), the home made writable, and a D-Bus policy that
// lets that account own our bus names.

#include "cli/units/hermes_unit.h"
#include "cli/units/unit_places.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hgw::cli {

struct UnitState {
    bool enabled = false;
    bool active = false;
};

struct MigratePlan {
    UnitScope scope = UnitScope::User;
    std::string profile;
    std::string their_unit, our_unit;
    std::filesystem::path their_path;
    UnitState their_state;
    std::filesystem::path record_dir;  // the copy of their unit and the record
    std::filesystem::path dropin_path; // our unit's drop-in
    std::string dropin_text;
    std::filesystem::path config_file;
    std::optional<std::string> config_text; // gatewayd.conf as it will be; nothing: left as it is
    std::filesystem::path bus_policy_path;  // system scope, another account: its D-Bus policy
    std::string bus_policy_text;
    std::vector<std::string> steps; // for people, in order
};

// The plan for moving `their` (read from `their_path`, in state `state`) to
// our unit of `profile`. `config` is gatewayd.conf's text, if it exists.
// Throws hgw::Error, saying why and what to do, for a unit that is not
// Hermes', names another profile or home than ours would use, or a
// gatewayd.conf that already names another command.
MigratePlan make_migrate_plan(const ScopePlaces& places, std::string_view profile,
                              const std::filesystem::path& their_path, const GatewayUnit& their, UnitState state,
                              const std::optional<std::string>& config);

// `command = ["…", …]`, as gatewayd.conf reads it. Throws hgw::Error for an
// argument the format cannot hold (a '"', a '#' or a line break).
std::string config_command_line(const std::vector<std::string>& argv);

} // namespace hgw::cli
