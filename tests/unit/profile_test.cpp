// Profile names to bus names: valid D-Bus names, one-to-one.

#include "core/profile.h"
#include "util/bus_names.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

#include <set>

using namespace hgw;

TEST_CASE("the default home owns org.hermes.Gateway1, a profile its own element", "[dbus][busname]")
{
    CHECK(bus_name_for_profile("") == HGW_BUS_NAME);
    CHECK(bus_name_for_profile("work") == HGW_BUS_NAME ".work");
    CHECK(bus_name_for_profile("my_bot") == HGW_BUS_NAME ".my_bot");
    // '-' is allowed in bus names (not in interface names): kept as it is.
    CHECK(bus_name_for_profile("my-bot") == HGW_BUS_NAME ".my-bot");
}

TEST_CASE("a profile starting with a digit gets a '_' in front", "[dbus][busname]")
{
    CHECK(profile_bus_element("2nd") == "_2nd");
    CHECK(bus_name_for_profile("0") == HGW_BUS_NAME "._0");
    CHECK(bus_name_for_profile("9-lives") == HGW_BUS_NAME "._9-lives");
}

TEST_CASE("distinct profiles never share a bus name", "[dbus][busname]")
{
    // These pairs would collide under a '-' -> '_' mapping.
    std::vector<std::string> profiles = {"a-b", "a_b", "ab", "1a", "_1a" /* invalid, below */, "a1", "x--y", "x__y", "x-_y"};
    std::set<std::string> names;
    std::size_t valid = 0;
    for (const auto& p : profiles) {
        if (!is_valid_profile_name(p))
            continue;
        ++valid;
        names.insert(bus_name_for_profile(p));
    }
    CHECK(valid == profiles.size() - 1);
    CHECK(names.size() == valid);
}

TEST_CASE("profile names follow Hermes' rule", "[dbus][busname]")
{
    CHECK(is_valid_profile_name("a"));
    CHECK(is_valid_profile_name("0"));
    CHECK(is_valid_profile_name(std::string(64, 'z')));
    CHECK_FALSE(is_valid_profile_name(""));
    CHECK_FALSE(is_valid_profile_name(std::string(65, 'z')));
    CHECK_FALSE(is_valid_profile_name("Work"));
    CHECK_FALSE(is_valid_profile_name("-x"));
    CHECK_FALSE(is_valid_profile_name("_x"));
    CHECK_FALSE(is_valid_profile_name("a.b"));
    CHECK_FALSE(is_valid_profile_name("a b"));
    CHECK_FALSE(is_valid_profile_name("caf\xc3\xa9"));

    CHECK_THROWS_AS(bus_name_for_profile("Work"), hgw::Error);
    CHECK_THROWS_AS(profile_bus_element(""), hgw::Error);
    CHECK_THROWS_WITH(bus_name_for_profile("a.b"), Catch::Contains("invalid profile name 'a.b'"));
}
