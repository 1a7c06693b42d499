#include "cli/bus_commands.h"

#include "cli/bus_connection.h"
#include "util/duration.h"
#include "util/errors.h"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>

namespace hgw::cli {

namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;
using Json = nlohmann::ordered_json;
using Options = std::map<std::string, sdbus::Variant>;
using Clock = std::chrono::steady_clock;

// sd-bus's own default: enough for a reply that needs no waiting.
constexpr microseconds kQuickReplyTimeout = 25s;
// Replace, restart, start and stop wait for a gateway to drain and another to be ready.
constexpr microseconds kLongReplyTimeout = 5min;
// With --timeout D the daemon gets D for the operation; it may need this much
// more to bring a gateway back when the operation fails, before it answers.
constexpr microseconds kRollbackGrace = 1min;

constexpr const char* kExitCodesFooter =
    "Exit codes of the bus commands:\n"
    "  0  success (status: running and ready)\n"
    "  1  failure (status: the gateway failed; wait-ready: timed out)\n"
    "  2  invalid arguments\n"
    "  3  the gateway is not running (status: stopped, waiting, foreign, auto-restart, or not ready yet)\n"
    "  4  hermes-gatewayd is not reachable on the bus\n"
    "  5  permission denied\n"
    "  6  busy: another operation is in progress\n"
    "  7  timed out\n"
    "  8  generation mismatch (--if-generation)\n"
    "  9  the gateway failed to start\n"
    "  10 a new gateway cannot start (replace, restart: refused; the running gateway was left alone)";

// ---- Options shared by every bus command ----

struct CommonOptions {
    bool system = false;
    bool user = false;
    std::string address;
    std::string profile;
    bool json = false;
    std::string timeout; // empty: the command's default
};

BusTarget resolve_target(const CommonOptions& o)
{
    BusTarget t;
    if (!o.address.empty()) {
        t.kind = BusKind::Address;
        t.address = o.address;
    } else if (o.system) {
        t.kind = BusKind::System;
    } else if (o.user) {
        t.kind = BusKind::User;
    } else {
        // Like systemctl: root manages the system instance, users their own.
        t.kind = geteuid() == 0 ? BusKind::System : BusKind::User;
    }
    t.bus_name = bus_name_for_profile(o.profile);
    return t;
}

std::optional<microseconds> given_timeout(const CommonOptions& o)
{
    if (o.timeout.empty())
        return std::nullopt;
    return parse_duration(o.timeout); // validated when parsed
}

void add_common_options(CLI::App* sub, CommonOptions& o, const std::string& timeout_help)
{
    auto* system = sub->add_flag("--system", o.system, "Use the system bus (the default when run as root)");
    auto* user = sub->add_flag("--user", o.user, "Use the user's session bus (the default when not root)");
    auto* address = sub->add_option("--address", o.address, "Use the bus at this D-Bus address")->type_name("ADDRESS");
    system->excludes(user)->excludes(address);
    user->excludes(address);
    sub->add_option("--profile", o.profile,
                    "Talk to the daemon of this Hermes profile (bus name org.hermes.Gateway1.PROFILE)")
        ->type_name("NAME");
    sub->add_flag("--json", o.json, "Print JSON");
    sub->add_option("--timeout", o.timeout, timeout_help)
        ->type_name("DURATION")
        ->check(CLI::Validator(
            [](std::string& s) {
                try {
                    parse_duration(s);
                    return std::string();
                } catch (const Error& e) {
                    return describe(e);
                }
            },
            ""));
    sub->footer(kExitCodesFooter);
}

// ---- Errors ----

struct Failure {
    int code;
    std::string message;
};

// What a call was for, to explain its failure.
struct CallContext {
    BusTarget target;
    std::string action;  // "replace the gateway"
    microseconds reply_timeout{};
    Clock::time_point started = Clock::now();
};

std::string not_running_message(const BusTarget& t)
{
    std::string bus = t.kind == BusKind::System ? "system bus" : t.kind == BusKind::User ? "user bus" : "bus at " + t.address;
    return "hermes-gatewayd is not running on the " + bus + " (name " + t.bus_name + ")";
}

std::string with_detail(std::string text, const std::string& detail)
{
    if (!detail.empty())
        text += ": " + detail;
    return text;
}

Failure explain(const sdbus::Error& e, const CallContext& c)
{
    namespace x = exit_codes;
    const std::string& name = e.getName();
    const std::string& msg = e.getMessage();
    const std::string ours = "org.hermes.Gateway1.Error.";

    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" || name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        return {x::kNoDaemon, not_running_message(c.target)};
    if (name == ours + "AccessDenied")
        return {x::kAccessDenied,
                with_detail("permission denied: only root, the service user and group hermes may " + c.action, msg)};
    if (name == "org.freedesktop.DBus.Error.AccessDenied")
        return {x::kAccessDenied, with_detail("permission denied by the bus policy", msg)};
    if (name == ours + "Busy")
        return {x::kBusy, with_detail("cannot " + c.action + " now: another operation is in progress", msg)};
    if (name == ours + "Timeout")
        return {x::kTimeout, with_detail("timed out trying to " + c.action, msg)};
    if (name == ours + "NotRunning")
        return {x::kNotRunning, with_detail("cannot " + c.action + ": the gateway is not running", msg)};
    if (name == ours + "GenerationMismatch")
        return {x::kGenerationMismatch, with_detail("not done: the gateway's generation has changed", msg)};
    if (name == ours + "InvalidArgs" || name == "org.freedesktop.DBus.Error.InvalidArgs")
        return {x::kInvalidArgs, with_detail("invalid arguments", msg)};
    if (name == ours + "StartFailed")
        return {x::kStartFailed, with_detail("the gateway failed to start", msg)};
    if (name == ours + "CannotStart")
        return {x::kCannotStart,
                with_detail("cannot " + c.action + ": a new gateway could not start; the running one was left alone",
                            msg)};
    if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout") {
        // sd-bus reports its own timeout as NoReply too; the bus reports a
        // daemon that died mid-call the same way. Our clock tells them apart.
        if (Clock::now() - c.started >= c.reply_timeout - 100ms)
            return {x::kTimeout, "no answer from hermes-gatewayd within " + format_duration(c.reply_timeout) +
                                     " (it may still be working: see `hermes-gatewayctl status`)"};
        return {x::kFailed, with_detail("hermes-gatewayd went away before answering; the outcome is unknown", msg)};
    }
    if (name.rfind(ours, 0) == 0)
        return {x::kFailed, with_detail("cannot " + c.action, msg)};
    return {x::kFailed, with_detail("cannot " + c.action, name + ": " + msg)};
}

