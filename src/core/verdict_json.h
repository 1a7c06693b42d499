#pragma once
// Machine-readable forms of verdicts and records, for --json output and for
// the D-Bus evidence dictionaries.

#include "core/pidfile.h"
#include "core/validation.h"

#include <nlohmann/json.hpp>

namespace hgw {

nlohmann::ordered_json record_to_json(const PidRecord& record);
nlohmann::ordered_json verdict_to_json(const Verdict& verdict, const HomePaths& paths);
nlohmann::ordered_json clean_to_json(const CleanOutcome& outcome, const HomePaths& paths);

} // namespace hgw
