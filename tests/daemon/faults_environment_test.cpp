// Issue 8, items 1, 3, 4 and 10: the world around the daemon misbehaves
// (home read-only, deleted, out of file descriptors, disk full, gateway.lock
// held by someone else, gateway.pid turned into something unsafe). The
// daemon must never die, never sit in `failed` for good, never orphan a
// gateway: it waits (phase `waiting`, with the reason) and recovers alone
// once the cause is gone; a Replace that provably cannot start a new
// gateway is refused (CannotStart) and leaves the running one alone.

#include "fault_helpers.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::fh;
using namespace std::chrono_literals;

namespace {

// While waiting: the reason is named, no gateway runs, the daemon lives.
void check_waiting(const Status& s, const Site& site, SiteDaemon& daemon)
{
    INFO("status: " << describe(s) << "\ndaemon log:\n" << daemon.log());
    CHECK(text(s, "state") == "waiting");
    CHECK(text(s, "phase") == "waiting");
    CHECK(text(s, "blocked_reason") != "<missing>");
    CHECK_FALSE(text(s, "blocked_reason").empty());
    CHECK(text(s, "pid") == "0");
    CHECK(site.gateways().empty());
    CHECK(daemon.alive());
}

// The lowest file descriptor number free in `pid`.
int lowest_free_fd(pid_t pid)
{
    std::vector<int> used;
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    REQUIRE(d);
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.')
            used.push_back(std::atoi(e->d_name));
    }
    ::closedir(d);
    std::sort(used.begin(), used.end());
    int fd = 0;
    for (int u : used) {
        if (u == fd)
            ++fd;
        else if (u > fd)
            break;
    }
    return fd;
}

} // namespace

// ---------------------------------------------------------------- item 1

TEST_CASE("item 1: a gateway killed while the home is read-only leaves the daemon waiting, and it recovers alone",
          "[daemon][faults][item1][root]")
{
    if (!is_root()) {
        WARN("SKIPPED (needs root): mount --bind and remount read-only of the home; run the suite as root to cover it");
        return;
    }
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);

    Mount ro = Mount::read_only_bind(site.home());
    events.skip_all();
    REQUIRE(PidWatch(first).signal(SIGKILL));
    // Today: `rename .../gateway.pid: Read-only file system` and the daemon exits 1.
    auto waiting = next_state(events, daemon, "waiting");
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(daemon.alive());
    REQUIRE(waiting);
    auto s = try_status(client);
    REQUIRE(s);
    check_waiting(*s, site, daemon);
    INFO("blocked_reason: " << text(*s, "blocked_reason"));

    // Writable again: the daemon notices by itself (no call), and runs one gateway whose record is true.
    ro.set_read_only(false);
    const pid_t second = require_one_true_gateway(events, daemon, client, site);
    CHECK(second != first);
    CHECK(daemon.alive());
    auto status = daemon.stop();
    CHECK(wait_status_text(status) == "exited 0");
}

TEST_CASE("item 1: Stop on a read-only home stops the gateway and answers success", "[daemon][faults][item1][root]")
{
    if (!is_root()) {
        WARN("SKIPPED (needs root): mount --bind and remount read-only of the home; run the suite as root to cover it");
        return;
    }
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);
    PidWatch gw(first);

    Mount ro = Mount::read_only_bind(site.home());
    // Today: "Stop was abandoned before it completed".
    std::string message;
    std::string error = dh::error_of([&] { client.stop(); }, &message);
    INFO("Stop: " << error << " " << message << "\ndaemon log:\n" << daemon.log());
    CHECK(error.empty());
    CHECK(gw.exited());
    REQUIRE(daemon.alive());
    auto s = try_status(client);
    REQUIRE(s);
    CHECK(text(*s, "state") == "stopped");
    CHECK(site.gateways().empty());

    ro.set_read_only(false);
    auto [pid, generation] = client.call_op("Start");
    (void)generation;
    CHECK(static_cast<pid_t>(pid) != first);
    CHECK(require_one_true_gateway(events, daemon, client, site) == static_cast<pid_t>(pid));
}

