// The D-Bus surface of hermes-gatewayd, seen from real clients on a real
// dbus-daemon: who may call what, what malformed calls get, whether the
// object the daemon serves is the one dbus/org.hermes.Gateway1.xml promises,
// what busctl gets back for every member, and the signals around a replace
// and a PID-file repair.
//
// Callers of another uid are real processes (busctl, or python3-dbus, which
// prints the D-Bus error name busctl does not show) run as uid 65534.

#include "core/validation.h"
#include "support/bus_harness.h"
#include "support/bus_watcher.h"
#include "support/interface_xml.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using Json = nlohmann::json;
using VariantMap = std::map<std::string, sdbus::Variant>;

namespace {

constexpr const char* kBusInvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
constexpr uid_t kNobody = 65534;      // in group nogroup (gid 65534)
// Debian's "daemon" (uid 1, gid 1), in no group the tests allow. (A uid
// without a passwd entry will not do: dbus-daemon drops its connection.)
constexpr uid_t kOtherUid = 1;
constexpr std::uint64_t kCallTimeoutUsec = 60'000'000;

// Short daemon timeouts keep the tests quick without changing what they test.

// The harness reads the daemon's notifications all along and stops it on
// destruction.
using Daemon = GatewayDaemon;

// ---- busctl ----

RunResult busctl(const PrivateBus& bus, const std::vector<std::string>& args, std::optional<uid_t> uid = {})
{
    std::vector<std::string> argv = {"/usr/bin/busctl", "--address=" + bus.address(), "--timeout=60"};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions so;
    so.uid = uid;
    return run(argv, so);
}

// `busctl --json=short call` on the Manager, parsed: {"type": SIG, "data": [...]}.
Json busctl_call(const PrivateBus& bus, const std::vector<std::string>& method_and_args)
{
    std::vector<std::string> args = {"--json=short", "call", HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE};
    args.insert(args.end(), method_and_args.begin(), method_and_args.end());
    RunResult r = busctl(bus, args);
    INFO("busctl call " << method_and_args.front() << ": " << r.output);
    REQUIRE(r.exit_code == 0);
    return Json::parse(r.output);
}

Json busctl_property(const PrivateBus& bus, const std::string& property, std::optional<uid_t> uid = {})
{
    RunResult r =
        busctl(bus, {"--json=short", "get-property", HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, property}, uid);
    INFO("busctl get-property " << property << ": " << r.output);
    REQUIRE(r.exit_code == 0);
    return Json::parse(r.output);
}

// ---- python3-dbus, for callers of another uid ----

// Prints "OK <reply as JSON>" or "ERROR <error name> <message>".
constexpr const char* kPyCall = R"PY(
import json, sys
import dbus
addr, dest, path, iface, member, sig, args = sys.argv[1:8]
def plain(v):  # dbus.Boolean is an int to json: make it a bool
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v
conn = dbus.bus.BusConnection(addr)
try:
    reply = conn.call_blocking(dest, path, iface, member, sig,
                               eval(args, {'dbus': dbus}), timeout=60)
except dbus.exceptions.DBusException as e:
    print('ERROR', e.get_dbus_name(), e.get_dbus_message() or '')
else:
    print('OK', json.dumps(plain(reply)))
)PY";

struct PyReply {
    bool ok = false;
    std::string error;   // the D-Bus error name
    std::string message; // the error message
    Json value;          // the reply, for ok
};

PyReply py_call(const PrivateBus& bus, std::optional<uid_t> uid, const std::string& iface, const std::string& member,
                const std::string& signature, const std::string& args_expr)
{
    SpawnOptions so;
    so.uid = uid;
    RunResult r = run({"/usr/bin/python3", "-I", "-c", kPyCall, bus.address(), HGW_BUS_NAME, HGW_BUS_PATH, iface,
                       member, signature, args_expr},
                      so);
    INFO("python3-dbus " << member << ": " << r.output);
    REQUIRE(r.exit_code == 0);
    PyReply reply;
    std::istringstream in(r.output);
    std::string word;
    in >> word;
    if (word == "OK") {
        reply.ok = true;
        std::string rest;
        std::getline(in, rest);
        reply.value = Json::parse(rest);
    } else {
        REQUIRE(word == "ERROR");
        in >> reply.error;
        std::getline(in, reply.message);
    }
    return reply;
}

