#include "cli/units/shadow.h"

#include "util/errors.h"

#include <fstream>
#include <sstream>

namespace hgw::cli {

namespace fs = std::filesystem;

namespace {

// A file that is there and is not a mask (a link to /dev/null).
bool present(const fs::path& path)
{
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec)))
        return false;
    return !(fs::is_symlink(fs::symlink_status(path, ec)) && fs::read_symlink(path, ec) == "/dev/null");
}

void consider(const fs::path& path, bool shadows, std::vector<ShadowFinding>& out)
{
    if (!present(path))
        return;
    ShadowFinding f{path, {}, shadows};
    try {
        f.unit = read_gateway_unit(read_unit_file(path));
    } catch (const Error&) {
        f.unit.kind = UnitKind::Other; // unreadable: still in the way
    }
    if (shadows || f.unit.kind == UnitKind::Hermes)
        out.push_back(std::move(f));
}

std::string migrate_command(const ScopePlaces& places, std::string_view profile)
{
    return "hermes-gatewayctl migrate " + std::string(scope_flag(places.scope)) +
           (profile.empty() ? "" : " --profile " + std::string(profile));
}

} // namespace

UnitFile read_unit_file(const fs::path& path)
{
    std::ifstream in(path);
    if (!in)
        throw Error("cannot read " + path.string(), "check that it exists and that you may read it");
    std::ostringstream text;
    text << in.rdbuf();
    return parse_unit_file(text.str());
}

std::vector<ShadowFinding> find_shadowing(const ScopePlaces& places, std::string_view profile)
{
    std::vector<ShadowFinding> out;
    for (const fs::path& dir : places.shadowing_dirs) {
        consider(dir / our_unit_file_name(profile), true, out);
        if (!profile.empty())
            consider(dir / our_unit_name(profile), true, out);
    }
    if (!profile.empty())
        consider(places.unit_dir / hermes_unit_name(profile), false, out);
    return out;
}

std::string describe_findings(const std::vector<ShadowFinding>& findings, const ScopePlaces& places,
                              std::string_view profile)
{
    const std::string ours = our_unit_name(profile);
    const std::string systemctl = places.scope == UnitScope::User ? "systemctl --user" : "systemctl";
    std::string out;
    for (const ShadowFinding& f : findings) {
        out += "warning: " + f.path.string() + " " + describe_exec(f.unit) + ".\n";
        if (!f.shadows) {
            out += "  It is Hermes' own unit for this profile: started beside " + ours +
                   ", two gateways would share one home. Move it over: " + migrate_command(places, profile) + "\n";
        } else if (f.unit.kind == UnitKind::Hermes) {
            out += "  It shadows the package's " + ours + ": '" + systemctl + " start " + ours +
                   "' runs Hermes' unit, not hermes-gatewayd. Move it over: " + migrate_command(places, profile) +
                   "\n";
        } else if (f.unit.kind == UnitKind::Ours) {
            out += "  It shadows the package's " + ours +
                   " (a copy of it?): changes the package makes to the unit do not apply while it is there.\n";
        } else {
            out += "  It shadows the package's " + ours + ": '" + systemctl + " start " + ours +
                   "' runs it, not hermes-gatewayd.\n";
        }
    }
    return out;
}

} // namespace hgw::cli
