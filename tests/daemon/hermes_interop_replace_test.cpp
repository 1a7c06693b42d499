// Issue 9, item 5, as its second "What must show" bullet asks: a person runs
// `hermes gateway run --replace` (the faithful model: takeover marker,
// SIGTERM to the running gateway, gateway.pid removed whoever it names, then
// its own claim) by hand against a home the daemon supervises: the same
// HERMES_HOME, none of the supervisor variables in its environment. Each
// round, with a sampler looking every ~1 ms at which of the site's
// processes hold a gateway.lock (named or unlinked):
//   * never two gateways at any sampled instant;
//   * the replacer's takeover stands: it runs, its record is true, and the
//     daemon reports `foreign` naming it (State, foreign_pid in GetStatus)
//     instead of restarting into it;
//   * when the replacer exits (here: Ctrl-C, a planned stop), the daemon
//     starts its own gateway again, with a true record;
//   * the daemon never enters `failed`.
// Run with fast starts and with Hermes-like ones (--lock-delay 1-3 s: the
// replacer sleeps before it does anything, as Python and Hermes' imports
// do). Also: Stop and Replace over the bus act on the foreign gateway.
// Sizes: HGW_INTEROP_TAKEOVERS runs of each kind (default 5; the bench: 20).
// Hermes' respawn-storm breaker is off here (item 6 has its own test).

#include "hermes_interop_helpers.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

using namespace hgw;
using namespace hgw::test;
using namespace hgw::test::fh;
using namespace hgw::test::interop;
using namespace std::chrono_literals;

