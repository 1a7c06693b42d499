// The D-Bus layer's pure parts: the options dictionary of Replace, Restart,
// Start and Stop, and the daemon's own access rule.

#include "dbus/access_policy.h"
#include "dbus/bus_errors.h"
#include "dbus/options.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>

using namespace hgw;
using namespace hgw::bus;

namespace {

// The sdbus::Error that `f` throws; fails the test if it throws none.
template <typename F>
sdbus::Error error_of(F&& f)
{
    try {
        f();
    } catch (const sdbus::Error& e) {
        return e;
    }
    FAIL("no sdbus::Error was thrown");
    return sdbus::Error("none");
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("an empty options map gives the defaults", "[dbus][options]")
{
    daemon::OpOptions o = parse_op_options({});
    CHECK(o.reason.empty());
    CHECK_FALSE(o.timeout.has_value());
    CHECK_FALSE(o.if_generation.has_value());
}

TEST_CASE("reason, timeout_usec and if_generation are read with their D-Bus types", "[dbus][options]")
{
    VariantMap m;
    m["reason"] = std::string("update to 0.9");
    m["timeout_usec"] = std::uint64_t{2'500'000};
    m["if_generation"] = std::uint64_t{7};
    daemon::OpOptions o = parse_op_options(m);
    CHECK(o.reason == "update to 0.9");
    REQUIRE(o.timeout.has_value());
    CHECK(*o.timeout == std::chrono::microseconds(2'500'000));
    REQUIRE(o.if_generation.has_value());
    CHECK(*o.if_generation == 7);
}

TEST_CASE("FleetHandover takes to, the host to lead next, beside the options of Stop, and refuses an empty or non-string to",
          "[dbus][options]")
{
    CHECK(parse_handover_options({}).to.empty());
    VariantMap m;
    m[HGW_BUS_OPTION_HANDOVER_TO] = std::string("host-b");
    m["reason"] = std::string("kernel update");
    HandoverOptions o = parse_handover_options(m);
    CHECK(o.to == "host-b");
    CHECK(o.op.reason == "kernel update");

    m[HGW_BUS_OPTION_HANDOVER_TO] = std::string();
    sdbus::Error empty = error_of([&] { parse_handover_options(m); });
    CHECK(empty.getName() == HGW_BUS_ERROR_INVALID_ARGS);
    CHECK(contains(empty.getMessage(), "names no host"));

    m[HGW_BUS_OPTION_HANDOVER_TO] = std::uint32_t{2};
    CHECK(error_of([&] { parse_handover_options(m); }).getMessage() ==
          "option 'to' must be of type s (string), not 'u'");
    // The other methods know no such option.
    m[HGW_BUS_OPTION_HANDOVER_TO] = std::string("host-b");
    CHECK(error_of([&] { parse_op_options(m); }).getName() == HGW_BUS_ERROR_INVALID_ARGS);
    // An unknown key to FleetHandover names its own option among those it knows.
    m["towards"] = std::string("host-b");
    CHECK_THAT(error_of([&] { parse_handover_options(m); }).getMessage(),
               Catch::Contains("unknown option 'towards'") && Catch::Contains("to (s), reason (s)"));
}

TEST_CASE("timeout_usec 0 means the daemon's default and if_generation 0 is a real generation", "[dbus][options]")
{
    VariantMap m;
    m["timeout_usec"] = std::uint64_t{0};
    m["if_generation"] = std::uint64_t{0};
    daemon::OpOptions o = parse_op_options(m);
    CHECK_FALSE(o.timeout.has_value());
    REQUIRE(o.if_generation.has_value());
    CHECK(*o.if_generation == 0);
}

TEST_CASE("an unknown option is InvalidArgs naming the key", "[dbus][options]")
{
    VariantMap m;
    m["reason"] = std::string("ok");
    m["timeout"] = std::uint64_t{5}; // the key is timeout_usec
    sdbus::Error e = error_of([&] { parse_op_options(m); });
    CHECK(e.getName() == HGW_BUS_ERROR_INVALID_ARGS);
    CHECK(contains(e.getMessage(), "unknown option 'timeout'"));
    CHECK(contains(e.getMessage(), "timeout_usec (t)"));
}

TEST_CASE("an option of the wrong type is InvalidArgs naming the key and both types", "[dbus][options]")
{
    SECTION("timeout_usec as u, as busctl users might type it")
    {
        VariantMap m;
        m["timeout_usec"] = std::uint32_t{5'000'000};
        sdbus::Error e = error_of([&] { parse_op_options(m); });
        CHECK(e.getName() == HGW_BUS_ERROR_INVALID_ARGS);
        CHECK(e.getMessage() == "option 'timeout_usec' must be of type t (uint64), not 'u'");
    }
    SECTION("if_generation as a string")
    {
        VariantMap m;
        m["if_generation"] = std::string("3");
        sdbus::Error e = error_of([&] { parse_op_options(m); });
        CHECK(e.getName() == HGW_BUS_ERROR_INVALID_ARGS);
        CHECK(e.getMessage() == "option 'if_generation' must be of type t (uint64), not 's'");
    }
    SECTION("reason as an integer")
    {
        VariantMap m;
        m["reason"] = std::int32_t{1};
        sdbus::Error e = error_of([&] { parse_op_options(m); });
        CHECK(e.getName() == HGW_BUS_ERROR_INVALID_ARGS);
        CHECK(e.getMessage() == "option 'reason' must be of type s (string), not 'i'");
    }
}

TEST_CASE("a reason longer than the cap and a timeout beyond microseconds' range are refused", "[dbus][options]")
{
    VariantMap m;
    m["reason"] = std::string(kMaxReasonBytes, 'x');
    CHECK(parse_op_options(m).reason.size() == kMaxReasonBytes);

    m["reason"] = std::string(kMaxReasonBytes + 1, 'x');
    sdbus::Error e = error_of([&] { parse_op_options(m); });
    CHECK(e.getName() == HGW_BUS_ERROR_INVALID_ARGS);
    CHECK(contains(e.getMessage(), "'reason'"));

    VariantMap t;
    t["timeout_usec"] = std::numeric_limits<std::uint64_t>::max();
    e = error_of([&] { parse_op_options(t); });
    CHECK(e.getName() == HGW_BUS_ERROR_INVALID_ARGS);
    CHECK(contains(e.getMessage(), "'timeout_usec' is too large"));
}

TEST_CASE("root and the daemon's own uid may always change the gateway", "[dbus][auth]")
{
    AccessPolicy p{.daemon_uid = 1000, .allowed_group = std::nullopt, .group_name = {}, .group_label = {}};
    CHECK(may_change(p, Caller{.uid = 0, .groups = {}}));
    CHECK(may_change(p, Caller{.uid = 1000, .groups = {}}));
    CHECK_FALSE(may_change(p, Caller{.uid = 1001, .groups = {1000, 0}})); // no group configured
}

TEST_CASE("members of the allowed group may change the gateway, others may not", "[dbus][auth]")
{
    AccessPolicy p{.daemon_uid = 0,
                   .allowed_group = gid_t{4242},
                   .group_name = "hermes",
                   .group_label = "hermes (gid 4242)"};
    CHECK(may_change(p, Caller{.uid = 1001, .groups = {100, 4242}}));
    CHECK(may_change(p, Caller{.uid = 1001, .groups = {4242}}));
    CHECK_FALSE(may_change(p, Caller{.uid = 1001, .groups = {100, 4243}}));
    CHECK_FALSE(may_change(p, Caller{.uid = 1001, .groups = {}}));
    CHECK_FALSE(may_change(p, Caller{.uid = 4242, .groups = {}})); // a uid equal to the gid is no member
}

TEST_CASE("the denial message names the caller, the method and who may", "[dbus][auth]")
{
    AccessPolicy both{.daemon_uid = 1000,
                      .allowed_group = gid_t{4242},
                      .group_name = "hermes",
                      .group_label = "hermes (gid 4242)"};
    CHECK(denial_message(both, 1001, "Replace") ==
          "uid 1001 may not call Replace: only root, uid 1000 and group hermes (gid 4242) may change the gateway");

    AccessPolicy root_only{.daemon_uid = 0, .allowed_group = std::nullopt, .group_name = {}, .group_label = {}};
    CHECK(denial_message(root_only, 65534, "Stop") == "uid 65534 may not call Stop: only root may change the gateway");

    AccessPolicy root_and_group{
        .daemon_uid = 0, .allowed_group = gid_t{4242}, .group_name = {}, .group_label = "4242"};
    CHECK(denial_message(root_and_group, 65534, "Start") ==
          "uid 65534 may not call Start: only root and group 4242 may change the gateway");
}

TEST_CASE("the policy labels the group by name when the group database knows it", "[dbus][auth]")
{
    // gid 0 is "root" on every Linux system.
    CHECK(make_access_policy(gid_t{0}, 1000).group_label == "root (gid 0)");
    CHECK(make_access_policy(std::nullopt, 1000).group_label.empty());
    // A gid without a name is shown by number.
    CHECK(make_access_policy(gid_t{4242424}, 1000).group_label == "4242424");
    CHECK(make_access_policy(std::nullopt, 1000).daemon_uid == 1000);
}

TEST_CASE("groups_of_user reads the user database, primary group included", "[dbus][auth]")
{
    std::vector<gid_t> root_groups = groups_of_user(0);
    CHECK(std::find(root_groups.begin(), root_groups.end(), gid_t{0}) != root_groups.end());
    // No passwd entry, no groups: such a caller is judged by uid alone.
    CHECK(groups_of_user(3'999'999'999u).empty());
}

TEST_CASE("guard_handler turns any exception into an sdbus::Error and lets sdbus::Error through", "[dbus][errors]")
{
    sdbus::Error e = error_of([] { guard_handler("GetStatus", []() -> int { throw std::runtime_error("disk on fire"); }); });
    CHECK(e.getName() == HGW_BUS_ERROR_FAILED);
    CHECK(e.getMessage() == "GetStatus: disk on fire");

    e = error_of([] { guard_handler("Clean", []() -> int { throw hgw::Error("cannot read", "check permissions"); }); });
    CHECK(e.getName() == HGW_BUS_ERROR_FAILED);
    CHECK(contains(e.getMessage(), "cannot read"));
    CHECK(contains(e.getMessage(), "check permissions"));

    e = error_of([] { guard_handler("Stop", []() -> int { throw sdbus::Error(HGW_BUS_ERROR_ACCESS_DENIED, "no"); }); });
    CHECK(e.getName() == HGW_BUS_ERROR_ACCESS_DENIED);
    CHECK(e.getMessage() == "no");

    e = error_of([] { guard_handler("Start", []() -> int { throw 42; }); });
    CHECK(e.getName() == HGW_BUS_ERROR_FAILED);

    CHECK(guard_handler("Ready", [] { return 7; }) == 7);
}

TEST_CASE("operation errors map to their named D-Bus errors", "[dbus][errors]")
{
    using daemon::OpError;
    auto name_of = [](OpError err) { return to_bus_error(daemon::OpResult{err, "m", 0, 0}).getName(); };
    CHECK(name_of(OpError::Busy) == HGW_BUS_ERROR_BUSY);
    CHECK(name_of(OpError::Timeout) == HGW_BUS_ERROR_TIMEOUT);
    CHECK(name_of(OpError::NotRunning) == HGW_BUS_ERROR_NOT_RUNNING);
    CHECK(name_of(OpError::GenerationMismatch) == HGW_BUS_ERROR_GENERATION_MISMATCH);
    CHECK(name_of(OpError::StartFailed) == HGW_BUS_ERROR_START_FAILED);
    CHECK(name_of(OpError::Failed) == HGW_BUS_ERROR_FAILED);
    CHECK(to_bus_error(daemon::OpResult{OpError::Busy, "a replace runs", 0, 0}).getMessage() == "a replace runs");
}
