// A test that crashes leaves no host behind: its namespace, veth pairs and
// the processes in it (even one it did not spawn to die with it, as a
// daemon's gateway) go with it. The crashing test is this binary run again
// on a hidden test case, then SIGKILLed. Needs root.

#include "helpers/needs_root.h"
#include "process/pidfd.h"
#include "support/netns_host.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

using namespace hgw::test;

namespace {

constexpr const char* kHelperTag = "[netns-crash-helper]";

std::string field(const std::string& message, const std::string& key)
{
    std::istringstream lines(message);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(key + "=", 0) == 0)
            return line.substr(key.size() + 1);
    return {};
}

} // namespace

// Run only by the test below (hidden: "[.]"): makes a host, starts a process
// in it that does not die with us, says so on NOTIFY_SOCKET, then waits to
// be killed.
TEST_CASE("netns host: the crashing half of the crash test", "[.][netns-crash-helper]")
{
    if (!std::getenv("NOTIFY_SOCKET"))
        return;
    NetnsHost host("crashing");
    SpawnOptions so;
    so.netns_fd = host.netns_fd(); // and not die_with_parent: a stand-in for a daemon's gateway
    Child orphan = Child::spawn({"/bin/sleep", "infinity"}, so);
    const std::string message =
        "READY=1\nINTERFACE=" + host.interface(Link::cluster) + "\nORPHAN=" + std::to_string(orphan.pid());
    REQUIRE(sd_notify(0, message.c_str()) > 0);
    ::pause();
}

TEST_CASE("netns host: a test that crashes leaves no host behind", "[fleet][netns][root]")
{
    if (!needs_root("makes network namespaces and veth pairs (CAP_SYS_ADMIN, CAP_NET_ADMIN)"))
        return;
    TempHome dir;
    NotifyListener notify((dir.dir() / "notify.sock").string());
    SpawnOptions so;
    so.env["NOTIFY_SOCKET"] = notify.path();
    so.output_file = (dir.dir() / "helper.log").string();
    Child helper = Child::spawn({std::filesystem::read_symlink("/proc/self/exe").string(), kHelperTag}, so);
    auto at = notify.find_text("READY=1", 0);
    if (!at)
        FAIL("the helper made no host; its output:\n" << dir.read("helper.log"));
    const std::string message = notify.messages()[*at];
    const std::string interface = field(message, "INTERFACE");
    const pid_t orphan_pid = std::stoi(field(message, "ORPHAN"));
    hgw::UniqueFd orphan(hgw::pidfd_open(orphan_pid)); // alive: the helper waits, so it is still the orphan
    REQUIRE(orphan);
    REQUIRE(run({ip_command(), "link", "show", "dev", interface}).exit_code == 0);

    helper.signal(SIGKILL);
    REQUIRE(helper.wait());
    CHECK(wait_readable(orphan.get(), kTimeout)); // killed by the reaper in the namespace
    // The kernel frees a namespace, and its veth pairs, in the background:
    // asked again until it has.
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (run({ip_command(), "link", "show", "dev", interface}).exit_code == 0) {
        if (std::chrono::steady_clock::now() > deadline)
            FAIL(interface << " is still there " << kTimeout.count() << " ms after the test that made it died");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}
