#pragma once
// Running systemctl for one scope, as `migrate` needs: synchronous (stop
// and start return once their job is done), its error messages passed
// through to ours, its output captured for the queries.

#include "cli/units/unit_places.h"

#include <string>
#include <string_view>
#include <vector>

namespace hgw::cli {

struct SystemctlResult {
    int status = 0; // the exit status; 127: it could not run
    std::string out;
};

SystemctlResult systemctl(UnitScope scope, const std::vector<std::string>& args);

// The same; throws hgw::Error naming the command and `why` when it fails.
std::string systemctl_ok(UnitScope scope, const std::vector<std::string>& args, std::string_view why);

// Enables `unit` if `enable`, starts it if `start` (both: enable --now).
// Throws as systemctl_ok.
void enable_start(UnitScope scope, const std::string& unit, bool enable, bool start, std::string_view why);

bool unit_enabled(UnitScope scope, const std::string& unit);
// Not inactive or failed: running, starting, stopping, reloading.
bool unit_active(UnitScope scope, const std::string& unit);
std::string unit_property(UnitScope scope, const std::string& unit, const std::string& property);

} // namespace hgw::cli
