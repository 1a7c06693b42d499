// --exit-on-failure, as the shipped units use it: instead of staying up in
// the failed state, the daemon exits (78 after the gateway's configuration
// error, else 1), so that systemd's Restart=, RestartPreventExitStatus=78
// and start limit decide, and `systemctl start` fails when no gateway could
// be started.
#include "daemon_helpers.h"

#include <catch2/catch.hpp>

#include <sys/wait.h>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::dh;
using namespace std::chrono_literals;

namespace {

bool is_exit(const std::optional<int>& status, int code)
{
    return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

std::string describe(const std::optional<int>& status)
{
    if (!status)
        return "still running";
    if (WIFEXITED(*status))
        return "exited " + std::to_string(WEXITSTATUS(*status));
    if (WIFSIGNALED(*status))
        return "killed by signal " + std::to_string(WTERMSIG(*status));
    return "status " + std::to_string(*status);
}

} // namespace

TEST_CASE("with --exit-on-failure a configuration error at the first start exits 78 and never says READY=1",
          "[daemon][supervision][exit-on-failure]")
{
    TempHome home;
    PrivateBus bus;
    const std::string fault = (home.dir() / "fault").string();
    home.write("fault", "exit 78");
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--exit-on-failure"},
                       .gateway_args = stub_args(home, {"--fault-file", fault}),
                       .wait_ready = false});

    auto status = daemon.process().wait();
    INFO(describe(status) << "; log:\n" << daemon.log());
    REQUIRE(is_exit(status, 78));
    // systemd sees the reason, and no READY=1: `systemctl start` fails. (A
    // READY=1 would have come with that STATUS=, in the same datagram.)
    auto& n = daemon.notify();
    auto failed = n.find(
        [](const std::string& m) {
            return notify_value(m, "STATUS").value_or("").find("status 78") != std::string::npos;
        },
        0);
    REQUIRE(failed);
    auto msgs = n.messages();
    for (std::size_t i = 0; i <= *failed; ++i)
        CHECK(msgs[i].find("READY=1") == std::string::npos);
    CHECK(daemon.log().find("exiting with status 78") != std::string::npos);
    CHECK(live_gateways(home.dir().string()).empty());
    CHECK(validate(home.paths()).kind == VerdictKind::None);
}

TEST_CASE("with --exit-on-failure a crash loop after a healthy run exits 1 and leaves no record",
          "[daemon][supervision][exit-on-failure]")
{
    TempHome home;
    PrivateBus bus;
    BusWatcher events(bus);
    const std::string fault = (home.dir() / "fault").string();
    TestDaemon daemon(bus, home,
                      {.daemon_args = {"--exit-on-failure", "--burst", "2", "--burst-window", "60s",
                                       "--restart-delay", "50ms"},
                       .gateway_args = stub_args(home, {"--fault-file", fault})});
    ManagerClient client(bus);
    const auto pid = static_cast<pid_t>(field<std::uint32_t>(client.status(), "pid"));

    // Every start from now on writes its record and crashes (exit 3).
    home.write("fault", "crash");
    events.skip_all();
    REQUIRE(PidWatch(pid).signal(SIGKILL));

    auto status = daemon.process().wait();
    INFO(describe(status) << "; log:\n" << daemon.log());
    REQUIRE(is_exit(status, 1));
    // The bus heard the failed state before the daemon left it.
    auto failed = events.next_state("failed");
    REQUIRE(failed);
    CHECK(failed->reason.find("crashed 3 times") != std::string::npos);
    CHECK(live_gateways(home.dir().string()).empty());
    CHECK(validate(home.paths()).kind == VerdictKind::None); // every crash's record was removed
    CHECK_FALSE(lost_a_race(stub_log(home)));
}
