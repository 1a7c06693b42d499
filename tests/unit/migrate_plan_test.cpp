// The plan `hermes-gatewayctl migrate` makes before it touches anything:
// what it carries over, and every case it refuses.

#include "cli/migrate/plan.h"
#include "cli/migrate/record.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

using namespace hgw;
using namespace hgw::cli;

namespace {

ScopePlaces user_places()
{
    ScopePlaces p;
    p.scope = UnitScope::User;
    p.unit_dir = "/home/a/.config/systemd/user";
    p.state_dir = "/home/a/.local/state/hermes-gatewayd/migrate";
    p.config_file = "/home/a/.config/hermes/gatewayd.conf";
    return p;
}

GatewayUnit unit(const std::string& exec, const std::string& env = "")
{
    return read_gateway_unit(parse_unit_file("[Service]\nExecStart=" + exec + "\n" + env));
}

const std::string kPython = "/home/a/venv/bin/python -m hermes_cli.main";

} // namespace

TEST_CASE("migrate plan: the default user unit", "[migrate]")
{
    const GatewayUnit g = unit(kPython + " gateway run", "Environment=\"HERMES_HOME=/home/a/.hermes\" \"X=1%\"\n");
    const MigratePlan p = make_migrate_plan(user_places(), "", "/home/a/.config/systemd/user/hermes-gateway.service",
                                            g, {true, true}, std::nullopt);
    CHECK(p.our_unit == "hermes-gateway.service");
    CHECK(p.record_dir == "/home/a/.local/state/hermes-gatewayd/migrate/hermes-gateway.service");
    CHECK(p.dropin_path == "/home/a/.config/systemd/user/hermes-gateway.service.d/50-migrated-from-hermes.conf");
    CHECK_THAT(p.dropin_text, Catch::Contains("Environment=\"X=1%%\"\n"));
    CHECK_THAT(p.dropin_text, Catch::Contains("Environment=\"HERMES_HOME=/home/a/.hermes\"\n"));
    REQUIRE(p.config_text);
    CHECK_THAT(*p.config_text,
               Catch::EndsWith("command = [\"/home/a/venv/bin/python\", \"-m\", \"hermes_cli.main\", \"gateway\", \"run\"]\n"));
    CHECK(p.bus_policy_path.empty());
    // Theirs stops before ours starts.
    std::size_t stop = 0, start = 0;
    for (std::size_t i = 0; i < p.steps.size(); ++i) {
        if (p.steps[i].find(" stop hermes-gateway.service") != std::string::npos)
            stop = i;
        if (p.steps[i].find("enable --now hermes-gateway.service") != std::string::npos)
            start = i;
    }
    CHECK(stop > 0);
    CHECK(start > stop);
}

TEST_CASE("migrate plan: a profile's home becomes the template's root", "[migrate]")
{
    const GatewayUnit g =
        unit(kPython + " --profile work gateway run", "Environment=HERMES_HOME=/home/a/.hermes/profiles/work\n");
    const MigratePlan p = make_migrate_plan(user_places(), "work", "/x/hermes-gateway-work.service", g, {true, false},
                                            std::nullopt);
    CHECK(p.our_unit == "hermes-gateway@work.service");
    CHECK_THAT(p.dropin_text, Catch::Contains("Environment=\"HERMES_HOME=/home/a/.hermes\"\n"));
    CHECK_THAT(p.dropin_text, !Catch::Contains("profiles/work\""));
    // --profile is not carried: the daemon gives the gateway its home.
    CHECK_THAT(*p.config_text, !Catch::Contains("--profile"));
}

TEST_CASE("migrate plan: gatewayd.conf that already names the command is left alone", "[migrate]")
{
    const GatewayUnit g = unit("/usr/bin/hermes gateway run");
    const std::string conf = "restart-delay = 1s\n  command = [\"/usr/bin/hermes\", \"gateway\", \"run\"]\n";
    CHECK_FALSE(make_migrate_plan(user_places(), "", "/x/hermes-gateway.service", g, {}, conf).config_text);
    const std::string other = "# command = [\"x\"]\nlog-level = info";
    const auto p = make_migrate_plan(user_places(), "", "/x/hermes-gateway.service", g, {}, other);
    REQUIRE(p.config_text);
    CHECK_THAT(*p.config_text, Catch::StartsWith(other + "\n"));
}

TEST_CASE("migrate plan: refusals", "[migrate]")
{
    const auto plan = [](const GatewayUnit& g, const std::string& profile,
                         const std::optional<std::string>& conf = std::nullopt) {
        return make_migrate_plan(user_places(), profile, "/x/hermes-gateway.service", g, {true, true}, conf);
    };
    const auto refused = [&](auto&& call, const std::string& words) {
        try {
            call();
            FAIL("not refused: " << words);
        } catch (const Error& e) {
            CHECK_THAT(describe(e), Catch::Contains(words));
        }
    };
    refused([&] { plan(unit("/usr/sbin/hermes-gatewayd --user"), ""); }, "already runs hermes-gatewayd");
    refused([&] { plan(unit("/usr/bin/nginx"), ""); }, "is not Hermes' gateway unit");
    refused([&] { plan(unit(kPython + " -p work gateway run"), ""); }, "runs profile 'work'");
    refused([&] { plan(unit(kPython + " --profile play gateway run"), "work"); }, "not 'work'");
    refused([&] { plan(unit(kPython + " gateway run", "Environment=HERMES_HOME=/srv/bot\n"), "work"); },
            "not <root>/profiles/work");
    refused([&] { plan(unit("/usr/bin/hermes gateway run"), "", std::string("command = [\"other\"]\n")); },
            "already names another gateway command");
    refused([&] { plan(unit("/usr/bin/hermes gateway run --tag \"a#b\""), ""); }, "cannot be written");
    ScopePlaces system = user_places();
    system.scope = UnitScope::System;
    refused([&] { make_migrate_plan(system, "", "/x", unit("/usr/bin/hermes gateway run"), {}, std::nullopt); },
            "as root");
    refused([&] { make_migrate_plan(system, "w", "/x", unit("/usr/bin/hermes gateway run"), {}, std::nullopt); },
            "profile cannot be migrated");
}

TEST_CASE("migrate record: what undo needs survives the round trip", "[migrate]")
{
    const GatewayUnit g = unit("/usr/bin/hermes gateway run");
    const MigratePlan p = make_migrate_plan(user_places(), "", "/x/hermes-gateway.service", g, {true, false}, "a=1\n");
    const MigrateRecord r = record_from_text(record_to_text(record_of(p, std::string("a=1\n"))), "/r");
    CHECK(r.their_path == "/x/hermes-gateway.service");
    CHECK(r.their_state.enabled);
    CHECK_FALSE(r.their_state.active);
    CHECK(r.dropin_text == p.dropin_text);
    CHECK(r.config_before == "a=1\n");
    CHECK(r.config_after == p.config_text);
    CHECK_THROWS_AS(record_from_text("{}", "/r"), Error);
}
