#pragma once
// Shared by the fault tests of issue 8 (tests/daemon/faults_*_test.cpp): a
// Hermes home whose daemon log, notify socket and stub log live beside it,
// not in it (so the home can be deleted, made read-only or be a tiny tmpfs),
// a daemon launcher for such a site, mounts that undo themselves, and waits
// with deadlines on the daemon's fate, its status and its log.

#include "daemon_helpers.h"

#include "core/instance_lock.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace hgw::test::fh {

using namespace std::chrono_literals;
using dh::BusEvent;
using dh::BusWatcher;
using dh::Clock;
using dh::PidWatch;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

inline bool is_root() { return ::geteuid() == 0; }

// ---------------------------------------------------------------- a site

// <tmp>/home is the Hermes home, <tmp>/logs what the test and the daemon
// write about it. Every stub gets --log <tmp>/logs/stub.log, so the site's
// path marks its gateways (and their forked workers) in the process table.
class Site {
public:
    Site()
    {
        fs::create_directory(home());
        fs::create_directory(logs());
    }
    ~Site() { kill_leftovers(); }
    Site(const Site&) = delete;
    Site& operator=(const Site&) = delete;

    [[nodiscard]] fs::path home() const { return root_.dir() / "home"; }
    [[nodiscard]] fs::path logs() const { return root_.dir() / "logs"; }
    [[nodiscard]] std::string marker() const { return root_.dir().string(); }
    [[nodiscard]] HomePaths paths() const { return paths_for(home()); }
    [[nodiscard]] fs::path stub_log_path() const { return logs() / "stub.log"; }