PyReply manager_call(const PrivateBus& bus, std::optional<uid_t> uid, const std::string& member,
                     const std::string& signature = "", const std::string& args_expr = "[]")
{
    return py_call(bus, uid, HGW_BUS_INTERFACE, member, signature, args_expr);
}

// ---- sdbus calls as root that report the error ----

template <typename... Args>
std::optional<sdbus::Error> call_error(sdbus::IProxy& proxy, const std::string& method, const Args&... args)
{
    auto call = proxy.createMethodCall(HGW_BUS_INTERFACE, method);
    ((call << args), ...);
    try {
        proxy.callMethod(call, kCallTimeoutUsec);
    } catch (const sdbus::Error& e) {
        return e;
    }
    return std::nullopt;
}

std::uint32_t status_pid(ManagerClient& client) { return client.status().at("pid").get<std::uint32_t>(); }
std::uint64_t status_generation(ManagerClient& client) { return client.status().at("generation").get<std::uint64_t>(); }

// The gateway `pid` still runs and still is the one the record names.
void require_gateway_untouched(ManagerClient& client, const TempHome& home, std::uint32_t pid, std::uint64_t generation)
{
    auto s = client.status();
    CHECK(s.at("state").get<std::string>() == "running");
    CHECK(s.at("pid").get<std::uint32_t>() == pid);
    CHECK(s.at("generation").get<std::uint64_t>() == generation);
    CHECK(::kill(static_cast<pid_t>(pid), 0) == 0);
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::Live);
    REQUIRE(v.record());
    CHECK(v.record()->pid == static_cast<pid_t>(pid));
}

// ---- signals ----

// Waits until some signal the recorder heard satisfies `pred`; then all it
// heard so far.
std::vector<BusEvent> wait_for(BusWatcher& recorder, const std::function<bool(const BusEvent&)>& pred)
{
    auto events = recorder.wait_any(pred);
    INFO("events so far: " << BusWatcher::describe(recorder.all()));
    REQUIRE(events);
    return *events;
}

auto is_signal(const std::string& name, std::vector<std::string> args)
{
    return [name, args = std::move(args)](const BusEvent& e) { return e.member == name && e.args == args; };
}

// Index of the first event satisfying `pred`, or events.size().
std::size_t index_of(const std::vector<BusEvent>& events, const std::function<bool(const BusEvent&)>& pred)
{
    return static_cast<std::size_t>(std::find_if(events.begin(), events.end(), pred) - events.begin());
}

// A PID no process has: a child of ours that has exited and been reaped.
pid_t dead_pid()
{
    Child c = Child::spawn({"/bin/true"});
    REQUIRE(c.wait());
    return c.pid();
}

} // namespace

// ---------------------------------------------------------------- authorization

TEST_CASE("a caller of another uid may read but not change the gateway", "[daemon][dbus][dbus-api][auth]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());
    ManagerClient client(bus);
    const auto pid = status_pid(client);
    const auto generation = status_generation(client);
    REQUIRE(pid > 0);

    for (const char* method : {"Replace", "Restart", "Start", "Stop"}) {
        PyReply r = manager_call(bus, kNobody, method, "a{sv}", "[{'reason': 'not yours'}]");
        INFO(method << ": " << r.error << " " << r.message);
        CHECK_FALSE(r.ok);
        CHECK(r.error == HGW_BUS_ERROR_ACCESS_DENIED);
        CHECK_THAT(r.message, Catch::Contains("uid 65534 may not call " + std::string(method)));
    }
    PyReply clean = manager_call(bus, kNobody, "CleanPidFile");
    CHECK(clean.error == HGW_BUS_ERROR_ACCESS_DENIED);
    CHECK_THAT(clean.message, Catch::Contains("uid 65534 may not call CleanPidFile"));

    // Refused before the options are looked at: a refused caller learns
    // nothing from option errors.
    PyReply bad_options = manager_call(bus, kNobody, "Replace", "a{sv}", "[{'no_such_option': dbus.Int32(1)}]");
    CHECK(bad_options.error == HGW_BUS_ERROR_ACCESS_DENIED);

    // busctl as that uid too: refused, with the daemon's explanation.
    RunResult stop =
        busctl(bus, {"call", HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, "Stop", "a{sv}", "0"}, kNobody);
    CHECK(stop.exit_code != 0);
    CHECK_THAT(stop.output, Catch::Contains("may not call Stop"));

    // Reads are open to everyone.
    PyReply status = manager_call(bus, kNobody, "GetStatus");
    REQUIRE(status.ok);
    CHECK(status.value.at("pid") == pid);
    CHECK(status.value.at("state") == "running");
    CHECK(status.value.at("ready") == true);
    PyReply verdict = manager_call(bus, kNobody, "ValidatePidFile");
    REQUIRE(verdict.ok);
    CHECK(verdict.value.at(0) == "live");
    CHECK(verdict.value.at(1).at("pid") == pid);
    PyReply state = py_call(bus, kNobody, "org.freedesktop.DBus.Properties", "Get", "ss",
                            "['" HGW_BUS_INTERFACE "', 'State']");
    REQUIRE(state.ok);
    CHECK(state.value == "running");
    PyReply all =
        py_call(bus, kNobody, "org.freedesktop.DBus.Properties", "GetAll", "s", "['" HGW_BUS_INTERFACE "']");
    REQUIRE(all.ok);
    CHECK(all.value.at("GatewayPID") == pid);
    CHECK(all.value.at("Generation") == generation);
    CHECK(busctl_property(bus, "GatewayPID", kNobody).at("data") == pid);

    require_gateway_untouched(client, home, pid, generation);
}