TEST_CASE("item 1: a gateway killed after its home was deleted leaves the daemon waiting until the home is back",
          "[daemon][faults][item1]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);

    // Moved away whole, then removed: file by file, the removal would race
    // the daemon, which puts gateway.pid and gateway.lock back while its
    // gateway runs (issue 9), and rmdir would find the home not empty.
    const auto trash = site.logs() / "deleted-home";
    std::filesystem::rename(site.home(), trash);
    std::filesystem::remove_all(trash);
    events.skip_all();
    REQUIRE(PidWatch(first).signal(SIGKILL));
    // Today: `open .../gateway.lock: No such file or directory` and the daemon exits 1.
    auto waiting = next_state(events, daemon, "waiting");
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(daemon.alive());
    REQUIRE(waiting);
    auto s = try_status(client);
    REQUIRE(s);
    check_waiting(*s, site, daemon);
    // The daemon did not recreate the home behind the person who deleted it.
    CHECK_FALSE(std::filesystem::exists(site.home()));

    std::filesystem::create_directory(site.home());
    const pid_t second = require_one_true_gateway(events, daemon, client, site);
    CHECK(second != first);
    auto status = daemon.stop();
    CHECK(wait_status_text(status) == "exited 0");
}

TEST_CASE("item 1: out of file descriptors (EMFILE) the daemon lives on, orphans nothing and recovers alone",
          "[daemon][faults][item1]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);

    // As `ulimit -n` just above what it holds: every new descriptor fails
    // with EMFILE (one more once the dead gateway's pidfd is closed).
    rlimit old_limit{};
    REQUIRE(::prlimit(daemon.pid(), RLIMIT_NOFILE, nullptr, &old_limit) == 0);
    rlimit tight = old_limit;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free_fd(daemon.pid()));
    REQUIRE(::prlimit(daemon.pid(), RLIMIT_NOFILE, &tight, nullptr) == 0);
    struct Restore {
        pid_t pid;
        rlimit limit;
        ~Restore() { ::prlimit(pid, RLIMIT_NOFILE, &limit, nullptr); }
    } restore{daemon.pid(), old_limit};

    events.skip_all();
    REQUIRE(PidWatch(first).signal(SIGKILL));
    // The spec: EMFILE is environmental, so `waiting`.
    auto waiting = next_state(events, daemon, "waiting", 15s);
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(daemon.alive());
    CHECK(waiting);
    // Whatever runs is the daemon's: no gateway it lost track of.
    if (auto s = try_status(client)) {
        INFO("status: " << describe(*s));
        auto live = site.gateways();
        CHECK(live.size() <= 1);
        for (pid_t p : live)
            CHECK(p == status_pid(*s));
    }

    ::prlimit(daemon.pid(), RLIMIT_NOFILE, &old_limit, nullptr);
    const pid_t second = require_one_true_gateway(events, daemon, client, site);
    CHECK(second != first);
    CHECK(daemon.alive());
}

// ---------------------------------------------------------------- item 3

