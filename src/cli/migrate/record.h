#pragma once
// What `migrate` keeps so that `migrate --undo` can put everything back:
// a copy of Hermes' unit file and record.json, in the scope's state
// directory (~/.local/state/hermes-gatewayd/migrate/UNIT or
// /var/lib/hermes-gatewayd/migrate/UNIT). Its existence also means
// "already migrated".

#include "cli/migrate/plan.h"

#include <filesystem>
#include <optional>
#include <string>

namespace hgw::cli {

struct MigrateRecord {
    std::string their_unit, our_unit;
    std::filesystem::path their_path;
    UnitState their_state;
    std::filesystem::path dropin_path;
    std::string dropin_text;
    std::filesystem::path config_file;
    std::optional<std::string> config_before; // nothing: there was no file
    std::optional<std::string> config_after;  // nothing: migrate left it alone
    std::filesystem::path bus_policy_path;    // empty: none written
    std::string bus_policy_text;
    std::string migrated_at; // UTC, for people
};

MigrateRecord record_of(const MigratePlan& plan, const std::optional<std::string>& config_before);

std::filesystem::path record_file(const std::filesystem::path& record_dir);
// Where the copy of Hermes' unit is kept.
std::filesystem::path unit_copy(const std::filesystem::path& record_dir, const std::string& their_unit);

std::string record_to_text(const MigrateRecord& record);
// Throws hgw::Error for a record that cannot be read.
MigrateRecord record_from_text(const std::string& text, const std::filesystem::path& file);

} // namespace hgw::cli