TEST_CASE("members of the allowed group may change the gateway and others may not", "[daemon][dbus][dbus-api][auth]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick({"--allowed-group", "nogroup"}));
    ManagerClient client(bus);
    const auto pid = status_pid(client);
    const auto generation = status_generation(client);

    // uid 1 runs with gid 1 only: not in nogroup.
    PyReply refused = manager_call(bus, kOtherUid, "Replace", "a{sv}", "[{}]");
    CHECK(refused.error == HGW_BUS_ERROR_ACCESS_DENIED);
    CHECK_THAT(refused.message, Catch::Contains("uid 1 may not call Replace") && Catch::Contains("nogroup"));
    require_gateway_untouched(client, home, pid, generation);

    // uid 65534 runs with gid 65534, nogroup: allowed.
    PyReply replaced = manager_call(bus, kNobody, "Replace", "a{sv}", "[{'reason': 'group member'}]");
    INFO(replaced.error << " " << replaced.message);
    REQUIRE(replaced.ok);
    const std::uint32_t new_pid = replaced.value.at(0);
    CHECK(new_pid != pid);
    CHECK(replaced.value.at(1) == generation + 1);
    require_gateway_untouched(client, home, new_pid, generation + 1);

    PyReply clean = manager_call(bus, kNobody, "CleanPidFile");
    REQUIRE(clean.ok);
    CHECK(clean.value == Json::array({false, "live"}));

    REQUIRE(manager_call(bus, kNobody, "Stop", "a{sv}", "[{}]").ok);
    CHECK(client.status().at("state").get<std::string>() == "stopped");
    CHECK(validate(home.paths()).kind == VerdictKind::None);
    PyReply started = manager_call(bus, kNobody, "Start", "a{sv}", "[{}]");
    REQUIRE(started.ok);
    require_gateway_untouched(client, home, started.value.at(0), generation + 2);
}

// ---------------------------------------------------------------- malformed calls