    [[nodiscard]] std::string stub_log() const { return read_file(stub_log_path()); }
    // The stub's flags every test passes, plus `extra`.
    [[nodiscard]] std::vector<std::string> stub_args(std::vector<std::string> extra = {}) const
    {
        std::vector<std::string> args = {"--log", stub_log_path().string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    // Live stub processes (gateways and their workers) of this site.
    [[nodiscard]] std::vector<pid_t> gateways() const { return dh::live_gateways(marker()); }

    void write(const std::string& name, const std::string& bytes) const
    {
        std::ofstream(home() / name, std::ios::binary | std::ios::trunc) << bytes;
    }
    static std::string read_file(const fs::path& p)
    {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    // SIGKILLs every stub process of this site still alive, through a pidfd
    // whose command line was checked after it was opened.
    void kill_leftovers() const
    {
        for (pid_t pid : dh::live_gateways(marker())) {
            UniqueFd fd(hgw::pidfd_open(pid));
            if (!fd)
                continue;
            auto argv = dh::proc_cmdline(pid);
            bool ours = std::any_of(argv.begin(), argv.end(),
                                    [&](const std::string& a) { return a.find(marker()) != std::string::npos; });
            if (!ours)
                continue;
            hgw::pidfd_send_signal(fd.get(), SIGKILL);
            pollfd p{fd.get(), POLLIN, 0};
            ::poll(&p, 1, 5000);
        }
    }

private:
    TempHome root_;
};

// ---------------------------------------------------------------- the daemon

// hermes-gatewayd for a Site, on a private bus, its output in
// logs/<name>.log. Unlike GatewayDaemon, going away it ends only what is
// provably this site's (stubs whose command line names the site).
class SiteDaemon {
public:
    SiteDaemon(const PrivateBus& bus, const Site& site, const DaemonOptions& options = {})
        : SiteDaemon(bus.address(), site, options)
    {
    }
    SiteDaemon(const std::string& bus_address, const Site& site, const DaemonOptions& options = {})
        : log_(site.logs() / (options.name + ".log")),
          notify_(std::make_unique<NotifyListener>((site.logs() / (options.name + ".sock")).string())),
          child_(spawn_daemon(bus_address, site.home(), log_, *notify_, options,
                              site.stub_args(options.gateway_args)))
    {
        if (options.wait_ready && !notify_->wait_for("READY=1"))
            throw std::runtime_error("hermes-gatewayd sent no READY=1; its log:\n" + log());
    }
    ~SiteDaemon()
    {
        try {
            child_.signal(SIGTERM);
            child_.wait();
        } catch (...) {
        }
    }
    SiteDaemon(const SiteDaemon&) = delete;
    SiteDaemon& operator=(const SiteDaemon&) = delete;

    [[nodiscard]] pid_t pid() const { return child_.pid(); }
    Child& process() { return child_; }
    NotifyListener& notify() { return *notify_; }
    [[nodiscard]] std::string log() const { return Site::read_file(log_); }
    [[nodiscard]] std::size_t log_size() const { return log().size(); }
    // Alive: not exited (a zombie counts as exited).
    bool alive() { return !child_.wait_exited_unreaped(0ms); }
    // SIGTERM, then the wait status (nothing on timeout).
    std::optional<int> stop()
    {
        child_.signal(SIGTERM);
        return child_.wait();
    }

    // Waits until the daemon's log, from byte `from` on, contains `text`.
    bool wait_log(const std::string& text, std::size_t from = 0, milliseconds timeout = kTimeout)
    {
        auto deadline = Clock::now() + timeout;
        for (;;) {
            std::string l = log();
            if (l.size() > from && l.find(text, from) != std::string::npos)
                return true;
            if (Clock::now() >= deadline)
                return false;
            std::this_thread::sleep_for(20ms);
        }
    }

private:
    fs::path log_;
    std::unique_ptr<NotifyListener> notify_;
    Child child_;
};

// ---------------------------------------------------------------- status

using Status = std::map<std::string, sdbus::Variant>;

// A GetStatus value as text, "<missing>" when the daemon has no such key
// (today's daemon has no phase, job, blocked_reason or foreign_pid).
inline std::string text(const Status& s, const std::string& key)
{
    auto it = s.find(key);
    return it == s.end() ? std::string("<missing>") : dh::variant_text(it->second);
}

inline pid_t status_pid(const Status& s) { return static_cast<pid_t>(dh::field<std::uint32_t>(s, "pid")); }

inline std::string describe(const Status& s)
{
    std::string out;
    for (const auto& [k, v] : s)
        if (k != "command")
            out += k + "=" + dh::variant_text(v) + " ";
    return out;
}

// GetStatus with a short method timeout; nothing if the call failed.
inline std::optional<Status> try_status(ManagerClient& client, milliseconds timeout = 5s)
{
    try {
        Status out;
        client.proxy()
            .callMethod(HGW_BUS_METHOD_GET_STATUS)
            .onInterface(HGW_BUS_INTERFACE)
            .withTimeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout))
            .storeResultsTo(out);
        return out;
    } catch (const sdbus::Error&) {
        return std::nullopt;
    }
}

// The next StateChanged into `state`; gives up early (nothing) when the
// daemon exits meanwhile, so a daemon that dies fails the test at once.
inline std::optional<BusEvent> next_state(BusWatcher& events, SiteDaemon& daemon, const std::string& state,
                                          milliseconds timeout = kTimeout)
{
    auto deadline = Clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        if (auto e = events.next_state(state, std::min(left, milliseconds(250))))
            return e;
        if (!daemon.alive())
            return events.next_state(state, 0ms); // one last look at what came before the exit
    }
}

// Waits until GetStatus satisfies `pred` (GetStatus is asked again at each
// StateChanged or PropertiesChanged, and at least every 250 ms); the last
// status seen, and whether it matched.
inline std::pair<bool, Status> await_status(BusWatcher& events, SiteDaemon& daemon, ManagerClient& client,
                                            const std::function<bool(const Status&)>& pred,
                                            milliseconds timeout = kTimeout)
{
    auto deadline = Clock::now() + timeout;
    Status last;
    for (;;) {
        if (auto s = try_status(client)) {
            last = *s;
            if (pred(last))
                return {true, last};
        }
        auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left.count() <= 0 || !daemon.alive())
            return {false, last};
        events.next(
            [](const BusEvent& e) {
                return e.member == HGW_BUS_SIGNAL_STATE_CHANGED || e.member == "PropertiesChanged";
            },
            std::min(left, milliseconds(250)));
    }
}

inline bool state_is(const Status& s, const std::string& state) { return text(s, "state") == state; }

inline bool running_ready(const Status& s)
{
    return text(s, "state") == "running" && text(s, "ready") == "true" && text(s, "pid") != "0";
}

