// bench/fleet: the fleet issue's timing figures, which the fleet tests leave
// alone (a test asserts no overlap, never a duration). Two hosts, each in a
// network namespace of its own, elect a leader on a 3-member etcd cluster;
// their stub gateways long-poll one bot token on the fake Bot API, whose
// poll log (CLOCK_MONOTONIC, the clock used here) gives every time below.
// The hosts are the fleet tests' FleetHost (TTL 5 s, stop timeout 1 s).
//
// For each fault, N rounds, the faults taken in turns so that the machine's
// load weighs on all of them alike:
//   * the time from the fault (for a lost quorum: from its restore) to the
//     first poll of a gateway other than the old one;
//   * for the planned ones (SIGTERM, FleetHandover): the downtime, from the
//     old gateway's last poll ending to the new one's first poll, against
//     drain + start + 100 ms, drain being the fault to the old gateway's
//     exit and start the new gateway's fork to its first poll;
//   * for the unplanned ones: the time against TTL + that start.
// It prints a Markdown table and the load average; nothing is asserted.
// Exit status: 0 when every round met its bound, 1 when one did not, 2 on
// an error. Needs root; without it, says SKIPPED and exits 0.
//
// Usage: fleet_bench [--runs N] [--only kill,cut,term,handover,quorum] [--out FILE]

#include "bench_support.h"
#include "fleet/fleet_host.h"
#include "support/netns_host.h"
#include "util/bus_names.h"

#include <sys/file.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

namespace {

using hgw::bench::now;
using hgw::test::FleetHost;
using hgw::test::Link;
using namespace std::chrono_literals;

constexpr double kTtl = static_cast<double>(hgw::test::kFleetTtlSeconds.count());
constexpr double kSlack = 0.100; // the 100 ms on top of drain + start
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

enum class Fault { kill, cut, term, handover, quorum };
constexpr std::array kFaults{Fault::kill, Fault::cut, Fault::term, Fault::handover, Fault::quorum};

const char* key(Fault f)
{
    switch (f) {
    case Fault::kill: return "kill";
    case Fault::cut: return "cut";
    case Fault::term: return "term";
    case Fault::handover: return "handover";
    case Fault::quorum: return "quorum";
    }
    return "?";
}

const char* title(Fault f)
{
    switch (f) {
    case Fault::kill: return "leader's daemon killed (`kill -9`)";
    case Fault::cut: return "leader's link to etcd cut";
    case Fault::term: return "leader's daemon SIGTERMed (service manager restart)";
    case Fault::handover: return "planned handover (`FleetHandover`)";
    case Fault::quorum: return "etcd quorum lost (2 of 3 stopped), then restored; timed from the restore";
    }
    return "?";
}

// A planned fault hands the lease back after the gateway's stop: its goal
// is the downtime; an unplanned one waits for the lease to lapse.
bool planned(Fault f) { return f == Fault::term || f == Fault::handover; }

// Seconds, CLOCK_MONOTONIC differences; NaN where a figure does not apply.
struct Round {
    double recover = kNaN;  // the fault (or restore) to the new gateway's first poll
    double start = kNaN;    // the new gateway's fork to its first poll
    double fenced = kNaN;   // the fault to the old gateway's last poll ending
    double drain = kNaN;    // the fault to the old gateway's exit (planned)
    double downtime = kNaN; // the old gateway's last poll end to the new one's first poll (planned)
    double outage = kNaN;   // quorum: the fault to its restore