TEST_CASE("malformed options get InvalidArgs and wrong signatures a D-Bus error without harm", "[daemon][dbus][dbus-api][args]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());
    ManagerClient client(bus);
    const auto pid = status_pid(client);
    const auto generation = status_generation(client);
    auto& proxy = client.proxy();
    const std::string invalid_args = HGW_BUS_ERROR_INVALID_ARGS;

    struct Case {
        const char* method;
        VariantMap options;
        const char* names; // what the message must name
    };
    const std::vector<Case> cases = {
        {"Replace", {{"no_such_option", sdbus::Variant(std::string("x"))}}, "unknown option 'no_such_option'"},
        {"Restart", {{"no_such_option", sdbus::Variant(true)}}, "unknown option 'no_such_option'"},
        {"Start", {{"no_such_option", sdbus::Variant(std::uint64_t{1})}}, "unknown option 'no_such_option'"},
        {"Stop", {{"no_such_option", sdbus::Variant(std::string("x"))}}, "unknown option 'no_such_option'"},
        {"Replace", {{"timeout_usec", sdbus::Variant(std::string("5000000"))}}, "timeout_usec"},
        // Strict types: a u is not a t, even when the value would fit.
        {"Replace", {{"timeout_usec", sdbus::Variant(std::uint32_t{5000000})}}, "timeout_usec"},
        {"Restart", {{"if_generation", sdbus::Variant(std::string("1"))}}, "if_generation"},
        {"Stop", {{"if_generation", sdbus::Variant(std::int64_t{1})}}, "if_generation"},
        {"Stop", {{"reason", sdbus::Variant(std::int32_t{3})}}, "reason"},
        {"Replace", {{"reason", sdbus::Variant(std::string(2000, 'x'))}}, "reason"},
        // A valid option does not excuse an invalid one next to it.
        {"Stop", {{"reason", sdbus::Variant(std::string("ok"))}, {"timeout_usec", sdbus::Variant(std::string("1"))}},
         "timeout_usec"},
    };
    for (const auto& c : cases) {
        auto error = call_error(proxy, c.method, c.options);
        INFO(c.method << " with an option naming " << c.names);
        REQUIRE(error);
        CHECK(error->getName() == invalid_args);
        CHECK_THAT(error->getMessage(), Catch::Contains(c.names));
    }

    // Wrong signatures never reach the handlers.
    auto wrong = [&](const char* what, std::optional<sdbus::Error> error) {
        INFO(what);
        REQUIRE(error);
        CHECK(error->getName() == kBusInvalidArgs);
    };
    wrong("Replace(s)", call_error(proxy, "Replace", std::string("update")));
    wrong("Replace()", call_error(proxy, "Replace"));
    wrong("Restart(a{ss})", call_error(proxy, "Restart", std::map<std::string, std::string>{{"reason", "x"}}));
    wrong("Stop(u)", call_error(proxy, "Stop", std::uint32_t{1}));
    wrong("Start(a{sv}, s)", call_error(proxy, "Start", VariantMap{}, std::string("extra")));
    wrong("GetStatus(s)", call_error(proxy, "GetStatus", std::string("extra")));
    wrong("CleanPidFile(b)", call_error(proxy, "CleanPidFile", true));
    RunResult r = busctl(bus, {"call", HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, "Replace", "s", "update"});
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Catch::Contains("Invalid arguments 's'") && Catch::Contains("expecting 'a{sv}'"));

    // The daemon still answers, as the same process, with the same gateway.
    auto status = client.status();
    CHECK(status.at("daemon_pid").get<std::uint32_t>() == static_cast<std::uint32_t>(daemon.pid()));
    CHECK_FALSE(daemon.process().wait_exited_unreaped(std::chrono::milliseconds(0)));
    require_gateway_untouched(client, home, pid, generation);
}

// ---------------------------------------------------------------- introspection

TEST_CASE("the object on the bus is the interface of dbus/org.hermes.Gateway1.xml", "[daemon][dbus][dbus-api][introspect]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());

    RunResult r = busctl(bus, {"introspect", "--xml-interface", HGW_BUS_NAME, HGW_BUS_PATH});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    TempHome scratch;
    scratch.write("served.xml", r.output);

    auto promised = interface_members(source_path("dbus/" HGW_BUS_NAME ".xml"), HGW_BUS_INTERFACE);
    auto served = interface_members((scratch.dir() / "served.xml").string(), HGW_BUS_INTERFACE);

    // The contract itself, so that two empty lists cannot pass.
    auto count = [&](const char* kind) {
        return std::count_if(promised.begin(), promised.end(),
                             [&](const std::string& l) { return l.rfind(kind, 0) == 0; });
    };
    CHECK(count("method ") == 8);
    CHECK(count("property ") == 14);
    CHECK(count("signal ") == 5);
    for (const char* line : {"method Replace in=options:a{sv} out=pid:u,generation:t",
                             "method CleanPidFile in= out=removed:b,verdict:s",
                             "property LastExit type=(si) access=read emits=true",
                             "property PidFile type=s access=read emits=const",
                             "signal Replaced args=old_pid:u,new_pid:u,generation:t,reason:s"})
        CHECK(std::find(promised.begin(), promised.end(), line) != promised.end());

    CHECK(served == promised);
}

// ---------------------------------------------------------------- busctl

