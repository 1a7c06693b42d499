#include "cli/migrate/undo.h"

#include "cli/migrate/systemctl.h"
#include "cli/migrate/text_files.h"
#include "cli/output.h"
#include "util/errors.h"

namespace hgw::cli {

namespace fs = std::filesystem;

namespace {

void take_back(const fs::path& path, const std::string& written)
{
    if (!remove_if_holds(path, written))
        print_error("hermes-gatewayctl: " + path.string() + " changed since migrate wrote it: kept\n");
}

void put_back_config(const MigrateRecord& r)
{
    if (!r.config_after)
        return;
    const std::optional<std::string> now = read_text(r.config_file);
    if (now != r.config_after) {
        print_error("hermes-gatewayctl: " + r.config_file.string() +
                    " changed since migrate added the gateway command to it: kept; take out the command line "
                    "it added if Hermes' unit should be the only one to name it\n");
        return;
    }
    if (r.config_before)
        write_text(r.config_file, *r.config_before);
    else
        take_back(r.config_file, *r.config_after);
}

void put_back_their_unit(const fs::path& record_dir, const MigrateRecord& r)
{
    const std::optional<std::string> copy = read_text(unit_copy(record_dir, r.their_unit));
    if (!copy)
        throw Error("the copy of Hermes' unit is missing from " + record_dir.string(),
                    "`hermes gateway install` writes the unit anew");
    const std::optional<std::string> now = read_text(r.their_path);
    if (now && *now != *copy)
        throw Error(r.their_path.string() + " exists again and differs from the copy migrate kept",
                    "it was left alone; the copy is " + unit_copy(record_dir, r.their_unit).string());
    if (!now)
        write_text(r.their_path, *copy);
}

void forget(const fs::path& record_dir, const MigrateRecord& r)
{
    std::error_code ec;
    fs::remove(record_file(record_dir), ec);
    fs::remove(unit_copy(record_dir, r.their_unit), ec);
    fs::remove(record_dir, ec);
}

} // namespace

void undo_migration(const ScopePlaces& places, const fs::path& record_dir, const MigrateRecord& r)
{
    const UnitScope scope = places.scope;
    systemctl_ok(scope, {"disable", "--quiet", "--now", r.our_unit}, "hermes-gatewayd's unit could not be stopped");
    if (unit_active(scope, r.our_unit))
        throw Error(r.our_unit + " is still " + unit_property(scope, r.our_unit, "ActiveState") + " after its stop",
                    "Hermes' unit was not started, so that two gateways never run");
    take_back(r.dropin_path, r.dropin_text);
    std::error_code ec;
    fs::remove(r.dropin_path.parent_path(), ec); // only if empty
    put_back_config(r);
    if (!r.bus_policy_path.empty())
        take_back(r.bus_policy_path, r.bus_policy_text);
    put_back_their_unit(record_dir, r);
    systemctl_ok(scope, {"daemon-reload"}, "");
    enable_start(scope, r.their_unit, r.their_state.enabled, r.their_state.active,
                 "Hermes' unit is back in place; start it by hand");
    forget(record_dir, r);
}

int run_undo(const ScopePlaces& places, const std::string& profile, bool dry_run)
{
    const fs::path record_dir = places.state_dir / our_unit_name(profile);
    const std::optional<std::string> text = read_text(record_file(record_dir));
    if (!text)
        throw Error("nothing to undo: no migration of " + our_unit_name(profile) + " is recorded (" +
                        record_file(record_dir).string() + ")",
                    "for a profile give --profile NAME; for the system unit --system");
    const MigrateRecord r = record_from_text(*text, record_file(record_dir));
    const std::string sc = places.scope == UnitScope::User ? "systemctl --user" : "systemctl";
    std::string out = "Going back from hermes-gatewayd's " + r.our_unit + " to Hermes' unit " + r.their_unit +
                      " (migrated at " + r.migrated_at + "):\n";
    out += "  1. " + sc + " disable --now " + r.our_unit + ", and check that it is inactive\n";
    out += "  2. remove " + r.dropin_path.string() + (r.config_after ? ", take the command out of " + r.config_file.string() : "") +
           (r.bus_policy_path.empty() ? "" : ", remove " + r.bus_policy_path.string()) + "\n";
    out += "  3. put " + r.their_path.string() + " back from " + record_dir.string() + ", " + sc + " daemon-reload\n";
    if (r.their_state.enabled || r.their_state.active)
        out += std::string("  4. ") + sc + (r.their_state.enabled ? " enable" : "") +
               (r.their_state.enabled && r.their_state.active ? " --now" : r.their_state.active ? " start" : "") + " " +
               r.their_unit + "\n";
    print(out);
    if (dry_run) {
        print("Dry run: nothing was changed.\n");
        return 0;
    }
    undo_migration(places, record_dir, r);
    print("Done: " + r.their_unit + " is back" + (r.their_state.active ? " and runs the gateway" : "") + ".\n");
    return 0;
}

} // namespace hgw::cli
