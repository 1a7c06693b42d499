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

TEST_CASE("a first gateway that fails for good still ends the start: READY=1 with the reason", "[daemon][smoke][sd_notify]")
{
    // Under Type=notify, no READY=1 would hang `systemctl start` until its
    // timeout and then start the same failure again.
    TempHome home;
    PrivateBus bus;
    GatewayDaemon daemon(bus, home, {.daemon_args = {}, .gateway_args = {"--exit-code", "78"}, .wait_ready = false});
    REQUIRE(daemon.notifications().wait_for("READY=1"));
    bool failed_status = false;
    for (const auto& m : daemon.notifications().messages())
        failed_status |= m.find("READY=1") != std::string::npos && m.find("STATUS=failed") != std::string::npos &&
                         m.find("78") != std::string::npos;
    CHECK(failed_status);

    ManagerClient client(bus);
    auto status = client.status();
    CHECK(status.at("state").get<std::string>() == "failed");
    CHECK_THAT(status.at("failure_reason").get<std::string>(), Catch::Contains("78"));
    CHECK(validate(home.paths()).kind == VerdictKind::None);
}
