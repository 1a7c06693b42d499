// Issue 8, item 12: `pidfile clean` and the daemon's own pre-start clean
// take gateway.lock only when there is a record to judge. Hermes takes the
// lock without waiting (LOCK_NB): a clean that holds it, even for a moment,
// on a home with no record makes a starting gateway fail. Here a thread
// plays that starter, taking and dropping the lock as fast as it can, and
// counts every time it finds the lock held.

#include "fault_helpers.h"

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::fh;
using namespace std::chrono_literals;

namespace {

// Takes gateway.lock without waiting and drops it, over and over, until stopped.
class Starter {
public:
    explicit Starter(std::filesystem::path lock) : lock_(std::move(lock))
    {
        thread_ = std::thread([this] {
            while (!stop_) {
                auto l = InstanceLock::try_acquire(lock_);
                ++tries_;
                if (!l)
                    ++refused_;
            }
        });
    }
    ~Starter() { finish(); }
    void finish()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    [[nodiscard]] long tries() const { return tries_; }
    [[nodiscard]] long refused() const { return refused_; }

private:
    std::filesystem::path lock_;
    std::atomic<bool> stop_{false};
    std::atomic<long> tries_{0}, refused_{0};
    std::thread thread_;
};

} // namespace

TEST_CASE("item 12: pidfile clean on a home with no record never holds gateway.lock", "[daemon][faults][item12]")
{
    Site site;
    site.write("gateway.lock", ""); // as a gateway that exited cleanly leaves it
    constexpr int kLoops = 4, kCleans = 25;
    // The clean loops are shells forked before the starter begins: a child
    // forked from this process while the starter holds the lock would hold
    // it too, until its exec.
    const std::string loop = "i=0; while [ $i -lt " + std::to_string(kCleans) + " ]; do \"$0\" pidfile clean --home \"$1\" " +
                             ">/dev/null 2>&1 || echo FAILED; i=$((i+1)); done; echo DONE";
    std::vector<Child> loops;
    for (int i = 0; i < kLoops; ++i) {
        SpawnOptions so;
        so.output_file = (site.logs() / ("loop" + std::to_string(i) + ".out")).string();
        loops.push_back(Child::spawn({"/bin/sh", "-c", loop, ctl_path(), site.home().string()}, so));
    }
    Starter starter(site.paths().lock_file);
    for (auto& l : loops)
        REQUIRE(l.wait(120s));
    starter.finish();
    int failed_cleans = 0, done = 0;
    for (int i = 0; i < kLoops; ++i) {
        std::string out = Site::read_file(site.logs() / ("loop" + std::to_string(i) + ".out"));
        for (std::size_t at = out.find("FAILED"); at != std::string::npos; at = out.find("FAILED", at + 1))
            ++failed_cleans;
        done += out.find("DONE") != std::string::npos ? 1 : 0;
    }
    INFO(starter.tries() << " tries to take the lock during " << kLoops * kCleans << " cleans");
    CHECK(done == kLoops);
    CHECK(starter.tries() > 1000);
    CHECK(starter.refused() == 0); // today: a clean holds it while it judges nothing
    CHECK(failed_cleans == 0);
    CHECK_FALSE(std::filesystem::exists(site.paths().pid_file));
}

TEST_CASE("item 12: the daemon's pre-start clean on a home with no record never holds gateway.lock",
          "[daemon][faults][item12]")
{
    Site site;
    PrivateBus bus;
    BusWatcher events(bus);
    // A gateway that writes no record and takes no lock, ready on READY=1:
    // the only one who might take gateway.lock is the daemon, before each start.
    SiteDaemon daemon(bus, site,
                      quick({"--readiness", "notify", "--burst", "1000", "--burst-window", "60s"}, {"--no-pidfile"}));
    ManagerClient client(bus);
    auto [ok, s] = await_status(events, daemon, client, running_ready);
    REQUIRE(ok);
    pid_t current = status_pid(s);
    site.write("gateway.lock", "");

    Starter starter(site.paths().lock_file);
    constexpr int kRestarts = 10;
    for (int i = 0; i < kRestarts; ++i) {
        INFO("restart " << i);
        events.skip_all();
        REQUIRE(PidWatch(current).signal(SIGKILL));
        auto [up, st] = await_status(events, daemon, client,
                                     [&](const Status& x) { return running_ready(x) && status_pid(x) != current; });
        INFO("status: " << describe(st) << "\ndaemon log:\n" << daemon.log());
        REQUIRE(up);
        current = status_pid(st);
    }
    starter.finish();
    INFO(starter.tries() << " tries to take the lock during " << kRestarts << " restarts");
    CHECK(starter.tries() > 1000);
    CHECK(starter.refused() == 0);
}
