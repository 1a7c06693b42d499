// The pure parts of authorization through polkit: the request sent to
// CheckAuthorization, the reading of its answer, and what each answer
// means for a caller (the authorizer's choice between polkit and the
// daemon's own rule).

#include "dbus/authorizer.h"
#include "dbus/polkit_check.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>
#include <systemd/sd-bus-protocol.h>

#include <string>

using namespace hgw::bus;
using namespace std::chrono_literals;

namespace {

const AccessPolicy kPolicy{.daemon_uid = 990,
                           .allowed_group = gid_t{4242},
                           .group_name = "hermes",
                           .group_label = "hermes (gid 4242)"};
const Caller kMember{.uid = 1001, .groups = {100, 4242}};
const Caller kOther{.uid = 1002, .groups = {100}};

polkit::Answer answer(polkit::Verdict v, std::string error = {})
{
    polkit::Answer a;
    a.verdict = v;
    a.error = std::move(error);
    return a;
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("the subject is the caller's bus name, and interaction is asked for only when the call allows it",
          "[dbus][auth][polkit]")
{
    polkit::Subject s = polkit::subject_for(":1.42");
    CHECK(std::get<0>(s) == "system-bus-name");
    REQUIRE(std::get<1>(s).size() == 1);
    CHECK(std::get<1>(s).at("name").get<std::string>() == ":1.42");

    polkit::Request quiet{.sender = ":1.42", .action_id = HGW_POLKIT_ACTION_MANAGE, .details = {},
                          .allow_interaction = false};
    polkit::Request interactive = quiet;
    interactive.allow_interaction = true;
    CHECK(polkit::flags_for(quiet) == 0);
    CHECK(polkit::flags_for(interactive) == 1);
    // Below a client's usual 25 s without interaction; long enough to type
    // a password with it.
    CHECK(polkit::timeout_for(quiet) == 20s);
    CHECK(polkit::timeout_for(interactive) == 5min);
}

TEST_CASE("polkit's reply is read as authorized, challenge or not authorized", "[dbus][auth][polkit]")
{
    CHECK(polkit::interpret_reply(true, false, {}).verdict == polkit::Verdict::Authorized);
    CHECK(polkit::interpret_reply(false, true, {}).verdict == polkit::Verdict::Challenge);
    polkit::Answer no = polkit::interpret_reply(false, false, {});
    CHECK(no.verdict == polkit::Verdict::NotAuthorized);
    CHECK_FALSE(no.dismissed);
    CHECK(polkit::interpret_reply(false, false, {{"polkit.dismissed", "true"}}).dismissed);
}

TEST_CASE("no polkit on the bus is told apart from a polkit that fails", "[dbus][auth][polkit]")
{
    // The bus's answer when nobody owns the name and nothing activates it.
    CHECK(polkit::interpret_error(SD_BUS_ERROR_SERVICE_UNKNOWN, "The name is not activatable", 20s).verdict ==
          polkit::Verdict::Absent);

    polkit::Answer timeout = polkit::interpret_error(SD_BUS_ERROR_NO_REPLY, "Method call timed out", 20s);
    CHECK(timeout.verdict == polkit::Verdict::Failed);
    CHECK(timeout.error == "no answer from polkit within 20s (" SD_BUS_ERROR_NO_REPLY ": Method call timed out)");

    polkit::Answer refused = polkit::interpret_error("org.freedesktop.PolicyKit1.Error.NotAuthorized",
                                                     "Only trusted callers (e.g. uid 0 or an action owner) can ...",
                                                     20s);
    CHECK(refused.verdict == polkit::Verdict::Failed);
    CHECK(contains(refused.error, "org.freedesktop.PolicyKit1.Error.NotAuthorized: Only trusted callers"));

    polkit::Answer masked = polkit::interpret_error("org.freedesktop.systemd1.UnitMasked",
                                                    "Unit polkit.service is masked.", 20s);
    CHECK(masked.verdict == polkit::Verdict::Failed);
    CHECK(masked.error == "org.freedesktop.systemd1.UnitMasked: Unit polkit.service is masked"); // the period goes
}

TEST_CASE("each method needs its polkit action", "[dbus][auth][polkit]")
{
    CHECK(std::string(action_id(Action::Manage)) == HGW_POLKIT_ACTION_MANAGE);
    CHECK(std::string(action_id(Action::CleanPidFile)) == HGW_POLKIT_ACTION_CLEAN_PID_FILE);
}

TEST_CASE("what polkit's answer means for the caller", "[dbus][auth][polkit]")
{
    const char* action = HGW_POLKIT_ACTION_MANAGE;

    SECTION("authorized: allowed, whatever the daemon's own rule says")
    {
        CHECK_FALSE(decide(kPolicy, kOther, "Replace", action, false, answer(polkit::Verdict::Authorized)));
    }

    SECTION("no polkit on the bus: the daemon's own rule, with today's message")
    {
        CHECK_FALSE(decide(kPolicy, kMember, "Replace", action, false, answer(polkit::Verdict::Absent)));
        auto e = decide(kPolicy, kOther, "Replace", action, false, answer(polkit::Verdict::Absent));
        REQUIRE(e);
        CHECK(e->getName() == HGW_BUS_ERROR_ACCESS_DENIED);
        CHECK(e->getMessage() ==
              "uid 1002 may not call Replace: only root, uid 990 and group hermes (gid 4242) may change the gateway");
    }

    SECTION("a challenge without interaction allowed: InteractiveAuthorizationRequired, naming the action")
    {
        auto e = decide(kPolicy, kMember, "Stop", action, false, answer(polkit::Verdict::Challenge));
        REQUIRE(e);
        CHECK(e->getName() == SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED);
        CHECK(contains(e->getMessage(), "uid 1001 may not call Stop without authenticating for polkit action " +
                                            std::string(action)));
    }

    SECTION("a challenge with interaction allowed: no agent answered; AccessDenied")
    {
        auto e = decide(kPolicy, kOther, "Start", action, true, answer(polkit::Verdict::Challenge));
        REQUIRE(e);
        CHECK(e->getName() == HGW_BUS_ERROR_ACCESS_DENIED);
        CHECK(contains(e->getMessage(), "uid 1002 may not call Start: polkit action " + std::string(action) +
                                            " needs authentication, and no authentication agent"));
    }

    SECTION("not authorized, or dismissed: AccessDenied, naming the action")
    {
        auto e = decide(kPolicy, kOther, "CleanPidFile", HGW_POLKIT_ACTION_CLEAN_PID_FILE, true,
                        answer(polkit::Verdict::NotAuthorized));
        REQUIRE(e);
        CHECK(e->getName() == HGW_BUS_ERROR_ACCESS_DENIED);
        CHECK(e->getMessage() ==
              "uid 1002 may not call CleanPidFile: polkit action " HGW_POLKIT_ACTION_CLEAN_PID_FILE " is not granted");
        polkit::Answer dismissed = answer(polkit::Verdict::NotAuthorized);
        dismissed.dismissed = true;
        auto d = decide(kPolicy, kOther, "Replace", action, true, dismissed);
        REQUIRE(d);
        CHECK(contains(d->getMessage(), "(the authentication was dismissed)"));
    }

    SECTION("polkit failed: denied even to a member of the group (fail closed), saying why")
    {
        auto e = decide(kPolicy, kMember, "Restart", action, false,
                        answer(polkit::Verdict::Failed, "no answer from polkit within 20s"));
        REQUIRE(e);
        CHECK(e->getName() == HGW_BUS_ERROR_ACCESS_DENIED);
        CHECK(e->getMessage() == "uid 1001 may not call Restart: polkit did not decide on action " +
                                     std::string(action) +
                                     ": no answer from polkit within 20s; while polkit fails, only root and uid "
                                     "990 may change the gateway");
    }
}