namespace {

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

// A person's `hermes gateway run --replace` in a shell: this home, no
// supervisor variable, no NOTIFY_SOCKET. Its --log (the site's) marks it
// as the site's in the process table; its output goes to `out`.
Child start_replacer(const Site& site, double lock_delay, const fs::path& out)
{
    std::vector<std::string> extra = {"--faithful", "--replace"};
    if (lock_delay > 0) {
        std::ostringstream d;
        d << lock_delay;
        extra.insert(extra.end(), {"--lock-delay", d.str()});
    }
    SpawnOptions so;
    so.env = {{"HERMES_HOME", site.home().string()}, {"HERMES_GATEWAY_MAX_STARTS", "0"}};
    so.unset_env = {"INVOCATION_ID",   "XPC_SERVICE_NAME", "HERMES_S6_SUPERVISED_CHILD", "HERMES_GATEWAY_EXTERNAL_SUPERVISOR",
                    "NOTIFY_SOCKET",   "WATCHDOG_USEC",    "WATCHDOG_PID"};
    so.output_file = out.string();
    return Child::spawn(stub_command(site.stub_args(extra)), so);
}

// Does `pid` hold the lock the path gateway.lock names, with a true record?
bool runs_with_true_record(const Site& site, pid_t pid)
{
    Verdict v = validate(site.paths());
    return v.kind == VerdictKind::Live && v.record() && v.record()->pid == pid &&
           !gateway_lock_holds(pid, site.paths().lock_file).empty();
}

bool foreign_naming(const Status& s, pid_t pid)
{
    return state_is(s, "foreign") && text(s, "foreign_pid") == std::to_string(pid);
}

// The daemon under test, with the faithful gateway (storm breaker off).
DaemonOptions faithful_daemon()
{
    DaemonOptions o = quick({}, {"--drain", "0"});
    o.env = faithful_env();
    return o;
}

// One takeover by hand of the daemon's gateway `gw`: the replacer, once it
// runs with a true record and the daemon names it as foreign; else nothing
// and `why` says what happened instead.
std::optional<Child> take_over(World& w, pid_t gw, double lock_delay, std::string& why)
{
    static int count = 0;
    const fs::path out = w.site.logs() / ("replacer-" + std::to_string(++count) + ".out");
    PidWatch old(gw);
    Child replacer = start_replacer(w.site, lock_delay, out);
    if (!old.exited(kTimeout)) {
        why = "the daemon's gateway " + std::to_string(gw) + " did not exit after the takeover began";
        return replacer;
    }
    // The replacer's claim: it holds the lock with a true record, or it gave up.
    auto deadline = dh::Clock::now() + kTimeout;
    while (!runs_with_true_record(w.site, replacer.pid()) && !replacer.wait_exited_unreaped(0ms) &&
           dh::Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    if (replacer.wait_exited_unreaped(0ms)) {
        why = "the replacer " + std::to_string(replacer.pid()) + " exited; its output:\n" +
              Site::read_file(out);
        return std::nullopt;
    }
    if (!runs_with_true_record(w.site, replacer.pid())) {
        why = "the replacer runs without a true record: " + validate(w.site.paths()).summary;
        return replacer;
    }
    auto [foreign, s] =
        await_status(w.events, w.daemon, w.client, [&](const Status& st) { return foreign_naming(st, replacer.pid()); }, 10s);
    if (!foreign) {
        why = "the replacer " + std::to_string(replacer.pid()) + " runs, but the daemon reports: " + describe(s);
        return replacer;
    }
    if (auto running = w.site.gateways(); running != std::vector<pid_t>{replacer.pid()}) {
        why = std::to_string(running.size()) + " stub processes run besides the replacer";
        return replacer;
    }
    why.clear();
    return replacer;
}

void takeovers_by_hand(const std::string& kind, const std::function<double(int)>& lock_delay)
{
    World w(faithful_daemon());
    pid_t gw = w.first_gateway();
    GatewaySampler sampler(w.site);

    const int runs = count_from_env("HGW_INTEROP_TAKEOVERS", 5);
    const int give_up_after = bench_mode() ? runs : 1;
    int done = 0, bad = 0; // runs, and runs that went wrong
    std::vector<std::string> notes;
    for (int i = 0; i < runs && bad < give_up_after && !stop_requested(); ++i) {
        ++done;
        const std::size_t problems = notes.size();
        auto note = [&](const std::string& what) { notes.push_back("run #" + std::to_string(i) + ": " + what); };
        std::string why;
        auto replacer = take_over(w, gw, lock_delay(i), why);
        if (!why.empty())
            note(why);
        // The person ends their gateway (Ctrl-C: a planned stop); the daemon
        // must start its own again.
        if (replacer) {
            replacer->signal(SIGINT);
            replacer->wait();
        }
        auto [back, s] = await_status(w.events, w.daemon, w.client, [&](const Status& st) {
            return running_or_failed(st) && (!replacer || status_pid(st) != replacer->pid());
        });
        if (!running_ready(s)) {
            note("the daemon did not run its own gateway again: " + describe(s));
            ++bad;
            break;
        }
        gw = status_pid(s);
        std::string untrue;
        if (!await_record_true(w.site.paths(), gw, w.daemon.pid(), 5s, &untrue))
            note("the daemon's gateway again, record not true: " + untrue);
        if (notes.size() > problems)
            ++bad;
    }
    sampler.stop();
    const bool failed = failed_since(w.events, 0);
    report({{"test", "replace-by-hand"},
            {"start", kind},
            {"runs", done},
            {"planned", runs},
            {"bad_runs", bad},
            {"max_gateways_at_once", sampler.max_at_once()},
            {"samples", sampler.samples()},
            {"daemon_failed", failed}});

    std::ostringstream all;
    for (const auto& n : notes)
        all << "  " << n << "\n";
    auto overlap = sampler.first_overlap();
    INFO(kind << " starts: " << done << " of " << runs << " takeovers, " << bad << " went wrong; sampler: "
              << sampler.samples() << " samples, at most " << sampler.max_at_once() << " gateways at once"
              << (overlap.empty() ? "" : ", first overlap: " + std::to_string(overlap.front()) + " and " +
                                             std::to_string(overlap.back()))
              << "\n"
              << all.str() << "daemon log (tail):\n"
              << tail(w.daemon.log()));
    CHECK(done == runs);
    CHECK(bad == 0);
    CHECK(sampler.max_at_once() <= 1);
    CHECK(sampler.samples() > 0);
    CHECK_FALSE(failed);
}

} // namespace

TEST_CASE("issue 9 item 5: `hermes gateway run --replace` by hand, fast start", "[daemon][interop][item5]")
{
    takeovers_by_hand("fast", [](int) { return 0.0; });
}

TEST_CASE("issue 9 item 5: `hermes gateway run --replace` by hand, Hermes-like start (1-3 s)",
          "[daemon][interop][item5]")
{
    takeovers_by_hand("hermes-like", [](int i) { return 1.0 + i % 3; });
}

TEST_CASE("issue 9 item 5: Stop and Replace over the bus act on a foreign gateway", "[daemon][interop][item5]")
{
    World w(faithful_daemon());
    const pid_t gw = w.first_gateway();

    std::string why;
    auto replacer = take_over(w, gw, 0.0, why);
    INFO("takeover: " << (why.empty() ? "as expected" : why) << "\ndaemon log (tail):\n" << tail(w.daemon.log()));
    REQUIRE(replacer);
    REQUIRE(why.empty());
    const pid_t foreign = replacer->pid();
    PidWatch watch(foreign);

    SECTION("Stop stops the foreign gateway, and the daemon stays stopped until Start")
    {
        std::string error = dh::error_of([&] { w.client.stop(); });
        INFO("Stop: " << error);
        CHECK(error.empty());
        CHECK(watch.exited(kTimeout));
        auto [stopped, s] = await_status(w.events, w.daemon, w.client, [](const Status& st) { return state_is(st, "stopped"); });
        INFO("status: " << describe(s));
        CHECK(stopped);
        CHECK(w.site.gateways().empty());
        CHECK(validate(w.site.paths()).kind == VerdictKind::None);
        // Start brings the daemon's own gateway back.
        auto [pid, generation] = w.client.call_op("Start");
        CHECK(static_cast<pid_t>(pid) != foreign);
        std::string untrue;
        CHECK(await_record_true(w.site.paths(), static_cast<pid_t>(pid), w.daemon.pid(), 5s, &untrue));
        INFO(untrue);
    }
    SECTION("Replace stops the foreign gateway and starts the daemon's own")
    {
        std::uint32_t pid = 0;
        std::string error = dh::error_of([&] { pid = w.client.call_op("Replace").first; });
        INFO("Replace: " << error);
        CHECK(error.empty());
        CHECK(watch.exited(kTimeout));
        CHECK(pid != 0);
        CHECK(static_cast<pid_t>(pid) != foreign);
        std::string untrue;
        CHECK(await_record_true(w.site.paths(), static_cast<pid_t>(pid), w.daemon.pid(), 5s, &untrue));
        INFO(untrue);
        auto [running, s] = await_status(w.events, w.daemon, w.client, running_ready);
        CHECK(running);
        CHECK(status_pid(s) == static_cast<pid_t>(pid));
    }
    CHECK_FALSE(failed_since(w.events, 0));
}
