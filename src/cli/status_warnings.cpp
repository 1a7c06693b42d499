#include "cli/status_warnings.h"

#include "cli/output.h"
#include "cli/units/shadow.h"
#include "util/bus_names.h"

namespace hgw::cli {

namespace {

// The profile a bus name was made from (profile.h's mapping, backwards).
std::string profile_of(const std::string& bus_name)
{
    constexpr std::string_view base = HGW_BUS_NAME ".";
    if (!bus_name.starts_with(base))
        return {};
    std::string element = bus_name.substr(base.size());
    if (element.size() > 1 && element.front() == '_')
        element.erase(0, 1); // the '_' put before a leading digit
    return element;
}

} // namespace

void warn_about_shadowing_units(const BusRequest& request)
{
    if (request.target.kind == BusKind::Address)
        return;
    try {
        const ScopePlaces places = places_for(request.target.kind == BusKind::User ? UnitScope::User : UnitScope::System);
        const std::string profile = profile_of(request.target.bus_name);
        const std::vector<ShadowFinding> findings = find_shadowing(places, profile);
        if (!findings.empty())
            print_error(describe_findings(findings, places, profile));
    } catch (const std::exception&) {
        // A warning that cannot be worked out must not fail `status`.
    }
}

} // namespace hgw::cli