TEST_CASE("item 3: --write-pidfile on a full disk waits without an orphan, and Stop and recovery work",
          "[daemon][faults][item3][root]")
{
    if (!is_root()) {
        WARN("SKIPPED (needs root): mounts a small tmpfs as the home to fill it; run the suite as root to cover it");
        return;
    }
    Site site;
    Mount disk = Mount::tmpfs(site.home(), "256k");
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({"--write-pidfile"}, {"--no-pidfile"}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);

    // Freeze the daemon, kill its gateway, take away the record it left
    // (the page it used) and fill the disk: the restart's record cannot be
    // written (ENOSPC).
    {
        daemon.process().signal(SIGSTOP);
        ContinueOnExit resume{daemon.process()};
        PidWatch gw(first);
        REQUIRE(gw.signal(SIGKILL));
        REQUIRE(gw.exited(kTimeout));
        std::filesystem::remove(site.paths().pid_file);
        REQUIRE(fill_disk(site.home(), "filler"));
        events.skip_all();
    }
    auto waiting = next_state(events, daemon, "waiting");
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(daemon.alive());
    REQUIRE(waiting);
    // No gateway runs unsupervised holding the lock (today: GatewayPID 0
    // and the spawned gateway runs on).
    auto s = try_status(client);
    REQUIRE(s);
    check_waiting(*s, site, daemon);
    CHECK_FALSE(validate(site.paths()).lock.held);

    SECTION("it recovers alone once space is freed")
    {
        std::filesystem::remove(site.home() / "filler");
        const pid_t second = require_one_true_gateway(events, daemon, client, site);
        CHECK(second != first);
    }
    SECTION("Stop answers at once and Start works once space is freed")
    {
        std::string message;
        auto t0 = Clock::now();
        std::string error = dh::error_of([&] { client.stop(); }, &message);
        INFO("Stop: " << error << " " << message);
        CHECK(error.empty());
        CHECK(Clock::now() - t0 < 10s);
        auto after = try_status(client);
        REQUIRE(after);
        CHECK(text(*after, "state") == "stopped");
        CHECK(site.gateways().empty());
        CHECK_FALSE(validate(site.paths()).lock.held);

        std::filesystem::remove(site.home() / "filler");
        auto [pid, generation] = client.call_op("Start");
        (void)generation;
        CHECK(require_one_true_gateway(events, daemon, client, site) == static_cast<pid_t>(pid));
    }
    auto status = daemon.stop();
    CHECK(wait_status_text(status) == "exited 0");
}

// ---------------------------------------------------------------- item 4

