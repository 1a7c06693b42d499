#pragma once
// Shared by the tests of issue 9 (tests/daemon/hermes_interop_*_test.cpp):
// the daemon running the Hermes-faithful stub (tests/stub/README.md), who
// holds which gateway.lock (the one the path names, or one a reader
// unlinked), whether the record is true, and the counts that bench/interop
// turns into a table.
//
// The counts come from the environment so that bench/interop can run the
// same tests at the full size; ctest runs them small.

#include "fault_helpers.h"

#include "core/lock_holders.h"
#include "support/scoped_env.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <list>
#include <sstream>
#include <string>
#include <vector>

namespace hgw::test::interop {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- sizes and report

// A count from the environment (bench/interop sets the sizes), else `fallback`.
inline int count_from_env(const char* name, int fallback)
{
    const char* v = std::getenv(name);
    if (!v || !*v)
        return fallback;
    return std::max(1, std::atoi(v));
}

// bench/interop runs the tests with HGW_INTEROP_BENCH=1: then a test does
// all its rounds (it stops early only after many failures) and reports.
inline bool bench_mode()
{
    const char* v = std::getenv("HGW_INTEROP_BENCH");
    return v && std::string(v) == "1";
}

// bench/interop asks a case to end its rounds early (and clean up) by
// creating the file $HGW_INTEROP_STOP_FILE names.
inline bool stop_requested()
{
    const char* v = std::getenv("HGW_INTEROP_STOP_FILE");
    return v && *v && ::access(v, F_OK) == 0;
}

// Appends one JSON line to $HGW_INTEROP_REPORT (bench/interop reads them),
// and prints it, so a ctest log shows the counts too.
inline void report(const nlohmann::json& line)
{
    const std::string text = line.dump();
    std::cout << "interop: " << text << std::endl;
    if (const char* path = std::getenv("HGW_INTEROP_REPORT"); path && *path)
        std::ofstream(path, std::ios::app) << text << "\n";
}

// ---------------------------------------------------------------- environment

// Hermes reads these to decide whether a supervisor runs it (or how the
// stub behaves); the machine running the tests must not decide for the test
// (a CI job under systemd has INVOCATION_ID). Unset for the test's life:
// construct it first, before any thread starts.
class CleanHermesEnv {
public:
    CleanHermesEnv()
    {
        for (const char* name : {"INVOCATION_ID", "XPC_SERVICE_NAME", "HERMES_S6_SUPERVISED_CHILD",
                                 "HERMES_GATEWAY_EXTERNAL_SUPERVISOR", "HERMES_STUB_FAITHFUL",
                                 "HERMES_GATEWAY_MAX_STARTS", "HERMES_GATEWAY_START_WINDOW_S",
                                 "HERMES_STUB_STORM_SCALE", "HERMES_HOME"})
            unset_.emplace_back(name, std::nullopt);
    }

private:
    std::list<ScopedEnv> unset_;
};

// The daemon's environment for a faithful gateway (HERMES_STUB_FAITHFUL
// reaches every gateway it starts), with Hermes' respawn-storm breaker off
// unless a test turns it on (item 6 has its own test).
inline std::map<std::string, std::string> faithful_env(std::map<std::string, std::string> extra = {})
{
    std::map<std::string, std::string> env = {{"HERMES_STUB_FAITHFUL", "1"}, {"HERMES_GATEWAY_MAX_STARTS", "0"}};
    for (auto& [k, v] : extra)
        env[k] = v;
    return env;
}

// ---------------------------------------------------------------- one test's world

// The environment cleaned, a site, a private bus with a recorder of the
// daemon's signals, the daemon (with `options`) and a client, in that order.
struct World {
    explicit World(const DaemonOptions& options) : daemon(bus, site, options) {}

    // The gateway the daemon runs once ready, its record true (REQUIREd).
    pid_t first_gateway() { return fh::require_one_true_gateway(events, daemon, client, site); }

    CleanHermesEnv clean_env;
    fh::Site site;
    PrivateBus bus;
    dh::BusWatcher events{bus};
    fh::SiteDaemon daemon;
    ManagerClient client{bus};
};

// ---------------------------------------------------------------- who holds gateway.lock

// The flocks `pid` holds, through any of its fds, on a file that is the
// home's gateway.lock or was (one a reader unlinked while it was held).
struct LockHold {
    pid_t pid = 0;
    FileId id;
    bool unlinked = false;
};

inline std::vector<LockHold> gateway_lock_holds(pid_t pid, const fs::path& lock_path)
{
    std::vector<LockHold> out;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::error_code lec;
        const std::string target = fs::read_symlink(entry.path(), lec).string();
        if (lec)
            continue;
        const bool named = target == lock_path.string();
        const bool unlinked = target == lock_path.string() + " (deleted)";
        if (!named && !unlinked)
            continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) != 0)
            continue;
        auto info = read_small_file("/proc/" + std::to_string(pid) + "/fdinfo/" + entry.path().filename().string(),
                                    1 << 20);
        if (info && fdinfo_has_flock(*info))
            out.push_back({pid, FileId{st.st_dev, st.st_ino}, unlinked});
    }
    return out;
}

