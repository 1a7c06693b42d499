// The D-Bus layer on a real, private dbus-daemon: authorization of real
// callers running as other uids and groups (setpriv) on a bus without
// polkit, exception conversion at the handler boundary, and the bus names
// profiles map to.

#include "dbus/authorizer.h"
#include "dbus/bus_errors.h"
#include "core/profile.h"
#include "support/bus_harness.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <tuple>

using namespace hgw;
using namespace hgw::bus;
using namespace hgw::test;

namespace {

// A server object whose method Change is guarded by an Authorizer, served
// by sdbus-c++'s own loop thread. Change is asynchronous, as the daemon's
// methods are: the Authorizer may answer later, once polkit has. On these
// private buses polkit is absent, so the daemon's own rule decides.
class AuthServer {
public:
    AuthServer(const std::string& address, AccessPolicy policy)
        : connection_(sdbus::createSessionBusConnectionWithAddress(address))
        , authorizer_(*connection_, std::move(policy), "t.Auth")
        , object_(sdbus::createObject(*connection_, "/t"))
    {
        sdbus::IObject* object = object_.get();
        object_->registerMethod("Change").onInterface("t.Auth").implementedAs(
            [this, object](sdbus::Result<std::string>&& result) {
                auto reply = std::make_shared<sdbus::Result<std::string>>(std::move(result));
                authorizer_.authorize(*object->getCurrentlyProcessedMessage(), "Change", Action::Manage,
                                      [reply](const std::optional<sdbus::Error>& denial) {
                                          if (denial)
                                              reply->returnError(*denial);
                                          else
                                              reply->returnResults(std::string("changed"));
                                      });
            });
        // What the authorizer reads of a call: its sender and whether it
        // allows interactive authorization (polkit's AllowUserInteraction).
        object_->registerMethod("CallInfo").onInterface("t.Auth").implementedAs([object] {
            CallInfo info = call_info(*object->getCurrentlyProcessedMessage());
            return std::make_tuple(info.sender, info.allow_interaction);
        });
        object_->registerMethod("Explode").onInterface("t.Auth").implementedAs([] {
            return guard_handler("Explode", []() -> std::string { throw std::runtime_error("boom"); });
        });
        object_->finishRegistration();
        connection_->requestName("t.Auth");
        connection_->enterEventLoopAsync();
    }
    ~AuthServer() { connection_->leaveEventLoop(); }

private:
    std::unique_ptr<sdbus::IConnection> connection_;
    Authorizer authorizer_;
    std::unique_ptr<sdbus::IObject> object_;
};

// Calls t.Auth.<method> as the credentials setpriv sets up (none: as root).
// run() execs without a PATH search, hence the full paths.
RunResult call_as(const PrivateBus& bus, std::vector<std::string> setpriv_args, const std::string& method)
{
    std::vector<std::string> argv;
    if (!setpriv_args.empty()) {
        argv.push_back("/usr/bin/setpriv");
        argv.insert(argv.end(), setpriv_args.begin(), setpriv_args.end());
    }
    std::vector<std::string> send = {"/usr/bin/dbus-send", "--bus=" + bus.address(), "--print-reply",
                                     "--dest=t.Auth", "/t",                     "t.Auth." + method};
    argv.insert(argv.end(), send.begin(), send.end());
    return run(argv);
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

constexpr gid_t kGroup = 4242; // has no name: shown by number

} // namespace

TEST_CASE("a caller of another uid is denied with AccessDenied and root is allowed", "[dbus][auth][bus]")
{
    PrivateBus bus;
    AuthServer server(bus.address(), make_access_policy(kGroup, 0));

    RunResult root = call_as(bus, {}, "Change");
    CHECK(root.exit_code == 0);
    CHECK(contains(root.output, "\"changed\""));

    RunResult nobody = call_as(bus, {"--reuid=65534", "--regid=65534", "--clear-groups"}, "Change");
    CHECK(nobody.exit_code != 0);
    CHECK(contains(nobody.output, std::string("Error ") + HGW_BUS_ERROR_ACCESS_DENIED +
                                      ": uid 65534 may not call Change: only root and group 4242 may change the gateway"));
}

TEST_CASE("a caller in the allowed group is allowed, as primary or supplementary group", "[dbus][auth][bus]")
{
    PrivateBus bus;
    AuthServer server(bus.address(), make_access_policy(kGroup, 0));
    const std::string g = std::to_string(kGroup);

    RunResult supplementary = call_as(bus, {"--reuid=65534", "--regid=65534", "--groups=100," + g}, "Change");
    CHECK(supplementary.exit_code == 0);
    CHECK(contains(supplementary.output, "\"changed\""));

    RunResult primary = call_as(bus, {"--reuid=65534", "--regid=" + g, "--clear-groups"}, "Change");
    CHECK(primary.exit_code == 0);
    CHECK(contains(primary.output, "\"changed\""));

    // The same uid without the group is turned away: the group decides.
    RunResult other = call_as(bus, {"--reuid=65534", "--regid=65534", "--groups=100"}, "Change");
    CHECK(other.exit_code != 0);
    CHECK(contains(other.output, HGW_BUS_ERROR_ACCESS_DENIED));
}

TEST_CASE("the daemon's own uid is allowed without any group", "[dbus][auth][bus]")
{
    PrivateBus bus;
    // As if the daemon ran as uid 1 ("daemon" on Debian) with no group
    // configured. dbus-daemon refuses uids without a passwd entry, so the
    // uid must be a real user.
    AuthServer server(bus.address(), make_access_policy(std::nullopt, 1));

    RunResult own = call_as(bus, {"--reuid=1", "--regid=1", "--clear-groups"}, "Change");
    INFO(own.output);
    CHECK(own.exit_code == 0);
    CHECK(contains(own.output, "\"changed\""));

    RunResult other = call_as(bus, {"--reuid=65534", "--regid=65534", "--clear-groups"}, "Change");
    CHECK(other.exit_code != 0);
    CHECK(contains(other.output, "uid 65534 may not call Change: only root and uid 1 may change the gateway"));
}

TEST_CASE("the call's allow-interactive-authorization flag is read as the caller set it", "[dbus][auth][bus]")
{
    PrivateBus bus;
    AuthServer server(bus.address(), make_access_policy(std::nullopt, 0));
    for (const std::string flag : {"yes", "no"}) {
        INFO("--allow-interactive-authorization=" << flag);
        RunResult r = run({"/usr/bin/busctl", "--address=" + bus.address(), "--allow-interactive-authorization=" + flag,
                           "call", "t.Auth", "/t", "t.Auth", "CallInfo"});
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        // "sb \":1.N\" true": the caller's unique name and the flag.
        CHECK(contains(r.output, "sb \":1."));
        CHECK(contains(r.output, flag == "yes" ? "\" true" : "\" false"));
    }
}

TEST_CASE("a handler's non-D-Bus exception reaches the caller as Failed and the server lives on", "[dbus][errors][bus]")
{
    PrivateBus bus;
    AuthServer server(bus.address(), make_access_policy(std::nullopt, 0));

    RunResult boom = call_as(bus, {}, "Explode");
    CHECK(boom.exit_code != 0);
    CHECK(contains(boom.output, std::string("Error ") + HGW_BUS_ERROR_FAILED + ": Explode: boom"));

    // Without the guard, sdbus-c++ 1.2 would have called std::terminate.
    RunResult after = call_as(bus, {}, "Change");
    CHECK(after.exit_code == 0);
    CHECK(contains(after.output, "\"changed\""));
}

TEST_CASE("every profile's bus name is accepted by a real bus", "[dbus][busname][bus]")
{
    PrivateBus bus;
    auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    for (const std::string profile : {"", "work", "my-bot", "my_bot", "2nd", "0", "9-lives", "a--b"}) {
        INFO("profile '" << profile << "'");
        CHECK_NOTHROW(connection->requestName(bus_name_for_profile(profile)));
    }
    CHECK_NOTHROW(connection->requestName(bus_name_for_profile(std::string(64, 'z'))));
    // Why the leading '_' is needed: the bus refuses an element that starts with a digit.
    CHECK_THROWS_AS(connection->requestName(HGW_BUS_NAME ".2nd"), sdbus::Error);
}