TEST_CASE("busctl gets the documented types from every method and property", "[daemon][dbus][dbus-api][busctl]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());
    ManagerClient client(bus);
    const std::uint32_t pid = status_pid(client);
    const std::uint64_t generation = status_generation(client);
    const Json command = stub_command();

    // GetStatus: every documented key, with its type.
    Json status = busctl_call(bus, {"GetStatus"});
    REQUIRE(status.at("type") == "a{sv}");
    const Json& s = status.at("data").at(0);
    const std::map<std::string, std::string> keys = {
        {"state", "s"},        {"pid", "u"},           {"generation", "t"},        {"ready", "b"},
        {"restarts", "u"},     {"last_exit_kind", "s"}, {"last_exit_status", "i"}, {"started_at_usec", "t"},
        {"status_text", "s"},  {"failure_reason", "s"}, {"pid_file", "s"},         {"home", "s"},
        {"command", "as"},     {"daemon_pid", "u"},     {"phase", "s"},            {"job", "s"},
        {"blocked_reason", "s"}, {"foreign_pid", "u"}};
    CHECK(s.size() == keys.size());
    for (const auto& [key, type] : keys) {
        INFO(key);
        REQUIRE(s.contains(key));
        CHECK(s.at(key).at("type") == type);
    }
    CHECK(s.at("state").at("data") == "running");
    CHECK(s.at("pid").at("data") == pid);
    CHECK(s.at("ready").at("data") == true);
    CHECK(s.at("daemon_pid").at("data") == daemon.pid());
    CHECK(s.at("home").at("data") == home.dir().string());
    CHECK(s.at("pid_file").at("data") == (home.dir() / "gateway.pid").string());
    CHECK(s.at("command").at("data") == command);

    Json verdict = busctl_call(bus, {"ValidatePidFile"});
    CHECK(verdict.at("type") == "sa{sv}");
    CHECK(verdict.at("data").at(0) == "live");
    const Json& evidence = verdict.at("data").at(1);
    CHECK(evidence.at("pid") == Json({{"type", "u"}, {"data", pid}}));
    CHECK(evidence.at("lock_held") == Json({{"type", "b"}, {"data", true}}));
    CHECK(evidence.at("summary").at("type") == "s");

    // A live record is never cleaned.
    CHECK(busctl_call(bus, {"CleanPidFile"}) == Json({{"type", "bs"}, {"data", {false, "live"}}}));
    CHECK(validate(home.paths()).kind == VerdictKind::Live);

    // Every property, with its type, agreeing with GetStatus.
    CHECK(busctl_property(bus, "State") == Json({{"type", "s"}, {"data", "running"}}));
    CHECK(busctl_property(bus, "GatewayPID") == Json({{"type", "u"}, {"data", pid}}));
    CHECK(busctl_property(bus, "Generation") == Json({{"type", "t"}, {"data", generation}}));
    Json started = busctl_property(bus, "StartedAt");
    CHECK(started.at("type") == "t");
    CHECK(started.at("data") == s.at("started_at_usec").at("data"));
    CHECK(started.at("data").get<std::uint64_t>() > 0);
    CHECK(busctl_property(bus, "Ready") == Json({{"type", "b"}, {"data", true}}));
    CHECK(busctl_property(bus, "Restarts") == Json({{"type", "u"}, {"data", 0}}));
    CHECK(busctl_property(bus, "LastExit") == Json({{"type", "(si)"}, {"data", {"", 0}}}));
    CHECK(busctl_property(bus, "PidFile") == Json({{"type", "s"}, {"data", (home.dir() / "gateway.pid").string()}}));
    CHECK(busctl_property(bus, "Command") == Json({{"type", "as"}, {"data", command}}));

    // The lifecycle methods with the argument forms of docs/dbus-api.md.
    Json replaced = busctl_call(bus, {"Replace", "a{sv}", "1", "reason", "s", "update"});
    CHECK(replaced.at("type") == "ut");
    const std::uint32_t pid2 = replaced.at("data").at(0);
    CHECK(pid2 != pid);
    CHECK(replaced.at("data").at(1) == generation + 1);
    CHECK(busctl_property(bus, "LastExit").at("data") == Json({"exited", 75})); // drained on SIGUSR1

    Json restarted = busctl_call(bus, {"Restart", "a{sv}", "3", "reason", "s", "update", "timeout_usec", "t",
                                       "120000000", "if_generation", "t", std::to_string(generation + 1)});
    CHECK(restarted.at("type") == "ut");
    const std::uint32_t pid3 = restarted.at("data").at(0);
    CHECK(pid3 != pid2);
    CHECK(restarted.at("data").at(1) == generation + 2);

    // Start of a running gateway answers at once with it.
    CHECK(busctl_call(bus, {"Start", "a{sv}", "0"}) == Json({{"type", "ut"}, {"data", {pid3, generation + 2}}}));

    RunResult stop = busctl(
        bus, {"call", HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, "Stop", "a{sv}", "1", "reason", "s", "maintenance"});
    CHECK(stop.exit_code == 0);
    CHECK(stop.output.empty()); // no out arguments
    CHECK(busctl_property(bus, "State").at("data") == "stopped");
    CHECK(busctl_property(bus, "GatewayPID").at("data") == 0);
    CHECK(busctl_property(bus, "StartedAt").at("data") == 0);
    CHECK(busctl_property(bus, "Ready").at("data") == false);
    CHECK(busctl_property(bus, "LastExit").at("data") == Json({"exited", 0})); // SIGTERM
    CHECK(validate(home.paths()).kind == VerdictKind::None);
    CHECK(busctl_call(bus, {"ValidatePidFile"}).at("data").at(0) == "none");
    CHECK(busctl_call(bus, {"CleanPidFile"}) == Json({{"type", "bs"}, {"data", {false, "none"}}}));

    // Replace wants a running gateway; Restart and Start start a stopped one.
    auto not_running = call_error(client.proxy(), "Replace", VariantMap{});
    REQUIRE(not_running);
    CHECK(not_running->getName() == HGW_BUS_ERROR_NOT_RUNNING);
    Json restarted2 = busctl_call(bus, {"Restart", "a{sv}", "0"});
    CHECK(restarted2.at("data").at(1) == generation + 3);
    CHECK(busctl(bus, {"call", HGW_BUS_NAME, HGW_BUS_PATH, HGW_BUS_INTERFACE, "Stop", "a{sv}", "0"}).exit_code == 0);
    Json started2 = busctl_call(bus, {"Start", "a{sv}", "0"});
    CHECK(started2.at("type") == "ut");
    CHECK(started2.at("data").at(1) == generation + 4);
    require_gateway_untouched(client, home, started2.at("data").at(0), generation + 4);
}