// What the path gateway.lock names now and who holds it, against the
// gateway that should run and the daemon (which may hold it on the
// gateway's behalf, as issue 9 item 2 suggests).
struct LockTruth {
    bool path_exists = false;
    FileId path_id;
    std::vector<pid_t> path_holders;      // processes holding a flock on what the path names
    std::vector<LockHold> gateway_holds;  // the gateway's own flocks on a gateway.lock, named or unlinked

    // The lock is whole: the path names a file held by the gateway or by the
    // daemon, and by nobody else. Anything else is a split lock: a starter
    // that opened the path now would lock it.
    [[nodiscard]] bool whole(pid_t gateway, pid_t daemon) const
    {
        if (!path_exists || path_holders.empty())
            return false;
        return std::all_of(path_holders.begin(), path_holders.end(),
                           [&](pid_t p) { return p == gateway || p == daemon; });
    }
    [[nodiscard]] std::string describe() const
    {
        std::ostringstream out;
        out << "gateway.lock " << (path_exists ? "names inode " + std::to_string(path_id.ino) : std::string("missing"))
            << ", held by [";
        for (pid_t p : path_holders)
            out << " " << p;
        out << " ]; the gateway holds [";
        for (const auto& h : gateway_holds)
            out << " inode " << h.id.ino << (h.unlinked ? " (unlinked)" : "");
        out << " ]";
        return out.str();
    }
};

inline LockTruth lock_truth(const HomePaths& paths, pid_t gateway)
{
    LockTruth t;
    struct stat st {};
    if (::lstat(paths.lock_file.c_str(), &st) == 0) {
        t.path_exists = true;
        t.path_id = FileId{st.st_dev, st.st_ino};
        t.path_holders = find_lock_holders(t.path_id);
    }
    if (gateway > 0)
        t.gateway_holds = gateway_lock_holds(gateway, paths.lock_file);
    return t;
}

// Would a second gateway get the lock now? Done as Hermes' acquire does it:
// open the path (creating it, whatever its mode), then flock without
// waiting. A success is let go at once (closing the fd ends the lock).
inline bool second_acquire_succeeds(const HomePaths& paths)
{
    UniqueFd fd(::open(paths.lock_file.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd)
        return false; // neither could a gateway open it
    return ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
}

// The record is true for `gateway`: validate() says Live naming it, and
// the lock is whole (see LockTruth::whole).
inline bool record_true(const HomePaths& paths, pid_t gateway, pid_t daemon, std::string* why = nullptr)
{
    Verdict v = validate(paths);
    const bool live = v.kind == VerdictKind::Live && v.record() && v.record()->pid == gateway;
    LockTruth t = lock_truth(paths, gateway);
    const bool ok = live && t.whole(gateway, daemon);
    if (why && !ok)
        *why = "verdict: " + v.summary + "; " + t.describe();
    return ok;
}

// Waits (checking every 5 ms) until the record is true for `gateway`; the
// last reason it was not when it never became so.
inline bool await_record_true(const HomePaths& paths, pid_t gateway, pid_t daemon, milliseconds timeout,
                              std::string* why)
{
    auto deadline = dh::Clock::now() + timeout;
    for (;;) {
        std::string reason;
        if (record_true(paths, gateway, daemon, &reason))
            return true;
        if (dh::Clock::now() >= deadline) {
            if (why)
                *why = reason;
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
}

// ---------------------------------------------------------------- the daemon's side

// GatewayExited signals (pid, "code status") since `from`.
inline std::vector<std::pair<pid_t, std::string>> exits_since(dh::BusWatcher& events, std::size_t from)
{
    std::vector<std::pair<pid_t, std::string>> out;
    for (const auto& e : events.since(from))
        if (e.member == "GatewayExited")
            out.emplace_back(static_cast<pid_t>(e.pid), e.code + " " + std::to_string(e.status));
    return out;
}

// For await_status: a gateway runs and is ready, or the daemon gave up
// (so a test does not wait out its timeout on a daemon in `failed`).
inline bool running_or_failed(const fh::Status& s) { return fh::running_ready(s) || fh::state_is(s, "failed"); }

// Did the daemon ever enter `failed` since `from`?
inline bool failed_since(dh::BusWatcher& events, std::size_t from)
{
    auto all = events.since(from);
    return std::any_of(all.begin(), all.end(),
                       [](const dh::BusEvent& e) { return e.member == "StateChanged" && e.new_state == "failed"; });
}

// How often `text` occurs in `log`.
inline int occurrences(const std::string& log, const std::string& text)
{
    int n = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1))
        ++n;
    return n;
}

// The last `n` bytes of a log, for messages.
inline std::string tail(const std::string& log, std::size_t n = 6000)
{
    return log.size() > n ? log.substr(log.size() - n) : log;
}

} // namespace hgw::test::interop
