// hermes-gatewayctl's bus commands against a real hermes-gatewayd on a
// private bus: what they print, their exit codes (0 ok, 1 failed or timed
// out waiting, 3 not running, 4 no daemon, 5 permission denied, 8 generation
// mismatch), and profiles, whose daemons share a bus under their own names.

#include "core/validation.h"
#include "process/pidfd.h"
#include "support/bus_harness.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using Json = nlohmann::json;

namespace {

constexpr uid_t kNobody = 65534;


// The harness reads the daemon's notifications all along and stops it on
// destruction.
using Daemon = GatewayDaemon;

// hermes-gatewayctl SUBCOMMAND ARGS... --address BUS
std::vector<std::string> ctl_argv(const std::string& address, const std::string& subcommand,
                                  const std::vector<std::string>& args = {})
{
    std::vector<std::string> argv = {ctl_path(), subcommand};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--address");
    argv.push_back(address);
    return argv;
}

RunResult ctl(const PrivateBus& bus, const std::string& subcommand, const std::vector<std::string>& args = {},
              std::optional<uid_t> uid = {})
{
    SpawnOptions so;
    so.uid = uid;
    return run(ctl_argv(bus.address(), subcommand, args), so);
}

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// Position of the first line containing `needle` at or after `from`, or npos.
std::size_t line_with(const std::vector<std::string>& lines, const std::string& needle, std::size_t from = 0)
{
    for (std::size_t i = from; i < lines.size(); ++i)
        if (lines[i].find(needle) != std::string::npos)
            return i;
    return std::string::npos;
}

Json status_json(const PrivateBus& bus, const std::vector<std::string>& extra = {})
{
    std::vector<std::string> args = {"--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = ctl(bus, "status", args);
    INFO(r.output);
    REQUIRE((r.exit_code == 0 || r.exit_code == 3));
    return Json::parse(r.output);
}

// A child whose output (stdout and stderr) is read line by line while it
// runs, waiting on the pipe with poll.
class LineProcess {
public:
    explicit LineProcess(const std::vector<std::string>& argv)
    {
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            // Only async-signal-safe calls until exec: the parent may have threads.
            for (int sig = 1; sig < NSIG; ++sig)
                ::signal(sig, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::dup2(fds[1], 1);
            ::dup2(fds[1], 2);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        out_ = fds[0];
        pidfd_ = hgw::pidfd_open(pid_);
    }
    ~LineProcess()
    {
        if (pid_ > 0) {
            hgw::pidfd_send_signal(pidfd_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
        ::close(pidfd_);
    }
    LineProcess(const LineProcess&) = delete;
    LineProcess& operator=(const LineProcess&) = delete;

    // The next whole line, or nothing when the timeout passed or the output ended.
    std::optional<std::string> next_line(std::chrono::milliseconds timeout = kTimeout)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return line;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return std::nullopt;
            pollfd p{out_, POLLIN, 0};
            int n = ::poll(&p, 1, static_cast<int>(left.count()));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return std::nullopt;
            char buf[4096];
            ssize_t got = ::read(out_, buf, sizeof buf);
            if (got <= 0)
                return std::nullopt;
            buffer_.append(buf, static_cast<std::size_t>(got));
        }
    }

    // Sends `sig` and waits for the exit; the wait status, or nothing on timeout.
    std::optional<int> stop(int sig)
    {
        hgw::pidfd_send_signal(pidfd_, sig);
        pollfd p{pidfd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(kTimeout.count())) <= 0)
            return std::nullopt;
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    int pidfd_ = -1;
    std::string buffer_;
};

} // namespace

TEST_CASE("hermes-gatewayctl status shows the gateway as text and as JSON", "[daemon][ctl]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());
    Verdict v = validate(home.paths());
    REQUIRE(v.kind == VerdictKind::Live);
    const pid_t pid = v.record()->pid;

    RunResult text = ctl(bus, "status");
    INFO(text.output);
    CHECK(text.exit_code == 0);
    CHECK_THAT(text.output, Catch::Contains("State: running, ready"));
    CHECK_THAT(text.output, Catch::Contains("PID: " + std::to_string(pid) + "\n"));
    CHECK_THAT(text.output, Catch::Contains("hermes-gatewayd pid " + std::to_string(daemon.pid())));
    CHECK_THAT(text.output, Catch::Contains("Home: " + home.dir().string()));

    Json s = status_json(bus);
    CHECK(s.at("state") == "running");
    CHECK(s.at("ready") == true);
    CHECK(s.at("pid") == pid);
    CHECK(s.at("generation") == 1);
    CHECK(s.at("daemon_pid") == daemon.pid());
    CHECK(s.at("home") == home.dir().string());
    CHECK(s.at("command") == Json(stub_command()));
}

TEST_CASE("hermes-gatewayctl replace prints its progress then the new gateway", "[daemon][ctl]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());
    std::uint32_t old_pid = status_json(bus).at("pid");
    std::uint64_t generation = status_json(bus).at("generation");

    // Several times: the progress lines are the daemon's signals, and a
    // client that misses them does so only now and then.
    for (int round = 0; round < 3; ++round) {
        RunResult r = ctl(bus, "replace", {"--reason", "update"});
        INFO("round " << round << ":\n" << r.output);
        REQUIRE(r.exit_code == 0);
        Json s = status_json(bus);
        const std::uint32_t new_pid = s.at("pid");
        CHECK(new_pid != old_pid);
        CHECK(s.at("generation") == generation + 1);

        auto lines = lines_of(r.output);
        const std::string old_text = std::to_string(old_pid), new_text = std::to_string(new_pid);
        auto replacing = line_with(lines, "StateChanged: running -> replacing (update)");
        auto exited = line_with(lines, "GatewayExited: pid " + old_text + " exited with status 75", replacing);
        auto running = line_with(lines, "StateChanged: replacing -> running", exited);
        auto replaced = line_with(lines, "Replaced: pid " + old_text + " -> pid " + new_text + ", generation " +
                                             std::to_string(generation + 1) + " (update)",
                                  running);
        CHECK(replacing != std::string::npos);
        CHECK(exited != std::string::npos);
        CHECK(running != std::string::npos);
        CHECK(replaced != std::string::npos);
        REQUIRE_FALSE(lines.empty());
        CHECK(lines.back() == "replaced: pid " + new_text + ", generation " + std::to_string(generation + 1));

        Verdict v = validate(home.paths());
        CHECK(v.kind == VerdictKind::Live);
        CHECK(v.record()->pid == static_cast<pid_t>(new_pid));
        old_pid = new_pid;
        ++generation;
    }

    // A guard that no longer matches refuses, and changes nothing.
    RunResult stale = ctl(bus, "replace", {"--if-generation", std::to_string(generation - 1)});
    INFO(stale.output);
    CHECK(stale.exit_code == 8);
    CHECK_THAT(stale.output, Catch::Contains("generation has changed"));
    Json s = status_json(bus);
    CHECK(s.at("pid") == old_pid);
    CHECK(s.at("generation") == generation);

    // The current generation passes the guard; --json prints only the result.
    RunResult current = ctl(bus, "replace", {"--if-generation", std::to_string(generation), "--json"});
    INFO(current.output);
    REQUIRE(current.exit_code == 0);
    Json result = Json::parse(current.output);
    CHECK(result.at("result") == "replaced");
    CHECK(result.at("generation") == generation + 1);
    CHECK(result.at("pid") == status_json(bus).at("pid"));
    CHECK(result.at("pid") != old_pid);
}

TEST_CASE("hermes-gatewayctl stop start and wait-ready drive the gateway", "[daemon][ctl]")
{
    TempHome home;
    PrivateBus bus;
    // Ready only on READY=1, which comes a second after the start: a
    // wait-ready started before the gateway has something to wait for.
    Daemon daemon(bus, home, quick({"--readiness", "notify"}, {"--start-delay", "1"}));
    const std::uint64_t generation = status_json(bus).at("generation");

    RunResult stop = ctl(bus, "stop", {"--reason", "maintenance"});
    INFO(stop.output);
    REQUIRE(stop.exit_code == 0);
    CHECK_THAT(stop.output, Catch::Contains("StateChanged: running -> stopping (maintenance)"));
    CHECK(lines_of(stop.output).back() == "stopped");
    CHECK(validate(home.paths()).kind == VerdictKind::None);

    RunResult status = ctl(bus, "status");
    INFO(status.output);
    CHECK(status.exit_code == 3);
    CHECK_THAT(status.output, Catch::Contains("State: stopped"));
    Json s = status_json(bus);
    CHECK(s.at("state") == "stopped");
    CHECK(s.at("pid") == 0);

    RunResult short_wait = ctl(bus, "wait-ready", {"--timeout", "300ms"});
    INFO(short_wait.output);
    CHECK(short_wait.exit_code == 1);
    CHECK_THAT(short_wait.output, Catch::Contains("timed out") && Catch::Contains("stopped"));

    SpawnOptions capture;
    capture.capture_output = true;
    Child waiter = Child::spawn(ctl_argv(bus.address(), "wait-ready", {"--timeout", "30s"}), capture);

    RunResult start = ctl(bus, "start");
    INFO(start.output);
    REQUIRE(start.exit_code == 0);
    Json after = status_json(bus);
    const std::uint32_t pid = after.at("pid");
    CHECK(pid != 0);
    CHECK(after.at("generation") == generation + 1);
    CHECK(lines_of(start.output).back() ==
          "started: pid " + std::to_string(pid) + ", generation " + std::to_string(generation + 1));

    auto waited = waiter.wait();
    REQUIRE(waited);
    std::string waiter_output = waiter.output();
    INFO(waiter_output);
    CHECK(WIFEXITED(*waited));
    CHECK(WEXITSTATUS(*waited) == 0);
    CHECK_THAT(waiter_output,
               Catch::Contains("ready: pid " + std::to_string(pid) + ", generation " + std::to_string(generation + 1)));

    RunResult again = ctl(bus, "wait-ready", {"--timeout", "30s"});
    CHECK(again.exit_code == 0);
    CHECK(ctl(bus, "status").exit_code == 0);
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::Live);
    CHECK(v.record()->pid == static_cast<pid_t>(pid));
}

TEST_CASE("hermes-gatewayctl as another uid may read but gets exit 5 for changes", "[daemon][ctl][auth]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());
    Json before = status_json(bus);

    for (const char* command : {"replace", "restart", "start", "stop"}) {
        RunResult r = ctl(bus, command, {}, kNobody);
        INFO(command << ": " << r.output);
        CHECK(r.exit_code == 5);
        CHECK_THAT(r.output, Catch::Contains("permission denied") && Catch::Contains("uid 65534 may not call"));
    }
    RunResult status = ctl(bus, "status", {"--json"}, kNobody);
    INFO(status.output);
    CHECK(status.exit_code == 0);
    CHECK(Json::parse(status.output).at("pid") == before.at("pid"));

    Json after = status_json(bus);
    CHECK(after.at("pid") == before.at("pid"));
    CHECK(after.at("generation") == before.at("generation"));
    CHECK(after.at("state") == "running");
}

TEST_CASE("hermes-gatewayctl exits 4 when no daemon serves the bus", "[daemon][ctl]")
{
    PrivateBus bus; // nobody owns org.hermes.Gateway1 on it

    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"status"}, {"status", "--json"}, {"replace", "--reason", "update"}, {"stop"},
          {"start"}, {"wait-ready", "--timeout", "5s"}}) {
        RunResult r = ctl(bus, args.front(), std::vector<std::string>(args.begin() + 1, args.end()));
        INFO(args.front() << ": " << r.output);
        CHECK(r.exit_code == 4);
        CHECK_THAT(r.output, Catch::Contains("not running") && Catch::Contains(HGW_BUS_NAME));
    }

    // No bus at all behind the address. sdbus-c++ 1.2 leaks the sd_bus it
    // failed to start (Connection::openBus), which LeakSanitizer would turn
    // into another exit code in the sanitizer build: leaks are not what this
    // checks.
    TempHome empty;
    SpawnOptions no_leak_check;
    const char* asan = std::getenv("ASAN_OPTIONS");
    no_leak_check.env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + ":detect_leaks=0";
    RunResult r = run(ctl_argv("unix:path=" + (empty.dir() / "no-bus").string(), "status"), no_leak_check);
    INFO(r.output);
    CHECK(r.exit_code == 4);
}