int report(const Failure& f)
{
    std::cerr << "hermes-gatewayctl: " << f.message << "\n";
    return f.code;
}

// Runs a command body, turning what it throws into a message and an exit code.
template <typename F>
int guarded(F body)
{
    try {
        return body();
    } catch (const BusUnavailable& e) {
        return report({exit_codes::kNoDaemon, e.what()});
    } catch (const std::invalid_argument& e) {
        return report({exit_codes::kInvalidArgs, e.what()});
    } catch (const sdbus::Error& e) {
        return report({exit_codes::kFailed, e.getName() + ": " + e.getMessage()});
    } catch (const std::exception& e) {
        return report({exit_codes::kFailed, e.what()});
    }
}

// ---- Text ----

std::string signal_name(int sig)
{
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// ("exited", 0) -> "exited with status 0"; ("killed", 9) -> "killed by SIGKILL".
std::string describe_exit(const std::string& kind, long long status)
{
    if (kind == "exited")
        return "exited with status " + std::to_string(status);
    if (kind == "killed")
        return "killed by " + signal_name(static_cast<int>(status));
    if (kind == "dumped")
        return "dumped core (" + signal_name(static_cast<int>(status)) + ")";
    if (kind.empty())
        return "none";
    return kind + " " + std::to_string(status);
}

std::string str(const Json& j, const char* key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

long long num(const Json& j, const char* key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<long long>() : 0;
}

bool flag(const Json& j, const char* key)
{
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string with_reason(std::string text, const std::string& reason)
{
    if (!reason.empty())
        text += " (" + reason + ")";
    return text;
}

// The details of an event, for one human line.
std::string describe_event(const BusEvent& e)
{
    const Json& a = e.args;
    if (e.name == "StateChanged")
        return with_reason(str(a, "old_state") + " -> " + str(a, "new_state"), str(a, "reason"));
    if (e.name == "Replaced")
        return with_reason("pid " + std::to_string(num(a, "old_pid")) + " -> pid " + std::to_string(num(a, "new_pid")) +
                               ", generation " + std::to_string(num(a, "generation")),
                           str(a, "reason"));
    if (e.name == "GatewayExited")
        return "pid " + std::to_string(num(a, "pid")) + " " + describe_exit(str(a, "code"), num(a, "status"));
    if (e.name == "PidFileRepaired") {
        std::string text = str(a, "verdict") + " record";
        if (num(a, "stale_pid") != 0)
            text += " of pid " + std::to_string(num(a, "stale_pid"));
        return text + " cleaned up";
    }
    if (e.name == "PropertiesChanged") {
        std::string text;
        for (const auto& [key, value] : a["changed"].items())
            text += (text.empty() ? "" : " ") + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
        for (const auto& key : a["invalidated"])
            text += (text.empty() ? "" : " ") + key.get<std::string>() + " (invalidated)";
        return text;
    }
    if (e.name == "DaemonAppeared")
        return "hermes-gatewayd is on the bus as " + str(a, "owner");
    if (e.name == "DaemonVanished")
        return "hermes-gatewayd left the bus";
    return a.dump();
}

std::string event_line(const BusEvent& e)
{
    return e.name + ": " + describe_event(e);
}

Json event_json(const BusEvent& e)
{
    Json j;
    j["time_usec"] = e.received_usec;
    j["signal"] = e.name;
    for (const auto& [key, value] : e.args.items())
        j[key] = value;
    return j;
}

// "2024-05-07 10:00:00" in local time, with `.mmm` when asked.
std::string local_time(std::int64_t usec, bool millis)
{
    time_t secs = static_cast<time_t>(usec / 1'000'000);
    tm t{};
    localtime_r(&secs, &t);
    char buf[64];
    strftime(buf, sizeof buf, millis ? "%Y-%m-%d %H:%M:%S" : "%a %Y-%m-%d %H:%M:%S %Z", &t);
    std::string s = buf;
    if (millis) {
        char ms[8];
        snprintf(ms, sizeof ms, ".%03d", static_cast<int>(usec / 1000 % 1000));
        s += ms;
    }
    return s;
}

std::int64_t now_usec()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

std::string shell_join(const Json& argv)
{
    std::string out;
    for (const auto& a : argv) {
        std::string s = a.is_string() ? a.get<std::string>() : a.dump();
        bool plain = !s.empty() && s.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
        if (!out.empty())
            out += ' ';
        if (plain) {
            out += s;
        } else {
            out += '\'';
            for (char c : s)
                out += c == '\'' ? std::string("'\\''") : std::string(1, c);
            out += '\'';
        }
    }
    return out;
}

// Stdout shared by the main thread and the bus thread, one whole line at a time.
class LineOutput {
public:
    void line(const std::string& text)
    {
        std::lock_guard lock(mutex_);
        if (open_)
            std::cout << text << std::endl; // flushed: someone may be reading a pipe
    }
    // No more lines from the bus thread after this.
    void close()
    {
        std::lock_guard lock(mutex_);
        open_ = false;
    }

private:
    std::mutex mutex_;
    bool open_ = true;
};

// ---- status ----

Json status_to_json(const Options& status)
{
    Json j = Json::object();
    for (const auto& [key, value] : status)
        j[key] = variant_to_json(value);
    return j;
}

void print_status(const Json& s, const BusTarget& target)
{
    auto row = [](const char* label, const std::string& value) {
        if (!value.empty())
            std::cout << std::string(11 - std::min<std::size_t>(11, strlen(label)), ' ') << label << ": " << value << "\n";
    };
    std::string header = "hermes-gateway: " + target.bus_name + " on " + describe_bus(target);
    if (num(s, "daemon_pid") != 0)
        header += " (hermes-gatewayd pid " + std::to_string(num(s, "daemon_pid")) + ")";
    std::cout << header << "\n";

    std::string state = str(s, "state");
    if (state == "running")
        state += flag(s, "ready") ? ", ready" : ", not ready yet";
    // The phase when it says more than the state (draining while replacing, ...).
    std::string phase = str(s, "phase");
    if (!phase.empty() && phase != str(s, "state"))
        state += " (" + phase + ")";
    row("State", state);
    if (std::string job = str(s, "job"); !job.empty() && job != "none")
        row("Job", job);
    std::string blocked = str(s, "blocked_reason");
    if (!blocked.empty() && num(s, "foreign_pid") != 0)
        blocked += " (pid " + std::to_string(num(s, "foreign_pid")) + ")";
    row("Blocked", blocked);
    if (num(s, "pid") != 0)
        row("PID", std::to_string(num(s, "pid")));
    row("Generation", std::to_string(num(s, "generation")));
    row("Restarts", std::to_string(num(s, "restarts")));
    row("Last exit", describe_exit(str(s, "last_exit_kind"), num(s, "last_exit_status")));
    if (std::int64_t started = num(s, "started_at_usec"); started != 0) {
        std::int64_t ago = now_usec() - started;
        row("Started", local_time(started, false) +
                           (ago < 0 ? "" : ago < 1'000'000 ? "; just now" : "; " + format_duration(microseconds((ago / 1'000'000) * 1'000'000)) + " ago"));
    }
    row("Status", str(s, "status_text"));
    row("Failure", str(s, "failure_reason"));
    if (auto it = s.find("command"); it != s.end() && it->is_array() && !it->empty())
        row("Command", shell_join(*it));
    row("PID file", str(s, "pid_file"));
    row("Home", str(s, "home"));
}

// running and ready: 0; failed (needs a person): 1; anything else, waiting
// and foreign included (no gateway of ours serves, the daemon keeps trying): 3.
int status_exit_code(const Json& s)
{
    const std::string state = str(s, "state");
    if (state == "running" && flag(s, "ready"))
        return exit_codes::kOk;
    if (state == "failed")
        return exit_codes::kFailed;
    return exit_codes::kNotRunning;
}

int run_status(const CommonOptions& o)
{
    CallContext ctx{resolve_target(o), "read the gateway's status", given_timeout(o).value_or(kQuickReplyTimeout)};
    GatewayClient client(ctx.target);
    Json status;
    try {
        status = status_to_json(client.get_status(ctx.reply_timeout));
    } catch (const sdbus::Error& e) {
        return report(explain(e, ctx));
    }
    if (o.json)
        std::cout << status.dump() << "\n";
    else
        print_status(status, ctx.target);
    return status_exit_code(status);
}

// ---- replace, restart, start, stop ----

struct LifecycleOptions {
    CommonOptions common;
    std::string reason;
    std::uint64_t if_generation = 0;
    CLI::Option* if_generation_opt = nullptr;
    bool wait = true; // accepted; these commands always wait
};

struct Lifecycle {
    const char* command; // "replace"
    const char* method;  // "Replace"
    const char* action;  // "replace the gateway"
    const char* done;    // "replaced"
    const char* help;
};

constexpr Lifecycle kLifecycles[] = {
    {"replace", "Replace", "replace the gateway", "replaced",
     "Replace the running gateway: drain it, start a new one and wait until it is ready "
     "(if that fails, a gateway is brought back)"},
    {"restart", "Restart", "restart the gateway", "restarted",
     "Like replace, but also start a gateway that is stopped or failed"},
    {"start", "Start", "start the gateway", "started",
     "Start the gateway and wait until it is ready (at once if it already runs)"},
    {"stop", "Stop", "stop the gateway", "stopped",
     "Stop the gateway and wait until it is gone; hermes-gatewayd keeps running"},
};

Options call_options(const LifecycleOptions& o)
{
    Options opts;
    if (!o.reason.empty())
        opts["reason"] = sdbus::Variant(o.reason);
    if (auto t = given_timeout(o.common))
        opts["timeout_usec"] = sdbus::Variant(static_cast<std::uint64_t>(t->count()));
    if (o.if_generation_opt && o.if_generation_opt->count() > 0)
        opts["if_generation"] = sdbus::Variant(o.if_generation);
    return opts;
}

int run_lifecycle(const LifecycleOptions& o, const Lifecycle& what)
{
    auto timeout = given_timeout(o.common);
    CallContext ctx{resolve_target(o.common), what.action, timeout ? *timeout + kRollbackGrace : kLongReplyTimeout};
    LineOutput out;
    const bool progress = !o.common.json;
    // Subscribed before the call, so that no step of the operation goes unseen.
    GatewayClient client(ctx.target, [&out, progress](const BusEvent& e) {
        if (progress && e.name != "PropertiesChanged")
            out.line(event_line(e));
    });
    if (!client.daemon_present())
        return report({exit_codes::kNoDaemon, not_running_message(ctx.target)});
    client.start();

    const bool is_stop = std::string(what.method) == "Stop";
    Options opts = call_options(o);
    std::uint32_t pid = 0;
    std::uint64_t generation = 0;
    ctx.started = Clock::now();
    try {
        if (is_stop)
            client.stop(opts, ctx.reply_timeout);
        else
            std::tie(pid, generation) = client.call_start_like(what.method, opts, ctx.reply_timeout);
    } catch (const sdbus::Error& e) {
        out.close();
        return report(explain(e, ctx));
    }
    out.close(); // signals after the reply are not part of this operation's story

    if (o.common.json) {
        Json j;
        j["result"] = what.done;
        if (!is_stop) {
            j["pid"] = pid;
            j["generation"] = generation;
        }
        std::cout << j.dump() << "\n";
    } else if (is_stop) {
        std::cout << what.done << "\n";
    } else {
        std::cout << what.done << ": pid " << pid << ", generation " << generation << "\n";
    }
    return exit_codes::kOk;
}

// ---- wait-ready ----

// Set by the bus thread when anything that may change readiness arrives.
class ChangeFlag {
public:
    void raise()
    {
        {
            std::lock_guard lock(mutex_);
            raised_ = true;
        }
        cv_.notify_all();
    }
    void lower()
    {
        std::lock_guard lock(mutex_);
        raised_ = false;
    }
    // False when the deadline passed first.
    bool wait_until(Clock::time_point deadline)
    {
        std::unique_lock lock(mutex_);
        return cv_.wait_until(lock, deadline, [this] { return raised_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool raised_ = false;
};

bool is_ready(const Json& s)
{
    return str(s, "state") == "running" && flag(s, "ready");
}

bool daemon_gone(const sdbus::Error& e)
{
    return e.getName() == "org.freedesktop.DBus.Error.ServiceUnknown" ||
           e.getName() == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
           // The daemon exited while answering (it may come back), or the
           // read itself timed out: either way, wait for news or the deadline.
           e.getName() == "org.freedesktop.DBus.Error.NoReply" || e.getName() == "org.freedesktop.DBus.Error.Timeout";
}

struct WaitReadyOptions {
    CommonOptions common;
    std::uint64_t newer_than = 0; // also wait for a generation above this
};

int run_wait_ready(const WaitReadyOptions& w)
{
    const CommonOptions& o = w.common;
    const microseconds limit = given_timeout(o).value_or(kLongReplyTimeout);
    CallContext ctx{resolve_target(o), "read the gateway's status", kQuickReplyTimeout};
    ChangeFlag changed;
    // Subscribe first, then read: a change after the read raises the flag.
    GatewayClient client(ctx.target, [&changed](const BusEvent& e) {
        if (e.name != "PidFileRepaired")
            changed.raise();
    });
    if (!client.daemon_present())
        return report({exit_codes::kNoDaemon, not_running_message(ctx.target)});
    client.start();

    const Clock::time_point deadline = Clock::now() + limit;
    std::string last_state = "unknown";
    for (;;) {
        changed.lower(); // before the read: a change during it must not be lost
        auto left = std::chrono::duration_cast<microseconds>(deadline - Clock::now());
        if (left > 0us) {
            try {
                ctx.reply_timeout = std::min(left, kQuickReplyTimeout);
                ctx.started = Clock::now();
                Json s = status_to_json(client.get_status(ctx.reply_timeout));
                last_state = str(s, "state");
                if (is_ready(s) && static_cast<std::uint64_t>(num(s, "generation")) > w.newer_than) {
                    if (o.json)
                        std::cout << s.dump() << "\n";
                    else
                        std::cout << "ready: pid " << num(s, "pid") << ", generation " << num(s, "generation") << "\n";
                    return exit_codes::kOk;
                }
            } catch (const sdbus::Error& e) {
                // The daemon went away (it may be restarted: its return raises
                // the flag), or our read timed out at the deadline.
                if (!daemon_gone(e))
                    return report(explain(e, ctx));
                last_state = "hermes-gatewayd not on the bus";
            }
        }
        if (!changed.wait_until(deadline)) {
            return report({exit_codes::kFailed, "timed out after " + format_duration(limit) +
                                                    " waiting for the gateway to be ready (state: " + last_state + ")"});
        }
    }
}

// ---- watch ----

int run_watch(const CommonOptions& o)
{
    const auto limit = given_timeout(o);
    const BusTarget target = resolve_target(o);

    // Block SIGINT and SIGTERM before the bus thread exists, so that it
    // inherits the mask and the main thread can take them with sigwait.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);

    LineOutput out;
    const bool json = o.json;
    {
        GatewayClient client(target, [&out, json](const BusEvent& e) {
            out.line(json ? event_json(e).dump() : local_time(e.received_usec, true) + " " + event_line(e));
        });
        client.start();
        // On stderr, so stdout holds events only; also tells a reader that
        // the subscription is in place.
        std::cerr << "watching " << target.bus_name << " on " << describe_bus(target)
                  << (client.daemon_present() ? "" : " (hermes-gatewayd is not running yet)") << std::endl;

        int sig = -1;
        while (sig < 0) {
            if (limit) {
                timespec ts{static_cast<time_t>(limit->count() / 1'000'000),
                            static_cast<long>(limit->count() % 1'000'000 * 1000)};
                sig = sigtimedwait(&stop_signals, nullptr, &ts);
                if (sig < 0 && errno == EAGAIN)
                    break; // watched long enough
            } else {
                sig = sigwaitinfo(&stop_signals, nullptr);
            }
            if (sig < 0 && errno != EINTR)
                throw std::runtime_error(std::string("sigwait: ") + strerror(errno));
        }
        out.close();
    } // the client stops its bus thread here
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return exit_codes::kOk;
}

// ---- Registration ----

CLI::App* add_bus_subcommand(CLI::App& app, const char* name, const char* help, CommonOptions& common,
                             const std::string& timeout_help)
{
    auto* sub = app.add_subcommand(name, help);
    add_common_options(sub, common, timeout_help);
    return sub;
}

} // namespace

void add_bus_commands(CLI::App& app, int& exit_code)
{
    app.footer(kExitCodesFooter);

    auto status = std::make_shared<CommonOptions>();
    add_bus_subcommand(app, "status",
                       "Show the gateway's state as hermes-gatewayd sees it "
                       "(exit 0 running and ready, 1 failed, 3 stopped, waiting, foreign or not ready yet, 4 no daemon)",
                       *status, "How long to wait for the answer (default 25s)")
        ->callback([status, &exit_code] { exit_code = guarded([&] { return run_status(*status); }); });

    for (const auto& what : kLifecycles) {
        auto opts = std::make_shared<LifecycleOptions>();
        auto* sub = add_bus_subcommand(
            app, what.command, what.help, opts->common,
            "How long hermes-gatewayd may take (sent as timeout_usec); the command waits up to this plus 1min "
            "for its answer (default: the daemon's own limits, waiting up to 5min)");
        sub->add_option("--reason", opts->reason, "Why: logged by the daemon and passed on in its signals");
        opts->if_generation_opt = sub->add_option(
            "--if-generation", opts->if_generation,
            "Do it only if the gateway's generation is still N (else exit 8)");
        opts->if_generation_opt->type_name("N");
        if (std::string(what.method) != "Stop")
            sub->add_flag("--wait", opts->wait,
                          "Wait until the new gateway is ready (always done: the command returns when the "
                          "gateway is ready or the operation failed)");
        sub->footer(std::string(kExitCodesFooter) +
                    "\n\nProgress (the daemon's signals) is printed as it happens, unless --json.");
        const Lifecycle* w = &what;
        sub->callback([opts, w, &exit_code] { exit_code = guarded([&] { return run_lifecycle(*opts, *w); }); });
    }

    auto wait_ready = std::make_shared<WaitReadyOptions>();
    auto* wait_sub = add_bus_subcommand(
        app, "wait-ready", "Wait until the gateway is running and ready (exit 0 ready, 1 timed out, 4 no daemon)",
        wait_ready->common, "How long to wait (default 5min)");
    wait_sub->add_option("--newer-than", wait_ready->newer_than,
                         "Wait for a gateway of a generation above N (e.g. the one that replaces a killed gateway)")
        ->type_name("N");
    wait_sub->callback([wait_ready, &exit_code] { exit_code = guarded([&] { return run_wait_ready(*wait_ready); }); });

    auto watch = std::make_shared<CommonOptions>();
    add_bus_subcommand(app, "watch",
                       "Print the daemon's signals as they come, one line each (one JSON object each with --json), "
                       "until SIGINT or SIGTERM (exit 0)",
                       *watch, "Stop after this long (default: until interrupted)")
        ->callback([watch, &exit_code] { exit_code = guarded([&] { return run_watch(*watch); }); });
}

} // namespace hgw::cli
