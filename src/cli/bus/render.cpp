#include "cli/bus/render.h"

#include "cli/bus/bus_errors.h"
#include "cli/output.h"
#include "util/bus_names.h"
#include "util/duration.h"

#include <string.h>
#include <time.h>

#include <algorithm>
#include <cstdio>

namespace hgw::cli {

namespace {

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
    if (e.name == HGW_BUS_SIGNAL_STATE_CHANGED)
        return with_reason(str(a, "old_state") + " -> " + str(a, "new_state"), str(a, "reason"));
    if (e.name == HGW_BUS_SIGNAL_REPLACED)
        return with_reason("pid " + std::to_string(num(a, "old_pid")) + " -> pid " + std::to_string(num(a, "new_pid")) +
                               ", generation " + std::to_string(num(a, "generation")),
                           str(a, "reason"));
    if (e.name == HGW_BUS_SIGNAL_GATEWAY_EXITED)
        return "pid " + std::to_string(num(a, "pid")) + " " + describe_exit(str(a, "code"), num(a, "status"));
    if (e.name == HGW_BUS_SIGNAL_PID_FILE_REPAIRED) {
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

std::int64_t clock_usec(clockid_t clock)
{
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

std::int64_t now_usec() { return clock_usec(CLOCK_REALTIME); }
// The daemon's fleet deadline is on CLOCK_MONOTONIC, the same on one host.
std::int64_t monotonic_usec() { return clock_usec(CLOCK_MONOTONIC); }

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

} // namespace

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

std::string local_time_millis(std::int64_t usec)
{
    return local_time(usec, true);
}

void print_status(const Json& s, const BusTarget& target)
{
    using std::chrono::microseconds;
    std::string out;
    auto row = [&out](const char* label, const std::string& value) {
        if (!value.empty())
            out += std::string(11 - std::min<std::size_t>(11, strlen(label)), ' ') + label + ": " + value + "\n";
    };
    std::string header = "hermes-gateway: " + target.bus_name + " on " + describe_bus(target);
    if (num(s, "daemon_pid") != 0)
        header += " (hermes-gatewayd pid " + std::to_string(num(s, "daemon_pid")) + ")";
    out += header + "\n";

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
    if (std::string role = str(s, "fleet_role"); !role.empty()) {
        std::string leader = str(s, "fleet_leader");
        if (!leader.empty() && role != "leader")
            role += "; leader " + leader;
        if (std::int64_t deadline = num(s, "fleet_deadline_usec"); deadline != 0)
            role += "; stops its gateway in " + format_duration(microseconds(std::max<std::int64_t>(0, deadline - monotonic_usec()))) +
                    " unless its lease is renewed";
        row("Fleet", role);
    }
    row("Status", str(s, "status_text"));
    row("Failure", str(s, "failure_reason"));
    if (auto it = s.find("command"); it != s.end() && it->is_array() && !it->empty())
        row("Command", shell_join(*it));
    row("PID file", str(s, "pid_file"));
    row("Home", str(s, "home"));
    print(out);
}

} // namespace hgw::cli