// ---------------------------------------------------------------- signals

TEST_CASE("a replace is announced by StateChanged GatewayExited Replaced and PropertiesChanged", "[daemon][dbus][dbus-api][signals]")
{
    TempHome home;
    PrivateBus bus;
    Daemon daemon(bus, home, quick());
    ManagerClient client(bus);
    BusWatcher recorder(bus);
    const auto old_pid = status_pid(client);
    const auto generation = status_generation(client);

    auto [new_pid, new_generation] = client.call_op("Replace", {{"reason", sdbus::Variant(std::string("update"))}});
    REQUIRE(new_generation == generation + 1);
    const std::string old_text = std::to_string(old_pid), new_text = std::to_string(new_pid);
    const std::string gen_text = std::to_string(new_generation);

    auto events = wait_for(recorder, is_signal("Replaced", {old_text, new_text, gen_text, "update"}));
    INFO("events:" << BusWatcher::describe(events));
    auto replacing = index_of(events, is_signal("StateChanged", {"running", "replacing", "update"}));
    auto exited = index_of(events, is_signal("GatewayExited", {old_text, "exited", "75"}));
    auto running = index_of(events, [](const BusEvent& e) {
        return e.member == "StateChanged" && e.args.at(0) == "replacing" && e.args.at(1) == "running";
    });
    auto replaced = index_of(events, is_signal("Replaced", {old_text, new_text, gen_text, "update"}));
    CHECK(replacing < exited);
    CHECK(exited < running);
    CHECK(running < replaced);
    // Nothing but replacing and back: no detour through stopped or starting.
    CHECK(std::count_if(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(replaced),
                        [](const BusEvent& e) { return e.member == "StateChanged"; }) == 2);

    // The properties that changed were announced with their new values.
    auto announces = [&](const std::string& property, const std::string& value) {
        return std::any_of(events.begin(), events.end(), [&](const BusEvent& e) {
            return e.member == "PropertiesChanged" && e.args.at(0) == HGW_BUS_INTERFACE &&
                   e.property(property) == value;
        });
    };
    CHECK(announces("State", "replacing"));
    CHECK(announces("GatewayPID", "0"));          // the old one exited
    CHECK(announces("LastExit", "exited,75"));
    CHECK(announces("GatewayPID", new_text));     // the new one started
    CHECK(announces("Generation", gen_text));
    CHECK(announces("Ready", "true"));
    CHECK(announces("State", "running"));
}

