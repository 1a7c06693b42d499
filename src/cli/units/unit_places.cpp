#include "cli/units/unit_places.h"

#include "core/home.h"

namespace hgw::cli {

namespace fs = std::filesystem;

ScopePlaces places_for(UnitScope scope)
{
    ScopePlaces p;
    p.scope = scope;
    if (scope == UnitScope::User) {
        p.unit_dir = xdg_dir("XDG_CONFIG_HOME", ".config") / "systemd" / "user";
        // systemd --user's search path, above the package's directory.
        p.shadowing_dirs = {p.unit_dir, "/etc/systemd/user", xdg_dir("XDG_DATA_HOME", ".local/share") / "systemd" / "user",
                            "/usr/local/lib/systemd/user"};
        p.package_dirs = {"/usr/lib/systemd/user", "/lib/systemd/user"};
        p.state_dir = xdg_dir("XDG_STATE_HOME", ".local/state") / "hermes-gatewayd" / "migrate";
        p.config_file = xdg_dir("XDG_CONFIG_HOME", ".config") / "hermes" / "gatewayd.conf";
    } else {
        p.unit_dir = "/etc/systemd/system";
        p.shadowing_dirs = {p.unit_dir, "/usr/local/lib/systemd/system"};
        p.package_dirs = {"/lib/systemd/system", "/usr/lib/systemd/system"};
        p.state_dir = "/var/lib/hermes-gatewayd/migrate";
        p.config_file = "/etc/hermes/gatewayd.conf";
    }
    return p;
}

std::string_view scope_flag(UnitScope scope)
{
    return scope == UnitScope::User ? "--user" : "--system";
}

std::string hermes_unit_name(std::string_view profile)
{
    return profile.empty() ? "hermes-gateway.service" : "hermes-gateway-" + std::string(profile) + ".service";
}

std::string our_unit_name(std::string_view profile)
{
    return profile.empty() ? "hermes-gateway.service" : "hermes-gateway@" + std::string(profile) + ".service";
}

std::string our_unit_file_name(std::string_view profile)
{
    return profile.empty() ? "hermes-gateway.service" : "hermes-gateway@.service";
}

} // namespace hgw::cli