    [[nodiscard]] double bound(Fault f) const { return planned(f) ? drain + start + kSlack : kTtl + start; }
    [[nodiscard]] double measured(Fault f) const { return planned(f) ? downtime : recover; }
    [[nodiscard]] bool met(Fault f) const { return measured(f) <= bound(f); }
};

std::optional<double> last_end(const hgw::test::BotApi& api, const std::string& poller)
{
    std::optional<double> last;
    for (const auto& e : api.polls())
        if (e.value("event", "") == "end" && e.value("poller", "") == poller)
            last = e.value("mono", 0.0);
    return last;
}

pid_t pid_of(const std::string& poller) { return std::stoi(poller.substr(poller.find('/') + 1)); }

double seconds(clockid_t clock)
{
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// When `pid` was forked, on CLOCK_MONOTONIC. The kernel gives it in ticks
// since boot (10 ms), truncated: a start is overstated by up to 10 ms.
double fork_time(pid_t pid)
{
    const std::string stat = hgw::bench::read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos)
        hgw::bench::fail("gateway " + std::to_string(pid) + " is gone before its start was read");
    std::istringstream fields(stat.substr(paren + 2)); // field 3 (state) onwards
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
    }
    const double since_boot = std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    return since_boot - (seconds(CLOCK_BOOTTIME) - seconds(CLOCK_MONOTONIC));
}

// Waits for the process behind `pidfd` to exit; the moment it was seen to.
double exit_time(const hgw::UniqueFd& pidfd)
{
    if (!hgw::test::wait_readable(pidfd.get(), 30s))
        hgw::bench::fail("the old gateway did not exit within 30 s");
    return now();
}

template <typename T>
T must(std::optional<T> v, const std::string& what)
{
    if (!v)
        hgw::bench::fail(what);
    return *v;
}

// Two hosts, the etcd cluster they elect on, and the fake Bot API. A host
// whose daemon a fault ended is started again (same name and namespace)
// before the next round.
class Fleet {
public:
    Fleet() : etcd_(etcd_options()) {}

    Round run(Fault f, std::mt19937& rng)
    {
        const std::size_t l = settle();
        // A fault at a random point of the renewal period, not just after one.
        std::uniform_real_distribution<double> phase(0, kTtl / 3);
        std::this_thread::sleep_for(std::chrono::duration<double>(phase(rng)));
        const std::string old_poller = host(l).poller();
        const hgw::UniqueFd old_gateway(hgw::pidfd_open(pid_of(old_poller)));
        Round r;
        const double t0 = now();
        inflict(f, l);
        if (planned(f))
            r.drain = exit_time(old_gateway) - t0;
        const double from = f == Fault::quorum ? restore_quorum(l) : t0;
        if (f == Fault::quorum)
            r.outage = from - t0;
        const auto first = wait_first_poll(from, old_poller);
        r.start = first.mono - fork_time(pid_of(first.poller));
        r.recover = first.mono - from;
        const double old_end = must(last_end(api_, old_poller), "the old gateway's poll never ended");
        r.fenced = old_end - t0;
        if (planned(f))
            r.downtime = first.mono - old_end;
        heal(f, l);
        return r;
    }

    [[nodiscard]] std::size_t overlaps() const { return api_.overlaps().size(); }

private:
    static constexpr std::array<const char*, 2> kNames{"a", "b"};

    hgw::test::EtcdClusterOptions etcd_options() const
    {
        hgw::test::EtcdClusterOptions o;
        o.listen_addresses = {"127.0.0.1", ns_[0].root_address(Link::cluster), ns_[1].root_address(Link::cluster)};
        return o;
    }

    FleetHost& host(std::size_t i) { return *hosts_.at(i); }

    void up(std::size_t i)
    {
        hosts_.at(i) = std::make_unique<FleetHost>(kNames.at(i), etcd_.client_urls(ns_[i].root_address(Link::cluster)),
                                                   api_.url(ns_[i].root_address(Link::internet)), ns_[i].netns_fd());
    }

    // One host leads and polls, the other follows it: the leader's index.
    std::size_t settle()
    {
        for (std::size_t i : {0U, 1U})
            if (!hosts_.at(i))
                up(i);
        std::optional<std::size_t> leader;
        const bool settled = hgw::test::eventually(
            [&] {
                for (std::size_t i : {0U, 1U})
                    if (host(i).leads_and_runs() && host(1 - i).role() == "follower" && !host(1 - i).leader().empty())
                        leader = i;
                return leader.has_value();
            },
            120s);
        if (!settled)
            hgw::bench::fail("the fleet did not settle: roles " + host(0).role() + ", " + host(1).role());
        const std::string poller = host(*leader).poller();
        if (!hgw::test::eventually([&] { return polled(poller); }))
            hgw::bench::fail("the leader's gateway " + poller + " does not poll");
        return *leader;
    }

