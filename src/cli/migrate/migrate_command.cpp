#include "cli/migrate/migrate_command.h"

#include "cli/migrate/plan.h"
#include "cli/migrate/record.h"
#include "cli/migrate/systemctl.h"
#include "cli/migrate/text_files.h"
#include "cli/migrate/undo.h"
#include "cli/output.h"
#include "cli/units/shadow.h"
#include "util/errors.h"

#include <unistd.h>

namespace hgw::cli {

namespace fs = std::filesystem;

namespace {

void print_steps(const std::string& title, const std::vector<std::string>& steps)
{
    std::string out = title + "\n";
    for (std::size_t i = 0; i < steps.size(); ++i)
        out += "  " + std::to_string(i + 1) + ". " + steps[i] + "\n";
    print_line_flushed(out.substr(0, out.size() - 1));
}

void refuse_if_migrated(const ScopePlaces& places, const std::string& our_unit)
{
    const fs::path record = record_file(places.state_dir / our_unit);
    if (const auto text = read_text(record)) {
        const MigrateRecord r = record_from_text(*text, record);
        throw Error("already migrated: " + r.their_unit + " was moved to " + r.our_unit + " at " + r.migrated_at +
                        " (its copy and " + record.filename().string() + " are in " + record.parent_path().string() +
                        ")",
                    "to go back to Hermes' unit: hermes-gatewayctl migrate --undo " +
                        std::string(scope_flag(places.scope)));
    }
}

fs::path find_their_unit(const ScopePlaces& places, const std::string& profile)
{
    const fs::path path = places.unit_dir / hermes_unit_name(profile);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error("no unit of Hermes' at " + path.string(),
                    "`hermes gateway install` writes it there; a profile's is found with --profile NAME, a system "
                    "unit (/etc/systemd/system) with --system");
    return path;
}

// The package's unit answers for ours: loaded from the package's file,
// and running when Hermes' was.
void check_ours(const ScopePlaces& places, const MigratePlan& plan)
{
    const std::string fragment = unit_property(places.scope, plan.our_unit, "FragmentPath");
    bool from_package = false;
    for (const fs::path& dir : places.package_dirs)
        from_package = from_package || fs::path(fragment).parent_path() == dir;
    if (!from_package)
        throw Error(plan.our_unit + " is loaded from " + (fragment.empty() ? "nowhere" : fragment) +
                        ", not from the package's file",
                    "is hermes-gatewayd installed? hermes-gatewayctl status says what shadows it");
    if (plan.their_state.active && !unit_active(places.scope, plan.our_unit))
        throw Error(plan.our_unit + " is not active after its start");
}

void execute(const ScopePlaces& places, const MigratePlan& plan, const std::optional<std::string>& config_before)
{
    const UnitScope scope = places.scope;
    const std::optional<std::string> their_text = read_text(plan.their_path);
    if (!their_text)
        throw Error(plan.their_path.string() + " disappeared while migrate ran");
    write_text(unit_copy(plan.record_dir, plan.their_unit), *their_text);
    const MigrateRecord record = record_of(plan, config_before);
    // From here on the record exists: an interrupted run is undone with --undo.
    write_text(record_file(plan.record_dir), record_to_text(record));
    try {
        if (plan.config_text)
            write_text(plan.config_file, *plan.config_text);
        write_text(plan.dropin_path, plan.dropin_text);
        if (!plan.bus_policy_path.empty())
            write_text(plan.bus_policy_path, plan.bus_policy_text);
        if (plan.their_state.active) {
            systemctl_ok(scope, {"stop", plan.their_unit}, "Hermes' unit is still as it was");
            // Never two gateways: ours starts only once theirs is down.
            if (unit_active(scope, plan.their_unit))
                throw Error(plan.their_unit + " is still " + unit_property(scope, plan.their_unit, "ActiveState") +
                            " after its stop");
        }
        if (plan.their_state.enabled)
            systemctl_ok(scope, {"disable", "--quiet", plan.their_unit}, "");
        if (std::error_code ec; !fs::remove(plan.their_path, ec) && ec)
            throw Error("cannot remove " + plan.their_path.string() + ": " + ec.message());
        systemctl_ok(scope, {"daemon-reload"}, "");
        enable_start(scope, plan.our_unit, plan.their_state.enabled, plan.their_state.active, "");
        check_ours(places, plan);
    } catch (const Error& e) {
        print_error("hermes-gatewayctl: migrate failed: " + describe(e) + "\nputting Hermes' unit back\n");
        undo_migration(places, plan.record_dir, record);
        throw Error("migrate failed, and Hermes' unit was put back", "see the messages above");
    }
}

int migrate(const MigrateRequest& r, const ScopePlaces& places)
{
    const std::string our_unit = our_unit_name(r.profile);
    refuse_if_migrated(places, our_unit);
    const fs::path their_path = find_their_unit(places, r.profile);
    const GatewayUnit their = read_gateway_unit(read_unit_file(their_path));
    const UnitState state{unit_enabled(places.scope, hermes_unit_name(r.profile)),
                          unit_active(places.scope, hermes_unit_name(r.profile))};
    const std::optional<std::string> config = read_text(places.config_file);
    const MigratePlan plan = make_migrate_plan(places, r.profile, their_path, their, state, config);
    print_steps("Moving the gateway from Hermes' unit " + plan.their_unit + " to hermes-gatewayd's " + plan.our_unit +
                    ":",
                plan.steps);
    if (r.dry_run) {
        print("Dry run: nothing was changed.\n");
        return 0;
    }
    execute(places, plan, config);
    print("Done: " + plan.our_unit + (state.active ? " runs the gateway" : " will run the gateway") +
          "; hermes-gatewayctl migrate --undo " + std::string(scope_flag(places.scope)) +
          (r.profile.empty() ? "" : " --profile " + r.profile) + " goes back.\n");
    const std::vector<ShadowFinding> left = find_shadowing(places, r.profile);
    if (!left.empty())
        print_error(describe_findings(left, places, r.profile));
    return 0;
}

} // namespace

int run_migrate(const MigrateRequest& r)
{
    try {
        const ScopePlaces places = places_for(r.system ? UnitScope::System : UnitScope::User);
        if (r.system && ::geteuid() != 0 && !r.dry_run)
            throw Error("migrate --system needs root", "it changes units in /etc/systemd/system: run it with sudo");
        return r.undo ? run_undo(places, r.profile, r.dry_run) : migrate(r, places);
    } catch (const Error& e) {
        print_error("hermes-gatewayctl: " + describe(e) + "\n");
    } catch (const std::exception& e) {
        print_error("hermes-gatewayctl: " + std::string(e.what()) + "\n");
    }
    return 1;
}

} // namespace hgw::cli
