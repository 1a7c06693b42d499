// The daemon's first promise: it starts the gateway, and a kill -9 of the
// gateway heals without ever hitting "PID file race lost".

#include "core/validation.h"
#include "support/bus_harness.h"

#include <catch2/catch.hpp>

#include <signal.h>

using namespace hgw;
using namespace hgw::test;

TEST_CASE("the daemon starts a gateway that validates as live, and reports it", "[daemon][smoke]")
{
    TempHome home;
    PrivateBus bus;
    GatewayDaemon daemon(bus, home);
    ManagerClient client(bus);

    auto status = client.status();
    CHECK(status.at("state").get<std::string>() == "running");
    CHECK(status.at("ready").get<bool>());
    auto pid = status.at("pid").get<std::uint32_t>();
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::Live);
    REQUIRE(v.record());
    CHECK(v.record()->pid == static_cast<pid_t>(pid));
}