    bool polled(const std::string& poller) const
    {
        return api_.first_begin(0, [&](const std::string& p) { return p == poller; }).has_value();
    }

    void inflict(Fault f, std::size_t l)
    {
        switch (f) {
        case Fault::kill: host(l).daemon.process().signal(SIGKILL); break;
        case Fault::cut: ns_[l].link_down(Link::cluster); break;
        case Fault::term: host(l).daemon.process().signal(SIGTERM); break;
        case Fault::handover:
            host(l).client.proxy().callMethod(HGW_BUS_METHOD_FLEET_HANDOVER).onInterface(HGW_BUS_INTERFACE)
                .withArguments(std::map<std::string, sdbus::Variant>{});
            break;
        case Fault::quorum:
            etcd_.stop(1);
            etcd_.stop(2);
            break;
        }
    }

    // Once the leader has fenced itself, quorum comes back: the moment it did.
    double restore_quorum(std::size_t l)
    {
        if (!hgw::test::eventually([&] { return host(l).role() == "fenced" && host(l).state() == "stopped"; }))
            hgw::bench::fail("the leader did not fence itself with quorum lost");
        const double t = now();
        etcd_.start(1);
        etcd_.start(2);
        return t;
    }

    hgw::test::BotApi::PollBegin wait_first_poll(double from, const std::string& old_poller)
    {
        std::optional<hgw::test::BotApi::PollBegin> first;
        hgw::test::eventually([&] {
            first = api_.first_begin(from, [&](const std::string& p) { return p != old_poller; });
            return first.has_value();
        }, 120s);
        return must(first, "no new gateway polled within 120 s");
    }

    void heal(Fault f, std::size_t l)
    {
        switch (f) {
        case Fault::kill: hosts_.at(l).reset(); break;
        case Fault::term:
            (void)host(l).daemon.process().wait();
            hosts_.at(l).reset();
            break;
        case Fault::cut: ns_[l].link_up(Link::cluster); break;
        case Fault::handover: break;
        case Fault::quorum:
            etcd_.wait_healthy(1);
            etcd_.wait_healthy(2);
            break;
        }
    }

    std::array<hgw::test::NetnsHost, 2> ns_{hgw::test::NetnsHost(kNames[0]), hgw::test::NetnsHost(kNames[1])};
    hgw::test::EtcdCluster etcd_;
    hgw::test::BotApi api_;
    std::array<std::unique_ptr<FleetHost>, 2> hosts_;
};

// ------------------------------------------------------------ report

struct Options {
    int runs = 10;
    std::vector<Fault> faults{kFaults.begin(), kFaults.end()};
    std::string out;
};

double percentile50(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? kNaN : v[(v.size() - 1) / 2];
}

std::string ms(double s)
{
    if (std::isnan(s))
        return "-";
    std::ostringstream o;
    o << std::fixed << std::setprecision(0) << s * 1000;
    return o.str();
}

template <typename Get>
std::string p50_max(const std::vector<Round>& rounds, Get get)
{
    std::vector<double> v;
    for (const auto& r : rounds)
        v.push_back(get(r));
    return v.empty() ? "-" : ms(percentile50(v)) + " / " + ms(*std::max_element(v.begin(), v.end()));
}

