// src/util/bus_names.h, the names every component uses, against the
// interface's definition (dbus/org.hermes.Gateway1.xml) and the files that
// are shipped with it: the header may not drift from what is promised.

#include "support/child_process.h"
#include "support/interface_xml.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace hgw::test;

namespace {

const std::string kXml = source_path("dbus/" HGW_BUS_NAME ".xml");

std::vector<std::string> sorted(std::vector<std::string> v)
{
    std::sort(v.begin(), v.end());
    return v;
}

// The first capture of `pattern` in `text`, or "" (and a failed check).
std::string capture(const std::string& text, const std::string& pattern)
{
    std::smatch m;
    bool found = std::regex_search(text, m, std::regex(pattern));
    INFO("pattern: " << pattern);
    CHECK(found);
    return found ? m[1].str() : "";
}

} // namespace

TEST_CASE("the header's members are the interface's, as dbus/org.hermes.Gateway1.xml defines it", "[dbus][vocabulary]")
{
    const auto members = interface_members(kXml, HGW_BUS_INTERFACE);
    INFO("members of " HGW_BUS_INTERFACE " in the XML:\n" << Catch::Detail::stringify(members));
    REQUIRE_FALSE(members.empty()); // the interface is there, under the header's name

    CHECK(member_names(members, "method") ==
          sorted({HGW_BUS_METHOD_GET_STATUS, HGW_BUS_METHOD_REPLACE, HGW_BUS_METHOD_RESTART, HGW_BUS_METHOD_START,
                  HGW_BUS_METHOD_STOP, HGW_BUS_METHOD_VALIDATE_PID_FILE, HGW_BUS_METHOD_CLEAN_PID_FILE,
                  HGW_BUS_METHOD_FLEET_HANDOVER}));
    CHECK(member_names(members, "signal") == sorted({HGW_BUS_SIGNAL_STATE_CHANGED, HGW_BUS_SIGNAL_REPLACED,
                                                     HGW_BUS_SIGNAL_GATEWAY_EXITED, HGW_BUS_SIGNAL_PID_FILE_REPAIRED,
                                                     HGW_BUS_SIGNAL_FLEET_ROLE_CHANGED}));
    CHECK(member_names(members, "property") ==
          sorted({HGW_BUS_PROPERTY_STATE, HGW_BUS_PROPERTY_PHASE, HGW_BUS_PROPERTY_JOB, HGW_BUS_PROPERTY_GATEWAY_PID,
                  HGW_BUS_PROPERTY_GENERATION, HGW_BUS_PROPERTY_STARTED_AT, HGW_BUS_PROPERTY_READY,
                  HGW_BUS_PROPERTY_RESTARTS, HGW_BUS_PROPERTY_LAST_EXIT, HGW_BUS_PROPERTY_PID_FILE,
                  HGW_BUS_PROPERTY_COMMAND, HGW_BUS_PROPERTY_FLEET_ROLE, HGW_BUS_PROPERTY_FLEET_LEADER,
                  HGW_BUS_PROPERTY_FLEET_DEADLINE}));
}