TEST_CASE("a profile's daemon owns its own bus name next to the default one", "[daemon][ctl][profile]")
{
    PrivateBus bus;
    TempHome default_home;
    TempHome profile_home;
    Daemon main_daemon(bus, default_home, quick());
    Daemon profile_daemon(bus, profile_home, quick({"--profile", "work-bot"}));

    // Both names are owned, each by its own daemon.
    auto connection = bus.connect();
    auto driver = sdbus::createProxy(*connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    auto owner_pid = [&](const std::string& name) {
        std::uint32_t pid = 0;
        driver->callMethod("GetConnectionUnixProcessID").onInterface("org.freedesktop.DBus").withArguments(name).storeResultsTo(pid);
        return static_cast<pid_t>(pid);
    };
    CHECK(owner_pid(HGW_BUS_NAME) == main_daemon.pid());
    CHECK(owner_pid(HGW_BUS_NAME ".work-bot") == profile_daemon.pid());

    Json profile_status = status_json(bus, {"--profile", "work-bot"});
    CHECK(profile_status.at("home") == profile_home.dir().string());
    CHECK(profile_status.at("daemon_pid") == profile_daemon.pid());
    CHECK(profile_status.at("state") == "running");
    Json main_status = status_json(bus);
    CHECK(main_status.at("home") == default_home.dir().string());
    CHECK(main_status.at("daemon_pid") == main_daemon.pid());
    CHECK(main_status.at("pid") != profile_status.at("pid"));

    RunResult text = ctl(bus, "status", {"--profile", "work-bot"});
    INFO(text.output);
    CHECK(text.exit_code == 0);
    CHECK_THAT(text.output, Catch::Contains(HGW_BUS_NAME ".work-bot"));
    CHECK_THAT(text.output, Catch::Contains("PID: " + profile_status.at("pid").dump() + "\n"));

    // A watcher of the profile sees the profile's signals only.
    LineProcess watch(ctl_argv(bus.address(), "watch", {"--json", "--profile", "work-bot"}));
    auto banner = watch.next_line();
    REQUIRE(banner);
    REQUIRE_THAT(*banner, Catch::StartsWith("watching " HGW_BUS_NAME ".work-bot")); // subscribed

    RunResult main_replace = ctl(bus, "replace", {"--reason", "main-update"});
    INFO(main_replace.output);
    REQUIRE(main_replace.exit_code == 0);
    CHECK(status_json(bus, {"--profile", "work-bot"}).at("pid") == profile_status.at("pid"));
    CHECK(status_json(bus).at("pid") != main_status.at("pid"));

    RunResult profile_replace = ctl(bus, "replace", {"--profile", "work-bot", "--reason", "profile-update"});
    INFO(profile_replace.output);
    REQUIRE(profile_replace.exit_code == 0);
    CHECK_THAT(profile_replace.output, Catch::Contains("(profile-update)"));
    CHECK_THAT(profile_replace.output, !Catch::Contains("main-update"));
    Json profile_after = status_json(bus, {"--profile", "work-bot"});
    CHECK(profile_after.at("pid") != profile_status.at("pid"));
    CHECK(profile_after.at("generation") == profile_status.at("generation").get<std::uint64_t>() + 1);

    // Events come in order; the first Replaced must be the profile's.
    std::vector<Json> events;
    for (;;) {
        auto line = watch.next_line();
        INFO("watch output so far: " << events.size() << " events");
        REQUIRE(line);
        if (line->empty() || line->front() != '{')
            continue;
        events.push_back(Json::parse(*line));
        if (events.back().at("signal") == "Replaced")
            break;
    }
    const Json& replaced = events.back();
    CHECK(replaced.at("reason") == "profile-update");
    CHECK(replaced.at("old_pid") == profile_status.at("pid"));
    CHECK(replaced.at("new_pid") == profile_after.at("pid"));
    for (const Json& e : events) {
        INFO(e.dump());
        CHECK(e.value("reason", "") != "main-update");
        if (e.at("signal") == "GatewayExited")
            CHECK(e.at("pid") == profile_status.at("pid"));
    }
    CHECK(std::any_of(events.begin(), events.end(), [](const Json& e) {
        return e.at("signal") == "PropertiesChanged" && e.at("changed").contains("GatewayPID");
    }));

    auto stopped = watch.stop(SIGTERM);
    REQUIRE(stopped);
    CHECK(WIFEXITED(*stopped));
    CHECK(WEXITSTATUS(*stopped) == 0);
}
