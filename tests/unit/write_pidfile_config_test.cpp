// Issue 9, item 4: --write-pidfile is refused, at start, for a command line
// Hermes would not recognise as a gateway. Hermes' status check believes
// the record the daemon writes only if the live command line of the process
// it names is a gateway's; otherwise it deletes gateway.pid and the held
// gateway.lock, and a second gateway can start.

#include "daemon/config.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace hgw;
using namespace hgw::daemon;

namespace {

// load_config over `args` after `hermes-gatewayd --config ''` (no file).
Config load_flags(std::vector<std::string> args)
{
    args.insert(args.begin(), {"hermes-gatewayd", "--config", ""});
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::optional<Config> c = load_config(static_cast<int>(args.size()), argv.data());
    REQUIRE(c);
    return *c;
}

std::vector<std::string> with_write_pidfile(const std::vector<std::string>& command)
{
    std::vector<std::string> args{"--write-pidfile", "--"};
    args.insert(args.end(), command.begin(), command.end());
    return args;
}

} // namespace

TEST_CASE("item 4: --write-pidfile with a command Hermes does not see as a gateway is refused, saying what would be",
          "[config][write-pidfile][item4]")
{
    const std::vector<std::vector<std::string>> refused = {
        {"/usr/bin/python3", "/opt/my-bot/main.py"},
        {"/usr/local/bin/start-gateway.sh"},
        {"hermes", "gateway", "start"}, // not run or restart
        {"hermes", "status"},
        {"/usr/bin/hermes-gatewayd"},   // not the gateway's executable name
    };
    for (const auto& command : refused) {
        INFO("command: " << command.front() << " (" << command.size() << " words)");
        try {
            load_flags(with_write_pidfile(command));
            FAIL("accepted");
        } catch (const Error& e) {
            const std::string what = e.what(), hint = e.hint();
            INFO(what << " / " << hint);
            CHECK(what.find("--write-pidfile") != std::string::npos);
            CHECK(what.find("would not recognise '" + command.front()) != std::string::npos);
            CHECK(hint.find("hermes [...] gateway run") != std::string::npos);
            CHECK(hint.find("gateway/run.py") != std::string::npos);
            CHECK(hint.find("hermes-gateway") != std::string::npos);
        }
    }
}

TEST_CASE("item 4: --write-pidfile accepts every command line shape Hermes recognises, without it anything goes",
          "[config][write-pidfile][item4]")
{
    const std::vector<std::vector<std::string>> accepted = {
        {"hermes", "gateway", "run"},
        {"/usr/bin/hermes", "gateway", "run", "--replace"},
        {"/opt/venv/bin/hermes", "--profile", "work", "gateway", "restart"},
        {"/usr/bin/python3", "-m", "hermes_cli.main", "gateway", "run"},
        {"/usr/bin/python3", "/srv/hermes-agent/gateway/run.py"},
        {"/opt/bots/hermes-gateway"},
    };
    for (const auto& command : accepted) {
        INFO("command: " << command.front() << " (" << command.size() << " words)");
        CHECK(load_flags(with_write_pidfile(command)).command == command);
    }
    // The check is for --write-pidfile only: a gateway that writes its own
    // record is judged by its own command line, not by ours.
    const Config c = load_flags({"--", "/usr/local/bin/start-gateway.sh"});
    CHECK_FALSE(c.write_pidfile);
    // The default command is Hermes' own.
    CHECK(load_flags({"--write-pidfile"}).command == std::vector<std::string>{"hermes", "gateway", "run"});
}