TEST_CASE("the header's bus name, path and errors are the ones the XML documents", "[dbus][vocabulary]")
{
    const std::string xml = read_source("dbus/" HGW_BUS_NAME ".xml");
    CHECK(capture(xml, R"(Bus name (\S+) for the default Hermes home)") == HGW_BUS_NAME);
    CHECK(capture(xml, R"(Object (/\S+)\.)") == HGW_BUS_PATH);
    CHECK(capture(xml, R"(<interface name="([^"]+)\")") == HGW_BUS_INTERFACE);

    // "Errors: <prefix>{A, B, ...}" in the XML's header comment.
    std::smatch m;
    REQUIRE(std::regex_search(xml, m, std::regex(R"(Errors: (\S+)\{([^}]*)\})")));
    CHECK(m[1].str() == HGW_BUS_ERROR_PREFIX);
    std::vector<std::string> documented;
    const std::string list = m[2].str();
    const std::regex word(R"([A-Za-z]+)");
    for (auto it = std::sregex_iterator(list.begin(), list.end(), word); it != std::sregex_iterator(); ++it)
        documented.push_back(HGW_BUS_ERROR_PREFIX + it->str());
    CHECK(sorted(documented) ==
          sorted({HGW_BUS_ERROR_ACCESS_DENIED, HGW_BUS_ERROR_BUSY, HGW_BUS_ERROR_TIMEOUT, HGW_BUS_ERROR_NOT_RUNNING,
                  HGW_BUS_ERROR_GENERATION_MISMATCH, HGW_BUS_ERROR_INVALID_ARGS, HGW_BUS_ERROR_START_FAILED,
                  HGW_BUS_ERROR_CANNOT_START, HGW_BUS_ERROR_FAILED}));
}

TEST_CASE("the shipped units and the activation file name the header's bus name", "[dbus][vocabulary]")
{
    for (const char* unit : {"units/hermes-gateway.service", "units/user/hermes-gateway.service"}) {
        INFO(unit);
        CHECK(capture(read_source(unit), R"((?:^|\n)BusName=(\S+))") == HGW_BUS_NAME);
    }
    CHECK(capture(read_source("dbus/" HGW_BUS_NAME ".service"), R"((?:^|\n)Name=(\S+))") == HGW_BUS_NAME);
}

TEST_CASE("the polkit policy defines the header's actions, owned by the service account", "[dbus][vocabulary][polkit]")
{
    const std::string policy = read_source("polkit/org.hermes.gateway1.policy");
    std::vector<std::string> ids;
    const std::regex action(R"(<action id="([^"]+)\")");
    for (auto it = std::sregex_iterator(policy.begin(), policy.end(), action); it != std::sregex_iterator(); ++it)
        ids.push_back((*it)[1].str());
    CHECK(sorted(ids) == sorted({HGW_POLKIT_ACTION_MANAGE, HGW_POLKIT_ACTION_CLEAN_PID_FILE}));
    for (const auto& id : ids)
        CHECK(id.rfind(HGW_POLKIT_ACTION_PREFIX, 0) == 0);
    // One owner per action: the account the shipped units run the daemon as,
    // which may then ask about other users and pass details.
    const std::string user = capture(read_source("units/hermes-gateway.service"), R"((?:^|\n)User=(\S+))");
    const std::regex owner(R"(<annotate key="org.freedesktop.policykit.owner">unix-user:([^<]+)</annotate>)");
    std::vector<std::string> owners;
    for (auto it = std::sregex_iterator(policy.begin(), policy.end(), owner); it != std::sregex_iterator(); ++it)
        owners.push_back((*it)[1].str());
    CHECK(owners == std::vector<std::string>(ids.size(), user));
    CHECK(capture(policy, R"(policykit.imply">([^<]+)<)") == HGW_POLKIT_ACTION_CLEAN_PID_FILE);

    // The shipped rule is about our actions, by the header's prefix.
    CHECK_THAT(read_source("polkit/hermes-gatewayd.rules"), Catch::Contains("\"" HGW_POLKIT_ACTION_PREFIX "\""));
}

TEST_CASE("the scripts' reader of the header, tests/support/bus_names.py, gives every name as C does",
          "[dbus][vocabulary]")
{
#define HGW_NAMED(macro) {#macro, macro}
    const std::map<std::string, std::string> header = {
        HGW_NAMED(HGW_BUS_NAME),
        HGW_NAMED(HGW_BUS_PATH),
        HGW_NAMED(HGW_BUS_INTERFACE),
        HGW_NAMED(HGW_BUS_METHOD_GET_STATUS),
        HGW_NAMED(HGW_BUS_METHOD_REPLACE),
        HGW_NAMED(HGW_BUS_METHOD_RESTART),
        HGW_NAMED(HGW_BUS_METHOD_START),
        HGW_NAMED(HGW_BUS_METHOD_STOP),
        HGW_NAMED(HGW_BUS_METHOD_VALIDATE_PID_FILE),
        HGW_NAMED(HGW_BUS_METHOD_CLEAN_PID_FILE),
        HGW_NAMED(HGW_BUS_METHOD_FLEET_HANDOVER),
        HGW_NAMED(HGW_BUS_OPTION_HANDOVER_TO),
        HGW_NAMED(HGW_BUS_SIGNAL_STATE_CHANGED),
        HGW_NAMED(HGW_BUS_SIGNAL_REPLACED),
        HGW_NAMED(HGW_BUS_SIGNAL_GATEWAY_EXITED),
        HGW_NAMED(HGW_BUS_SIGNAL_PID_FILE_REPAIRED),
        HGW_NAMED(HGW_BUS_SIGNAL_FLEET_ROLE_CHANGED),
        HGW_NAMED(HGW_BUS_PROPERTY_STATE),
        HGW_NAMED(HGW_BUS_PROPERTY_PHASE),
        HGW_NAMED(HGW_BUS_PROPERTY_JOB),
        HGW_NAMED(HGW_BUS_PROPERTY_GATEWAY_PID),
        HGW_NAMED(HGW_BUS_PROPERTY_GENERATION),
        HGW_NAMED(HGW_BUS_PROPERTY_STARTED_AT),
        HGW_NAMED(HGW_BUS_PROPERTY_READY),
        HGW_NAMED(HGW_BUS_PROPERTY_RESTARTS),
        HGW_NAMED(HGW_BUS_PROPERTY_LAST_EXIT),
        HGW_NAMED(HGW_BUS_PROPERTY_PID_FILE),
        HGW_NAMED(HGW_BUS_PROPERTY_COMMAND),
        HGW_NAMED(HGW_BUS_PROPERTY_FLEET_ROLE),
        HGW_NAMED(HGW_BUS_PROPERTY_FLEET_LEADER),
        HGW_NAMED(HGW_BUS_PROPERTY_FLEET_DEADLINE),
        HGW_NAMED(HGW_BUS_ERROR_PREFIX),
        HGW_NAMED(HGW_BUS_ERROR_ACCESS_DENIED),
        HGW_NAMED(HGW_BUS_ERROR_BUSY),
        HGW_NAMED(HGW_BUS_ERROR_TIMEOUT),
        HGW_NAMED(HGW_BUS_ERROR_NOT_RUNNING),
        HGW_NAMED(HGW_BUS_ERROR_GENERATION_MISMATCH),
        HGW_NAMED(HGW_BUS_ERROR_INVALID_ARGS),
        HGW_NAMED(HGW_BUS_ERROR_START_FAILED),
        HGW_NAMED(HGW_BUS_ERROR_CANNOT_START),
        HGW_NAMED(HGW_BUS_ERROR_FAILED),
        HGW_NAMED(HGW_POLKIT_ACTION_PREFIX),
        HGW_NAMED(HGW_POLKIT_ACTION_MANAGE),
        HGW_NAMED(HGW_POLKIT_ACTION_CLEAN_PID_FILE),
    };
#undef HGW_NAMED
    const std::string python = find_program("python3");
    REQUIRE_FALSE(python.empty());
    RunResult r = run({python, "-B", source_path("tests/support/bus_names.py"), "--shell"});
    INFO("bus_names.py --shell said:\n" << r.output);
    REQUIRE(r.exit_code == 0);
    // NAME=value, the value quoted only where the shell needs it (no name does).
    std::map<std::string, std::string> read;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);)
        if (auto eq = line.find('='); eq != std::string::npos)
            read[line.substr(0, eq)] = line.substr(eq + 1);
    // A name added to the header is missing above until it is added there too.
    CHECK(read == header);
}