std::string load_average()
{
    std::istringstream in(hgw::bench::read_text("/proc/loadavg"));
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

std::string utc_now()
{
    const std::time_t t = std::time(nullptr);
    std::ostringstream o;
    o << std::put_time(std::gmtime(&t), "%F %H:%M UTC");
    return o.str();
}

struct Results {
    std::map<Fault, std::vector<Round>> rounds;
    std::map<Fault, int> failed;
    std::size_t overlaps = 0;
    std::string load_start, load_end, began;
};

int met_count(Fault f, const std::vector<Round>& rounds)
{
    return static_cast<int>(std::count_if(rounds.begin(), rounds.end(), [f](const Round& r) { return r.met(f); }));
}

std::string recovery_table(const Options& o, const Results& res)
{
    std::ostringstream t;
    t << "| fault | rounds | fault → new gateway's first poll, p50 / max (ms) | old gateway's last poll ended, p50 / "
         "max (ms) | goal | bound p50 / max (ms) | met |\n|---|---|---|---|---|---|---|\n";
    for (Fault f : o.faults) {
        const auto& rs = res.rounds.at(f);
        const int failed = res.failed.count(f) ? res.failed.at(f) : 0;
        t << "| " << title(f) << " | " << rs.size() << (failed ? " (" + std::to_string(failed) + " failed)" : "")
          << " | " << p50_max(rs, [](const Round& r) { return r.recover; }) << " | "
          << p50_max(rs, [](const Round& r) { return r.fenced; }) << " | "
          << (planned(f) ? "downtime ≤ drain + start + 100 ms (below)" : "≤ TTL + start") << " | "
          << p50_max(rs, [f](const Round& r) { return r.bound(f); }) << " | " << met_count(f, rs) << " of "
          << rs.size() << " |\n";
    }
    return t.str();
}

std::string downtime_table(const Options& o, const Results& res)
{
    std::ostringstream t;
    t << "| fault | downtime p50 / max (ms) | drain p50 / max (ms) | start p50 / max (ms) | drain + start + 100 ms, "
         "p50 / max | met |\n|---|---|---|---|---|---|\n";
    for (Fault f : o.faults) {
        if (!planned(f))
            continue;
        const auto& rs = res.rounds.at(f);
        t << "| " << title(f) << " | " << p50_max(rs, [](const Round& r) { return r.downtime; }) << " | "
          << p50_max(rs, [](const Round& r) { return r.drain; }) << " | "
          << p50_max(rs, [](const Round& r) { return r.start; }) << " | "
          << p50_max(rs, [f](const Round& r) { return r.bound(f); }) << " | " << met_count(f, rs) << " of "
          << rs.size() << " |\n";
    }
    return t.str();
}

std::string report(const Options& o, const Results& res)
{
    std::ostringstream t;
    t << "## Fleet timings (" << res.began << ", " << HGW_BUILD_TYPE << " build, " << o.runs
      << " rounds per fault, 2 hosts, TTL " << kTtl << " s, stop timeout 1 s)\n\n"
      << recovery_table(o, res) << "\n" << downtime_table(o, res) << "\n"
      << "Overlaps seen by the Bot API: " << res.overlaps << ". Load average (1, 5, 15 min) at the start: "
      << res.load_start << "; at the end: " << res.load_end << ".\n";
    return t.str();
}

bool all_met(const Results& res)
{
    for (const auto& [f, rs] : res.rounds)
        if (met_count(f, rs) != static_cast<int>(rs.size()) || res.failed.count(f))
            return false;
    return res.overlaps == 0;
}

// ------------------------------------------------------------ run

// The machine is shared: a second measured run beside this one would
// measure both. The same lock as bench/peers and bench/scale.
hgw::UniqueFd take_measure_lock()
{
    const char* work = std::getenv("HGW_BENCH_WORK");
    const std::filesystem::path dir = work && *work ? work : "/tmp/hgw-bench";
    std::filesystem::create_directories(dir);
    hgw::UniqueFd fd(::open((dir / "measure.lock").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd)
        hgw::bench::fail_errno("open " + (dir / "measure.lock").string());
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const std::string owner = hgw::bench::read_text(dir / "measure.owner");
        hgw::bench::fail("another measurement holds " + (dir / "measure.lock").string() +
                         " (last taken by: " + (owner.empty() ? "?" : owner.substr(0, owner.find('\n'))) +
                         "); refusing to measure two runs at once");
    }
    std::ofstream(dir / "measure.owner") << "fleet_bench pid " << ::getpid() << " since " << utc_now() << "\n";
    return fd;
}

// Every round on stderr, for a look behind a p50 or a max.
void log_round(Fault f, const Round& r)
{
    std::cerr << "fleet_bench: " << key(f) << ": new poll " << ms(r.recover) << " ms, old poll ended " << ms(r.fenced)
              << " ms, start " << ms(r.start) << " ms, drain " << ms(r.drain) << " ms, downtime " << ms(r.downtime)
              << " ms, quorum away " << ms(r.outage) << " ms, bound " << ms(r.bound(f)) << " ms"
              << (r.met(f) ? "" : " (missed)") << "\n";
}

// A round that fails (a fleet that does not settle, a gateway that never
// polls) is counted, and the next one gets a fresh fleet.
void one_round(std::unique_ptr<Fleet>& fleet, Fault f, std::mt19937& rng, Results& res)
{
    try {
        if (!fleet)
            fleet = std::make_unique<Fleet>();
        res.rounds[f].push_back(fleet->run(f, rng));
        log_round(f, res.rounds[f].back());
    } catch (const hgw::bench::Interrupted&) {
        throw;
    } catch (const std::exception& e) {
        std::cerr << "fleet_bench: round of " << key(f) << " failed: " << e.what() << "\n";
        ++res.failed[f];
        res.overlaps += fleet ? fleet->overlaps() : 0;
        fleet.reset();
    }
}

Results measure(const Options& o)
{
    Results res;
    res.began = utc_now();
    res.load_start = load_average();
    std::mt19937 rng(std::random_device{}());
    std::unique_ptr<Fleet> fleet;
    for (Fault f : o.faults)
        res.rounds[f];
    for (int i = 1; i <= o.runs; ++i) {
        for (Fault f : o.faults) {
            hgw::bench::check_interrupted();
            one_round(fleet, f, rng, res);
        }
        std::cerr << "fleet_bench: round " << i << " of " << o.runs << " done (load " << load_average() << ")\n";
    }
    res.overlaps += fleet ? fleet->overlaps() : 0;
    res.load_end = load_average();
    return res;
}

Fault parse_fault(const std::string& name)
{
    for (Fault f : kFaults)
        if (name == key(f))
            return f;
    hgw::bench::fail("unknown fault '" + name + "' (kill, cut, term, handover, quorum)");
}

Options parse_args(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << "usage: fleet_bench [--runs N] [--only kill,cut,term,handover,quorum] [--out FILE]\n";
            std::exit(0);
        }
        if (i + 1 >= argc)
            hgw::bench::fail(a + " needs a value");
        const std::string v = argv[++i];
        if (a == "--runs") {
            o.runs = std::stoi(v);
            if (o.runs < 1 || o.runs > 1000)
                hgw::bench::fail("--runs takes 1 to 1000");
        } else if (a == "--only") {
            o.faults.clear();
            std::istringstream in(v);
            for (std::string name; std::getline(in, name, ',');)
                o.faults.push_back(parse_fault(name));
        } else if (a == "--out") {
            o.out = v;
        } else {
            hgw::bench::fail("unknown option " + a);
        }
    }
    return o;
}

int run(const Options& o)
{
    if (::geteuid() != 0) {
        std::cout << "SKIPPED (needs root): fleet_bench makes network namespaces and veth pairs\n";
        return 0;
    }
    const hgw::UniqueFd lock = take_measure_lock();
    hgw::bench::install_signal_handlers();
    const Results res = measure(o);
    const std::string text = report(o, res);
    std::cout << text;
    if (!o.out.empty())
        std::ofstream(o.out) << text;
    return all_met(res) ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(parse_args(argc, argv));
    } catch (const hgw::bench::Interrupted&) {
        std::cerr << "fleet_bench: interrupted\n";
        return 130;
    } catch (const std::exception& e) {
        std::cerr << "fleet_bench: " << e.what() << "\n";
        return 2;
    }
}