TEST_CASE("CleanPidFile is Busy during a replace and repairs a stale record once stopped", "[daemon][dbus][dbus-api][signals][pidfile]")
{
    TempHome home;
    PrivateBus bus;
    // A gateway that would drain for a minute: the replace stays in
    // `replacing` until the test stops it, so the Busy window is ours.
    Daemon daemon(bus, home, quick({"--drain-timeout", "60s"}, {"--drain", "60"}));
    ManagerClient client(bus);
    BusWatcher recorder(bus);
    const auto pid = status_pid(client);

    SpawnOptions capture;
    capture.capture_output = true;
    Child replace = Child::spawn({"/usr/bin/busctl", "--address=" + bus.address(), "--timeout=60", "call", HGW_BUS_NAME,
                                  HGW_BUS_PATH, HGW_BUS_INTERFACE, "Replace", "a{sv}", "1", "reason", "s", "update"},
                                 capture);
    wait_for(recorder, is_signal("StateChanged", {"running", "replacing", "update"}));

    auto busy = call_error(client.proxy(), "CleanPidFile");
    REQUIRE(busy);
    CHECK(busy->getName() == HGW_BUS_ERROR_BUSY);
    CHECK_THAT(busy->getMessage(), Catch::Contains("replacing"));
    CHECK(validate(home.paths()).kind == VerdictKind::Live); // untouched

    // A stop cancels the replace; its caller hears so.
    client.stop({{"reason", sdbus::Variant(std::string("maintenance"))}});
    auto replace_status = replace.wait();
    REQUIRE(replace_status);
    CHECK(WIFEXITED(*replace_status));
    CHECK(WEXITSTATUS(*replace_status) != 0);
    CHECK_THAT(replace.output(), Catch::Contains("cancelled by a stop request"));
    wait_for(recorder, is_signal("GatewayExited", {std::to_string(pid), "exited", "0"}));
    CHECK(client.status().at("state").get<std::string>() == "stopped");

    // A record left by a gateway that is gone.
    const pid_t stale = dead_pid();
    Json record = {{"pid", stale},
                   {"kind", "hermes-gateway"},
                   {"argv", stub_command()},
                   {"start_time", 4242},
                   {"hermes_home", home.dir().string()}};
    home.write("gateway.pid", record.dump());
    std::string verdict;
    VariantMap evidence;
    client.proxy().callMethod("ValidatePidFile").onInterface(HGW_BUS_INTERFACE).storeResultsTo(verdict, evidence);
    CHECK(verdict == "stale");
    CHECK(evidence.at("pid").get<std::uint32_t>() == static_cast<std::uint32_t>(stale));

    bool removed = false;
    client.proxy().callMethod("CleanPidFile").onInterface(HGW_BUS_INTERFACE).storeResultsTo(removed, verdict);
    CHECK(removed);
    CHECK(verdict == "stale");
    CHECK_FALSE(home.exists("gateway.pid"));
    wait_for(recorder, is_signal("PidFileRepaired", {"stale", std::to_string(stale)}));

    client.proxy().callMethod("CleanPidFile").onInterface(HGW_BUS_INTERFACE).storeResultsTo(removed, verdict);
    CHECK_FALSE(removed);
    CHECK(verdict == "none");

    // A corrupt record is moved aside, never deleted.
    home.write("gateway.pid", "{\"pid\": \"not a number\"");
    client.proxy().callMethod("CleanPidFile").onInterface(HGW_BUS_INTERFACE).storeResultsTo(removed, verdict);
    CHECK(removed);
    CHECK(verdict == "corrupt");
    CHECK_FALSE(home.exists("gateway.pid"));
    bool moved_aside = false;
    for (const auto& entry : std::filesystem::directory_iterator(home.dir()))
        moved_aside |= entry.path().filename().string().rfind("gateway.pid.corrupt-", 0) == 0;
    CHECK(moved_aside);
    wait_for(recorder, is_signal("PidFileRepaired", {"corrupt", "0"}));
    CHECK(client.status().at("state").get<std::string>() == "stopped");
}