// The daemon runs exactly one gateway, ready, whose record is true, and no
// other stub process of the site lives. Returns its pid (0 if not).
inline pid_t require_one_true_gateway(BusWatcher& events, SiteDaemon& daemon, ManagerClient& client,
                                      const Site& site)
{
    auto [ok, s] = await_status(events, daemon, client, running_ready);
    INFO("status: " << describe(s) << "\ndaemon log:\n" << daemon.log());
    REQUIRE(ok);
    pid_t pid = status_pid(s);
    Verdict v = validate(site.paths());
    INFO("verdict: " << v.summary);
    CHECK(v.kind == VerdictKind::Live);
    CHECK(v.lock.held);
    if (v.record())
        CHECK(v.record()->pid == pid);
    CHECK(site.gateways() == std::vector<pid_t>{pid});
    return pid;
}

// ---------------------------------------------------------------- mounts (root)

// A mount over `target` that goes away with this object (lazily, so files
// still open on it do not keep it).
class Mount {
public:
    // A bind mount of `dir` onto itself, made read-only.
    static Mount read_only_bind(const fs::path& dir)
    {
        Mount m(dir);
        if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0)
            throw std::runtime_error("bind mount " + dir.string() + ": " + std::strerror(errno));
        m.mounted_ = true;
        m.set_read_only(true);
        return m;
    }
    // A tmpfs of `size` (e.g. "128k") on `dir`.
    static Mount tmpfs(const fs::path& dir, const std::string& size)
    {
        Mount m(dir);
        std::string opts = "size=" + size + ",mode=0755";
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0)
            throw std::runtime_error("mount tmpfs on " + dir.string() + ": " + std::strerror(errno));
        m.mounted_ = true;
        return m;
    }
    Mount(Mount&& o) noexcept : target_(std::move(o.target_)), mounted_(o.mounted_) { o.mounted_ = false; }
    Mount& operator=(Mount&&) = delete;
    ~Mount()
    {
        if (mounted_)
            ::umount2(target_.c_str(), MNT_DETACH);
    }
    void set_read_only(bool ro)
    {
        unsigned long flags = MS_REMOUNT | MS_BIND | (ro ? MS_RDONLY : 0);
        if (::mount(nullptr, target_.c_str(), nullptr, flags, nullptr) != 0)
            throw std::runtime_error("remount " + target_.string() + ": " + std::strerror(errno));
    }

private:
    explicit Mount(fs::path target) : target_(std::move(target)) {}
    fs::path target_;
    bool mounted_ = false;
};

// Fills the filesystem of `dir` with `dir`/name until a write fails with
// ENOSPC. True if it did.
inline bool fill_disk(const fs::path& dir, const std::string& name)
{
    int fd = ::open((dir / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    std::vector<char> block(4096, 'x');
    bool full = false;
    for (std::size_t chunk : {std::size_t{4096}, std::size_t{1}}) {
        for (;;) {
            ssize_t n = ::write(fd, block.data(), chunk);
            if (n < 0 && errno == ENOSPC) {
                full = true;
                break;
            }
            if (n <= 0)
                break;
        }
    }
    ::close(fd);
    return full;
}

// ---------------------------------------------------------------- misc

// The pid in a file another process writes (atomically), waiting for it.
inline pid_t wait_pid_file(const fs::path& p, milliseconds timeout = kTimeout)
{
    auto deadline = Clock::now() + timeout;
    for (;;) {
        std::string s = Site::read_file(p);
        if (!s.empty() && s.back() == '\n')
            return static_cast<pid_t>(std::stol(s));
        if (Clock::now() >= deadline)
            return 0;
        std::this_thread::sleep_for(20ms);
    }
}

// Kills a process (by pidfd) when the scope ends, if it still lives: for
// processes a daemon that fails the test may leave.
class KillOnExit {
public:
    explicit KillOnExit(pid_t pid) : fd_(hgw::pidfd_open(pid)) {}
    ~KillOnExit()
    {
        if (fd_)
            hgw::pidfd_send_signal(fd_.get(), SIGKILL);
    }
    KillOnExit(const KillOnExit&) = delete;
    KillOnExit& operator=(const KillOnExit&) = delete;

private:
    UniqueFd fd_;
};

// Sends SIGCONT to a process when the scope ends: for a daemon a test froze.
struct ContinueOnExit {
    Child& child;
    ~ContinueOnExit() { child.signal(SIGCONT); }
};

inline std::string wait_status_text(const std::optional<int>& status)
{
    if (!status)
        return "still running";
    if (WIFEXITED(*status))
        return "exited " + std::to_string(WEXITSTATUS(*status));
    if (WIFSIGNALED(*status))
        return std::string("killed by ") + sigabbrev_np(WTERMSIG(*status));
    return "status " + std::to_string(*status);
}

} // namespace hgw::test::fh
