#pragma once
// Shared by the tests of issue 9 (tests/daemon/hermes_interop_*_test.cpp):
// the daemon running the Hermes-faithful stub (tests/stub/README.md),
// Hermes' own reader polling beside it, who holds which gateway.lock (the
// one the path names, or one a reader unlinked), a watch that times how long
// the record stays untrue after each deletion, and the counts that
// bench/interop turns into a table.
//
// The counts come from the environment so that bench/interop can run the
// same tests at the full size; ctest runs them small.

#include "fault_helpers.h"

#include "core/lock_holders.h"
#include "support/scoped_env.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <list>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
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

inline double monotonic_s()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
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

// The environment variables of a live process (/proc/PID/environ).
inline std::map<std::string, std::string> process_environment(pid_t pid)
{
    std::map<std::string, std::string> env;
    std::string raw = fh::Site::read_file("/proc/" + std::to_string(pid) + "/environ");
    std::size_t at = 0;
    while (at < raw.size()) {
        std::size_t end = raw.find('\0', at);
        if (end == std::string::npos)
            end = raw.size();
        std::string entry = raw.substr(at, end - at);
        if (auto eq = entry.find('='); eq != std::string::npos)
            env[entry.substr(0, eq)] = entry.substr(eq + 1);
        at = end + 1;
    }
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

// ---------------------------------------------------------------- Hermes' reader

struct ReaderSummary {
    long probes = 0;
    long running = 0;
    long unlinked_pid = 0;
    long unlinked_lock = 0;
    long held_lock_unlinked = 0; // each one a split lock the reader made
    std::string raw;
};

struct Deletion {
    double t = 0;     // CLOCK_MONOTONIC, s
    std::string name; // gateway.pid or gateway.lock
    bool held = false;
};

// tests/stub/hermes_status.py --faithful --home H --poll MS --events FILE:
// Hermes' unscoped "is a gateway running?" with its cleanup, in a loop.
class FaithfulReader {
public:
    FaithfulReader(const fh::Site& site, double poll_ms, const std::string& name = "reader")
        : events_(site.logs() / (name + ".events")), child_(spawn(site, poll_ms))
    {
    }
    ~FaithfulReader()
    {
        if (!stopped_)
            stop();
    }
    FaithfulReader(const FaithfulReader&) = delete;
    FaithfulReader& operator=(const FaithfulReader&) = delete;

    [[nodiscard]] pid_t pid() const { return child_.pid(); }

    // SIGTERM, then its one summary line.
    ReaderSummary stop()
    {
        stopped_ = true;
        child_.signal(SIGTERM);
        child_.wait();
        ReaderSummary s;
        s.raw = child_.output();
        auto at = s.raw.rfind("{\"probes\"");
        if (at == std::string::npos)
            return s;
        try {
            auto j = nlohmann::json::parse(s.raw.substr(at, s.raw.find('\n', at) - at));
            s.probes = j.value("probes", 0L);
            s.running = j.value("running", 0L);
            s.unlinked_pid = j["unlinked"].value("gateway.pid", 0L);
            s.unlinked_lock = j["unlinked"].value("gateway.lock", 0L);
            s.held_lock_unlinked = j.value("held_lock_unlinked", 0L);
        } catch (const nlohmann::json::exception&) {
        }
        return s;
    }

    // Every unlink it made so far, from its --events file.
    [[nodiscard]] std::vector<Deletion> deletions() const
    {
        std::vector<Deletion> out;
        std::ifstream in(events_);
        std::string line;
        while (std::getline(in, line)) {
            try {
                auto j = nlohmann::json::parse(line);
                out.push_back({j.at("t").get<double>(), j.at("unlinked").get<std::string>(), j.value("held", false)});
            } catch (const nlohmann::json::exception&) {
                // a line being written as we read
            }
        }
        return out;
    }

private:
    Child spawn(const fh::Site& site, double poll_ms)
    {
        std::ostringstream ms;
        ms << poll_ms;
        SpawnOptions so;
        so.capture_output = true;
        so.unset_env = {"HERMES_HOME"};
        return Child::spawn({source_path("tests/stub/hermes_status.py"), "--faithful", "--home", site.home().string(),
                             "--poll", ms.str(), "--events", events_.string()},
                            so);
    }

    fs::path events_;
    Child child_;
    bool stopped_ = false;
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

// ---------------------------------------------------------------- running gateways, sampled

// Samples, every ~1 ms, how many of a site's processes hold a flock on a
// file that is or was the home's gateway.lock: a Hermes gateway holds it
// from its claim to its exit, so two at once are two running gateways (a
// daemon, which is no stub, is never counted). The list of the site's stub
// processes is refreshed every 10 ms: no stub claims sooner than that after
// its exec (a Python start alone takes longer).
class GatewaySampler {
public:
    explicit GatewaySampler(const fh::Site& site)
        : marker_(site.marker()), lock_path_(site.paths().lock_file), thread_([this] { run(); })
    {
    }
    ~GatewaySampler() { stop(); }
    GatewaySampler(const GatewaySampler&) = delete;
    GatewaySampler& operator=(const GatewaySampler&) = delete;

    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    [[nodiscard]] long samples() const { return samples_; }
    [[nodiscard]] int max_at_once() const { return max_; }
    // The pids seen together the first time more than one ran.
    [[nodiscard]] std::vector<pid_t> first_overlap()
    {
        std::lock_guard lock(mutex_);
        return overlap_;
    }

private:
    void run()
    {
        std::vector<pid_t> candidates;
        auto refreshed = dh::Clock::time_point{};
        while (!stop_) {
            if (dh::Clock::now() - refreshed >= 10ms) {
                candidates = dh::live_gateways(marker_);
                refreshed = dh::Clock::now();
            }
            std::vector<pid_t> holding;
            for (pid_t p : candidates)
                if (!gateway_lock_holds(p, lock_path_).empty())
                    holding.push_back(p);
            ++samples_;
            const int n = static_cast<int>(holding.size());
            if (n > max_) {
                max_ = n;
                if (n > 1) {
                    std::lock_guard lock(mutex_);
                    if (overlap_.empty())
                        overlap_ = holding;
                }
            }
            std::this_thread::sleep_for(1ms);
        }
    }

    std::string marker_;
    fs::path lock_path_;
    std::atomic<bool> stop_{false};
    std::atomic<long> samples_{0};
    std::atomic<int> max_{0};
    std::mutex mutex_;
    std::vector<pid_t> overlap_;
    std::thread thread_;
};

// ---------------------------------------------------------------- how long the record stays untrue

// Watches the home with inotify: each time gateway.pid or gateway.lock is
// removed, it notes the time, whether a gateway was running then (a site
// process holding a gateway.lock, named or unlinked), and checks the record
// (validate() Live, its process holding what the path names, or the
// daemon) every 0.2 ms, then less often, until it is true again, for at
// most 10 s. Joined with the reader's --events file, that gives the time
// from each of the reader's deletions to the record being true again.
class TruthWatch {
public:
    struct Spell {
        std::string name;
        double deleted_seen = 0; // when the watch saw the deletion
        bool gateway_ran = false;
        double true_again = -1; // -1: not within 10 s
    };

    TruthWatch(const fh::Site& site, pid_t daemon)
        : paths_(site.paths()), marker_(site.marker()), daemon_(daemon), fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK))
    {
        if (!fd_ || ::inotify_add_watch(fd_.get(), paths_.home.c_str(), IN_DELETE | IN_MOVED_FROM) < 0)
            throw std::runtime_error("inotify on " + paths_.home.string() + ": " + std::strerror(errno));
        thread_ = std::thread([this] { run(); });
    }
    ~TruthWatch() { stop(); }
    TruthWatch(const TruthWatch&) = delete;
    TruthWatch& operator=(const TruthWatch&) = delete;

    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    std::vector<Spell> spells()
    {
        std::lock_guard lock(mutex_);
        return spells_;
    }

    // For each of the reader's deletions made while a gateway ran, the time
    // (ms) until the record was true again; -1 for never (within 10 s).
    std::vector<double> repair_ms(const std::vector<Deletion>& deletions)
    {
        auto all = spells();
        std::vector<double> out;
        for (const auto& d : deletions) {
            // The watch's sighting of this very unlink: the first of that
            // name at or after it (within 0.5 s).
            auto it = std::find_if(all.begin(), all.end(), [&](const Spell& s) {
                return s.name == d.name && s.deleted_seen >= d.t - 0.001 && s.deleted_seen - d.t < 0.5;
            });
            if (it == all.end() || !it->gateway_ran)
                continue;
            out.push_back(it->true_again < 0 ? -1.0 : std::max(0.0, (it->true_again - d.t) * 1000.0));
        }
        return out;
    }

private:
    [[nodiscard]] bool record_is_true() const
    {
        Verdict v = validate(paths_);
        if (v.kind != VerdictKind::Live || !v.record())
            return false;
        return lock_truth(paths_, 0).whole(v.record()->pid, daemon_);
    }
    [[nodiscard]] bool a_gateway_runs() const
    {
        for (pid_t p : dh::live_gateways(marker_))
            if (!gateway_lock_holds(p, paths_.lock_file).empty())
                return true;
        return false;
    }

    // Deletions are read (and timed) as they come, also while earlier ones
    // still wait for the record to be true again.
    void run()
    {
        alignas(inotify_event) char buf[4096];
        std::vector<std::size_t> pending; // spells not true again yet
        double last_deletion = 0;
        while (!stop_) {
            const double since = monotonic_s() - last_deletion;
            const long wait_ns = pending.empty() ? 50'000'000L : since < 0.05 ? 200'000L : since < 1.0 ? 2'000'000L : 20'000'000L;
            timespec ts{0, wait_ns};
            pollfd p{fd_.get(), POLLIN, 0};
            if (::ppoll(&p, 1, &ts, nullptr) > 0) {
                ssize_t n = ::read(fd_.get(), buf, sizeof buf);
                const double seen = monotonic_s();
                std::vector<std::string> names;
                for (ssize_t at = 0; at < n;) {
                    auto* e = reinterpret_cast<inotify_event*>(buf + at);
                    std::string name = e->len ? std::string(e->name) : std::string();
                    if (name == "gateway.pid" || name == "gateway.lock")
                        names.push_back(name);
                    at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
                }
                if (!names.empty()) {
                    const bool ran = a_gateway_runs();
                    std::lock_guard lock(mutex_);
                    for (auto& name : names) {
                        pending.push_back(spells_.size());
                        spells_.push_back({name, seen, ran, -1});
                    }
                    last_deletion = seen;
                }
            }
            if (pending.empty())
                continue;
            if (record_is_true()) {
                const double now = monotonic_s();
                std::lock_guard lock(mutex_);
                for (std::size_t i : pending)
                    spells_[i].true_again = now;
                pending.clear();
            } else {
                // Not true within 10 s: left at -1 (never).
                const double now = monotonic_s();
                std::lock_guard lock(mutex_);
                std::erase_if(pending, [&](std::size_t i) { return now - spells_[i].deleted_seen > 10.0; });
            }
        }
    }

    HomePaths paths_;
    std::string marker_;
    pid_t daemon_;
    UniqueFd fd_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::vector<Spell> spells_;
    std::thread thread_;
};

// p50, p95 and max of the spells that ended, and how many never did (-1).
inline nlohmann::json percentiles(std::vector<double> ms)
{
    nlohmann::json j;
    j["n"] = ms.size();
    j["never"] = std::count(ms.begin(), ms.end(), -1.0);
    std::vector<double> done;
    for (double v : ms)
        if (v >= 0)
            done.push_back(v);
    std::sort(done.begin(), done.end());
    if (done.empty()) { // null: nothing was repaired to measure
        j["p50"] = j["p95"] = j["max"] = nullptr;
        return j;
    }
    auto at = [&](double q) { return done[std::min(done.size() - 1, static_cast<std::size_t>(q * done.size()))]; };
    j["p50"] = at(0.50);
    j["p95"] = at(0.95);
    j["max"] = done.back();
    return j;
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
