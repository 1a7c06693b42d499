#pragma once
// Where the units of one scope live, and what Hermes and the package call
// them. Hermes' `hermes gateway install` writes hermes-gateway.service (a
// profile: hermes-gateway-PROFILE.service) into the directory of the
// administrator or the user, which systemd reads before the package's:
// a unit of the same name there shadows ours.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace hgw::cli {

enum class UnitScope { User, System };

struct ScopePlaces {
    UnitScope scope = UnitScope::User;
    // Where Hermes writes its unit: ~/.config/systemd/user or /etc/systemd/system.
    std::filesystem::path unit_dir;
    // Every directory whose unit files systemd prefers to the package's.
    std::vector<std::filesystem::path> shadowing_dirs;
    // Where the package installs ours.
    std::vector<std::filesystem::path> package_dirs;
    // What `migrate` keeps to undo itself.
    std::filesystem::path state_dir;
    // gatewayd.conf, which our units read.
    std::filesystem::path config_file;
};

// From $HOME and the XDG variables for the user scope.
ScopePlaces places_for(UnitScope scope);

// "--user" or "--system", for systemctl and for messages.
std::string_view scope_flag(UnitScope scope);

// hermes-gateway.service or hermes-gateway-PROFILE.service.
std::string hermes_unit_name(std::string_view profile);
// hermes-gateway.service or hermes-gateway@PROFILE.service.
std::string our_unit_name(std::string_view profile);
// The file ours is loaded from: hermes-gateway.service or hermes-gateway@.service.
std::string our_unit_file_name(std::string_view profile);

} // namespace hgw::cli
