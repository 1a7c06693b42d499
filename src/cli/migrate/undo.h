#pragma once
// `hermes-gatewayctl migrate --undo`: our unit stopped and disabled first
// (never two gateways), then Hermes' unit put back as it was, enabled and
// running if it was. What migrate wrote is taken back only if it is still
// what migrate wrote; anything changed since is kept, and said so.

#include "cli/migrate/record.h"
#include "cli/units/unit_places.h"

#include <filesystem>
#include <string>

namespace hgw::cli {

// Puts back what `record` (kept in `record_dir`) says was changed. Throws
// hgw::Error if Hermes' unit cannot be put back.
void undo_migration(const ScopePlaces& places, const std::filesystem::path& record_dir, const MigrateRecord& record);

// The command: prints the steps, and with `dry_run` stops there.
int run_undo(const ScopePlaces& places, const std::string& profile, bool dry_run);

} // namespace hgw::cli
