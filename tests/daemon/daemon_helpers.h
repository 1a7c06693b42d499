#pragma once
// Shared by the supervision, replace and sd_notify tests of hermes-gatewayd:
// the recorder of the daemon's D-Bus signals (support/bus_watcher.h), a
// recorder of what it tells systemd, a look at the process table, and
// pidfds on gateways that are not our children. Everything waits on fds
// (bus, socket, pidfd) with a deadline; nothing polls the daemon's status in
// a loop.

#include "core/home.h"
#include "core/validation.h"
#include "process/pidfd.h"
#include "process/process_handle.h"
#include "process/process_info.h"
#include "support/bus_harness.h"
#include "support/bus_watcher.h"
#include "support/child_process.h"
#include "support/temp_home.h"
#include "support/variant_text.h"
#include "util/bus_names.h"

#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hgw::test::dh {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The signal recorder and its events (support/bus_watcher.h).
using hgw::test::BusEvent;
using hgw::test::BusWatcher;
using hgw::test::variant_text;

// ---------------------------------------------------------------- processes

// A pidfd opened on a gateway that is not our child (the daemon's), so that
// its exit can be waited for without polling and its PID never confused
// with a later process that reuses it.
class PidWatch {
public:
    explicit PidWatch(pid_t pid) : pid_(pid), fd_(hgw::pidfd_open(pid))
    {
        if (!fd_)
            throw std::runtime_error("pidfd_open(" + std::to_string(pid) + "): " + std::strerror(errno));
    }
    [[nodiscard]] pid_t pid() const { return pid_; }
    // True once the process has exited (zombie or reaped).
    bool exited(milliseconds timeout = milliseconds(0)) const { return wait_readable(fd_.get(), timeout); }
    // Signals the very process the pidfd names; false if it has exited.
    bool signal(int sig) const { return hgw::pidfd_send_signal(fd_.get(), sig) == 0; }

private:
    pid_t pid_;
    UniqueFd fd_;
};

// True when no process has this PID any more: exited *and* reaped.
inline bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// A process may exit while its cmdline is read (an ifstream then throws on
// ESRCH): such a process has no command line.
inline std::vector<std::string> proc_cmdline(pid_t pid)
{
    return hgw::read_cmdline(pid).value_or(std::vector<std::string>{});
}

inline char proc_state(pid_t pid)
{
    auto stat = read_small_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat)
        return '?';
    auto close = stat->rfind(')');
    if (close == std::string::npos || close + 2 >= stat->size())
        return '?';
    return (*stat)[close + 2];
}

// The stub gateways (not the daemons whose command line names the stub after
// "--") that are alive, not zombies, and whose command line contains `marker`.
// Every gateway of these tests gets `--log <home>/stub.log`, so the home's
// path is a marker no other test's gateway carries.
inline std::vector<pid_t> live_gateways(const std::string& marker)
{
    const std::string stub = source_path("tests/stub/hermes");
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (!d)
        throw std::runtime_error("opendir /proc");
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0')
            continue;
        auto argv = proc_cmdline(static_cast<pid_t>(pid));
        if (argv.size() < 2)
            continue;
        // python3 <stub> gateway run ...: the stub is argv[1]; a daemon has
        // it much later, after its own flags.
        bool is_stub = argv[0] == stub || argv[1] == stub;
        if (!is_stub)
            continue;
        bool marked = std::any_of(argv.begin(), argv.end(),
                                  [&](const std::string& a) { return a.find(marker) != std::string::npos; });
        if (marked && proc_state(static_cast<pid_t>(pid)) != 'Z')
            out.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// Gateway flags every test passes: the log that tells whether a start ever
// lost the PID-file race, and that marks the home in the command line.
inline std::vector<std::string> stub_args(const TempHome& home, std::vector<std::string> extra = {})
{
    std::vector<std::string> args = {"--log", (home.dir() / "stub.log").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

inline std::string stub_log(const TempHome& home) { return home.exists("stub.log") ? home.read("stub.log") : ""; }

// The stub's log once it holds `text` (or at the deadline, as it is then).
// The daemon may call a gateway ready, from its record and lock, a moment
// before the gateway logs that it runs.
inline std::string stub_log_with(const TempHome& home, const std::string& text,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30))
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string log = stub_log(home);
    while (log.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        log = stub_log(home);
    }
    return log;
}

// The stub's two complaints when a start finds another gateway's traces.
inline bool lost_a_race(const std::string& log)
{
    return log.find("PID file race lost") != std::string::npos ||
           log.find("lock is already held") != std::string::npos;
}

inline std::uint64_t monotonic_usec()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

// ---------------------------------------------------------------- status and calls

template <typename T>
T field(const std::map<std::string, sdbus::Variant>& status, const std::string& key)
{
    return status.at(key).get<T>();
}

// The name of the D-Bus error a call failed with, or "" if it succeeded.
template <typename Call>
std::string error_of(Call&& call, std::string* message = nullptr)
{
    try {
        call();
    } catch (const sdbus::Error& e) {
        if (message)
            *message = e.getMessage();
        return e.getName();
    }
    return "";
}

inline std::string err(const char* name) { return std::string(HGW_BUS_ERROR_PREFIX) + name; }

// The record is true: it names `pid`, that process is alive with the
// recorded identity, and gateway.lock is held.
inline void require_live_record(const TempHome& home, pid_t pid)
{
    Verdict v = validate(home.paths());
    INFO("verdict: " << v.summary);
    REQUIRE(v.kind == VerdictKind::Live);
    REQUIRE(v.record());
    CHECK(v.record()->pid == pid);
    CHECK(v.lock.held);
}

// The GatewayPID values announced in PropertiesChanged, in order.
inline std::vector<std::uint32_t> announced_pids(const std::vector<BusEvent>& events)
{
    std::vector<std::uint32_t> pids;
    for (const auto& e : events) {
        if (e.member != "PropertiesChanged")
            continue;
        if (auto v = e.property(HGW_BUS_PROPERTY_GATEWAY_PID))
            pids.push_back(static_cast<std::uint32_t>(std::stoul(*v)));
    }
    return pids;
}

// Stop-first, as the daemon announces it: the gateway PID never changes from
// one gateway straight to another; it passes through 0 (none runs) between.
// `first` is the PID that ran before the events. Returns the offending pair.
inline std::optional<std::pair<std::uint32_t, std::uint32_t>> overlap_in(std::uint32_t first,
                                                                        const std::vector<std::uint32_t>& pids)
{
    std::uint32_t prev = first;
    for (std::uint32_t p : pids) {
        if (prev != 0 && p != 0 && p != prev)
            return std::make_pair(prev, p);
        prev = p;
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- systemd's side

// The shared harness records every notification and can look them up.
using NotifyRecorder = NotifyListener;

// The value of KEY= in one sd_notify datagram.
inline std::optional<std::string> notify_value(const std::string& message, const std::string& key)
{
    std::istringstream lines(message);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(key + "=", 0) == 0)
            return line.substr(key.size() + 1);
    }
    return std::nullopt;
}

// The shared harness runs the daemon as systemd would.
using TestDaemonOptions = DaemonOptions;
using TestDaemon = GatewayDaemon;

// The daemon shuts down cleanly on SIGTERM, its last gateway with it, and
// leaves no record behind.
inline void check_clean_shutdown(GatewayDaemon& daemon, const TempHome& home, pid_t last_gateway)
{
    PidWatch last(last_gateway);
    int status = daemon.stop();
    INFO(daemon.log());
    CHECK(status == 0);
    CHECK(last.exited());
    CHECK(validate(home.paths()).kind == VerdictKind::None);
}


} // namespace hgw::test::dh