TEST_CASE("item 4: a transient holder of gateway.lock at a restart makes the daemon wait, not fail",
          "[daemon][faults][item4]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    const bool during_replace = GENERATE(false, true);
    INFO((during_replace ? "during a replace" : "after a crash"));
    SiteDaemon daemon(bus, site, quick({"--drain-timeout", "10s"}, {"--drain", "0.5"}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);
    PidWatch gw(first);

    // The replace's caller, on a thread of its own (no assertions there).
    std::atomic<bool> replace_done{false};
    std::string replace_error;
    std::uint32_t replace_pid = 0;
    std::unique_ptr<ManagerClient> replacer;
    std::thread replace_thread;
    if (during_replace) {
        replacer = std::make_unique<ManagerClient>(bus);
        replace_thread = std::thread([&] {
            replace_error = dh::error_of([&] { replace_pid = replacer->call_op("Replace").first; });
            replace_done = true;
        });
        REQUIRE(events.next_state("replacing"));
        // The drain has begun (the gateway got SIGUSR1) before the daemon is frozen below.
        auto deadline = Clock::now() + kTimeout;
        while (site.stub_log().find("Received SIGUSR1") == std::string::npos && Clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        REQUIRE(site.stub_log().find("Received SIGUSR1") != std::string::npos);
    }
    struct Join {
        std::thread& t;
        ~Join()
        {
            if (t.joinable())
                t.join();
        }
    } join{replace_thread};

    std::optional<InstanceLock> holder;
    {
        // Between the old gateway's exit and the next start, someone (a
        // backup tool, a status probe) takes gateway.lock.
        daemon.process().signal(SIGSTOP);
        ContinueOnExit resume{daemon.process()};
        if (!during_replace)
            REQUIRE(gw.signal(SIGKILL));
        REQUIRE(gw.exited(kTimeout)); // a replace: the drain ends by itself
        holder = InstanceLock::try_acquire(site.paths().lock_file);
        REQUIRE(holder);
        events.skip_all();
    }
    // Today: `failed` for good, "another gateway holds this home".
    auto waiting = next_state(events, daemon, "waiting");
    INFO("daemon log:\n" << daemon.log());
    REQUIRE(daemon.alive());
    REQUIRE(waiting);
    auto s = try_status(client);
    REQUIRE(s);
    check_waiting(*s, site, daemon);
    // It names who holds the lock: this test process.
    CHECK(text(*s, "blocked_reason").find(std::to_string(::getpid())) != std::string::npos);
    // Nothing was started against the held lock.
    CHECK_FALSE(dh::lost_a_race(site.stub_log()));

    holder.reset(); // the holder goes away: the daemon starts a gateway by itself
    const pid_t second = require_one_true_gateway(events, daemon, client, site);
    CHECK(second != first);
    if (during_replace) {
        replace_thread.join();
        INFO("Replace: " << replace_error);
        // If the Replace said yes, it named the gateway that runs now.
        if (replace_error.empty())
            CHECK(static_cast<pid_t>(replace_pid) == second);
    }
    CHECK_FALSE(dh::lost_a_race(site.stub_log()));
}

// ---------------------------------------------------------------- item 10

TEST_CASE("item 10: Replace and Restart are refused with CannotStart when gateway.pid is unsafe, and the gateway "
          "is left alone",
          "[daemon][faults][item10]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    SiteDaemon daemon(bus, site, quick({}, {"--drain", "0"}));
    ManagerClient client(bus);
    const pid_t first = require_one_true_gateway(events, daemon, client, site);
    PidWatch gw(first);
    const auto pid_file = site.paths().pid_file;
    std::optional<Mount> ro;

    std::string what = GENERATE(as<std::string>{}, "directory", "fifo", "symlink", "read-only home");
    INFO("gateway.pid: " << what);
    if (what == "read-only home" && !is_root()) {
        WARN("SKIPPED (needs root): mount --bind and remount read-only of the home; run the suite as root to cover it");
        return;
    }
    // Made beside it, then swapped in at once: a gateway.pid that is merely
    // missing, the daemon would publish again (issue 9) before we could put
    // the unsafe file there.
    const auto unsafe = site.home() / ".gateway.pid.unsafe";
    if (what == "directory")
        std::filesystem::create_directory(unsafe);
    else if (what == "fifo")
        REQUIRE(::mkfifo(unsafe.c_str(), 0644) == 0);
    else if (what == "symlink")
        std::filesystem::create_symlink(site.logs() / "elsewhere.pid", unsafe);
    else
        ro.emplace(Mount::read_only_bind(site.home()));
    if (what != "read-only home")
        REQUIRE(::renameat2(AT_FDCWD, unsafe.c_str(), AT_FDCWD, pid_file.c_str(), RENAME_EXCHANGE) == 0);

    for (const char* method : {"Replace", "Restart"}) {
        INFO(method);
        std::string message;
        std::string error = dh::error_of([&] { client.call_op(method); }, &message);
        INFO("answer: " << error << ": " << message << "\ndaemon log:\n" << daemon.log());
        CHECK(error == dh::err("CannotStart"));
        CHECK_FALSE(message.empty());
        // Left alone: same pid, alive, never asked to drain.
        CHECK_FALSE(gw.exited());
        auto s = try_status(client);
        REQUIRE(s);
        CHECK(text(*s, "state") == "running");
        CHECK(status_pid(*s) == first);
        CHECK(site.stub_log().find("Received SIGUSR1") == std::string::npos);
    }
    CHECK(site.gateways() == std::vector<pid_t>{first});

    // Once the cause is gone, a Replace goes through.
    if (ro)
        ro->set_read_only(false);
    else
        std::filesystem::remove(pid_file);
    auto [pid, generation] = client.call_op("Replace");
    (void)generation;
    CHECK(gw.exited());
    CHECK(static_cast<pid_t>(pid) != first);
    CHECK(require_one_true_gateway(events, daemon, client, site) == static_cast<pid_t>(pid));
}
