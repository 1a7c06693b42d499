// Fleet soak: random faults in a row against three fleet-mode hosts.
//
//   fleet_soak [--faults N] [--seed S] [--only KIND,...]
//
// Three "hosts", each a network namespace of its own (support/netns_host.h)
// with its own Hermes home, D-Bus bus and hermes-gatewayd, elect one leader
// on a real 3-member etcd cluster that listens on their cluster links; the
// leader's stub gateway long-polls one bot token on the fake Bot API, which
// records every overlap (two pollers of the token at once). Each round picks
// a fault at random (the seed is printed; --seed repeats the sequence of
// faults, though not the timing of what the daemons do), then waits until
// exactly one host leads and runs, the two others follow, and the leader's
// gateway has begun a poll. The time from the fault to that poll is recorded
// per kind and compared at the end with TTL + one gateway start. Any
// overlap, a fleet that does not recover within 120 s, or a fault that
// broke what it must not (a follower's fault moving the leader, a handover
// leaving the leader in place) ends the soak with exit status 1. Without
// root it prints "SKIPPED (needs root): ..." and exits 77.

#include "fleet/fleet_host.h"
#include "process/pidfd.h"
#include "support/netns_host.h"
#include "util/bus_names.h"
#include "util/unique_fd.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace hgw::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kHosts = 3;
constexpr auto kRecoveryTimeout = 120s;
constexpr double kTtl = std::chrono::duration<double>(kFleetTtlSeconds).count();

double mono_now()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts); // the Bot API's "mono" clock
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

enum class Fault {
    kill9_leader_daemon,
    kill9_leader_gateway,
    partition_leader,
    kill_etcd_leader,
    quorum_lost,
    restart_leader_daemon,
    handover,
    kill9_follower_daemon,
    partition_follower,
};

struct FaultKind {
    Fault fault;
    const char* name;
};

constexpr std::array kKinds = {
    FaultKind{Fault::kill9_leader_daemon, "kill9_leader_daemon"},
    FaultKind{Fault::kill9_leader_gateway, "kill9_leader_gateway"},
    FaultKind{Fault::partition_leader, "partition_leader"},
    FaultKind{Fault::kill_etcd_leader, "kill_etcd_leader"},
    FaultKind{Fault::quorum_lost, "quorum_lost"},
    FaultKind{Fault::restart_leader_daemon, "restart_leader_daemon"},
    FaultKind{Fault::handover, "handover"},
    FaultKind{Fault::kill9_follower_daemon, "kill9_follower_daemon"},
    FaultKind{Fault::partition_follower, "partition_follower"},
};

const char* name_of(Fault f)
{
    for (const auto& k : kKinds)
        if (k.fault == f)
            return k.name;
    return "?";
}

struct Options {
    std::size_t faults = 100;
    std::uint64_t seed = std::random_device{}();
    std::vector<Fault> kinds;
};

std::vector<Fault> parse_kinds(const std::string& list)
{
    std::vector<Fault> out;
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) {
        auto it = std::find_if(kKinds.begin(), kKinds.end(), [&](const FaultKind& k) { return item == k.name; });
        if (it == kKinds.end())
            throw std::invalid_argument("unknown fault kind '" + item + "'");
        out.push_back(it->fault);
    }
    return out;
}

Options parse_options(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc)
            throw std::invalid_argument(arg + " needs a value");
        const std::string value = argv[++i];
        if (arg == "--faults")
            o.faults = std::stoul(value);
        else if (arg == "--seed")
            o.seed = std::stoull(value);
        else if (arg == "--only")
            o.kinds = parse_kinds(value);
        else
            throw std::invalid_argument("unknown option " + arg);
    }
    if (o.kinds.empty())
        for (const auto& k : kKinds)
            o.kinds.push_back(k.fault);
    return o;
}

// One GetStatus: what the soak needs of a host, "unreachable" while its
// daemon is down.
struct View {
    std::string role = "unreachable";
    std::string state;
    std::uint32_t pid = 0;
};

View view(FleetHost& h)
{
    View v;
    try {
        auto s = h.client.status();
        v.role = s.count("fleet_role") ? s.at("fleet_role").get<std::string>() : "standalone";
        v.state = s.at("state").get<std::string>();
        v.pid = s.at("pid").get<std::uint32_t>();
    } catch (const sdbus::Error&) {
        v.role = "unreachable";
    }
    return v;
}

// The fleet at rest after a fault: who leads, and when its gateway polled.
struct Settled {
    std::size_t leader = 0;
    std::string poller;
    double polled_at = 0;
};

// What a fault did: the clock for its time to a polling leader starts at
// `clock_start`; `keep_poller` must still poll afterwards (a follower's
// fault leaves the leader alone); `leave` must no longer lead (handover).
struct FaultRun {
    double clock_start = 0;
    std::string detail;
    std::optional<std::string> keep_poller;
    std::optional<std::size_t> leave;
};

class Fleet {
public:
    Fleet()
    {
        for (const char* name : {"a", "b", "c"})
            netns_.push_back(std::make_unique<NetnsHost>(name));
        etcd_.emplace(etcd_options());
        for (std::size_t i = 0; i < kHosts; ++i)
            hosts_.push_back(make_host(i));
    }

    EtcdCluster& etcd() { return *etcd_; }
    BotApi& api() { return api_; }
    FleetHost& host(std::size_t i) { return *hosts_.at(i); }
    NetnsHost& netns(std::size_t i) { return *netns_.at(i); }

    // Exactly one host leads and runs, the others follow with no gateway,
    // and the leader's gateway began a poll at or after `since`.
    std::optional<Settled> settle(double since)
    {
        std::optional<Settled> out;
        eventually([&] { return (out = settled_now(since)).has_value(); }, kRecoveryTimeout);
        return out;
    }

    std::string describe()
    {
        std::string out;
        for (std::size_t i = 0; i < kHosts; ++i) {
            View v = view(host(i));
            out += host(i).name + ": role " + v.role + ", state " + v.state + ", pid " + std::to_string(v.pid) + "\n";
        }
        return out;
    }

    std::string logs_tail(std::size_t lines)
    {
        std::string out;
        for (std::size_t i = 0; i < kHosts; ++i)
            out += "--- daemon " + host(i).name + ", last lines:\n" + tail(host(i).daemon.log(), lines);
        return out;
    }

private:
    EtcdClusterOptions etcd_options() const
    {
        EtcdClusterOptions o;
        o.listen_addresses = {"127.0.0.1"};
        for (const auto& n : netns_)
            o.listen_addresses.push_back(n->root_address(Link::cluster));
        return o;
    }

    std::unique_ptr<FleetHost> make_host(std::size_t i)
    {
        const NetnsHost& n = *netns_.at(i);
        // The soak kills gateways on purpose, often the same host's within
        // two minutes: that must not read as a crash loop (--burst, 5 by default).
        return std::make_unique<FleetHost>(n.name(), etcd_->client_urls(n.root_address(Link::cluster)),
                                           api_.url(n.root_address(Link::internet)), n.netns_fd(),
                                           std::vector<std::string>{"--burst", "1000000"});
    }

    std::optional<Settled> settled_now(double since)
    {
        std::optional<std::size_t> leader;
        std::string poller;
        for (std::size_t i = 0; i < kHosts; ++i) {
            View v = view(host(i));
            if (v.role == "leader" && v.state == "running" && !leader) {
                leader = i;
                poller = host(i).name + "/" + std::to_string(v.pid);
            } else if (v.role != "follower" || v.state != "stopped") {
                return std::nullopt;
            }
        }
        if (!leader)
            return std::nullopt;
        auto first = api_.first_begin(since, [&](const std::string& p) { return p == poller; });
        if (!first)
            return std::nullopt;
        return Settled{*leader, poller, first->mono};
    }

    static std::string tail(const std::string& text, std::size_t lines)
    {
        std::size_t pos = text.size();
        for (std::size_t n = 0; n <= lines && pos > 0; ++n)
            pos = text.rfind('\n', pos - 1);
        return pos == std::string::npos ? text : text.substr(pos + 1);
    }

    std::vector<std::unique_ptr<NetnsHost>> netns_;
    std::optional<EtcdCluster> etcd_;
    BotApi api_;
    std::vector<std::unique_ptr<FleetHost>> hosts_;
};

// The gateway GetStatus names, SIGKILLed through a pidfd taken before the
// daemon is asked again: if it still names that pid, the pidfd is its gateway.
void kill_gateway(FleetHost& h)
{
    const std::uint32_t pid = h.gateway();
    hgw::UniqueFd fd(hgw::pidfd_open(static_cast<pid_t>(pid)));
    if (!fd || h.gateway() != pid)
        throw std::runtime_error("the gateway of " + h.name + " changed before it could be killed");
    if (hgw::pidfd_send_signal(fd.get(), SIGKILL) != 0)
        throw std::runtime_error("pidfd_send_signal: " + std::string(std::strerror(errno)));
}

// A service manager's restart after a crash: the daemon is gone, a new one starts.
void kill9_daemon(FleetHost& h)
{
    h.daemon.process().signal(SIGKILL);
    h.daemon.start_again();
}

class Soak {
public:
    explicit Soak(const Options& options) : options_(options), rng_(options.seed) {}

    // The first leader, then the calibration of one gateway start.
    bool begin()
    {
        auto s = fleet_.settle(0);
        if (!s)
            return fail("no leader polling after the fleet started");
        leader_ = s->leader;
        auto start = measure_start();
        if (!start)
            return fail("calibration: the leader's gateway, killed, did not poll again");
        one_start_ = *start;
        std::printf("one gateway start (kill -9 to the next gateway's first poll): %.2f s; "
                    "bound TTL + one start: %.2f s\n",
                    one_start_, kTtl + one_start_);
        return true;
    }

    bool run_one(std::size_t round)
    {
        const Fault f = options_.kinds.at(pick(options_.kinds.size()));
        const std::string before = fleet_.host(leader_).name;
        FaultRun r;
        try {
            r = inject(f);
        } catch (const std::exception& e) {
            return fail(std::string(name_of(f)) + ": " + e.what());
        }
        auto s = fleet_.settle(r.clock_start);
        if (!s)
            return fail(std::string(name_of(f)) + ": no single leader polling within 120 s");
        const double took = s->polled_at - r.clock_start;
        times_[f].push_back(took);
        leader_ = s->leader;
        std::printf("[%3zu/%zu] %-22s %-28s leader %s -> %s, polling %.2f s after\n", round, options_.faults,
                    name_of(f), r.detail.c_str(), before.c_str(), fleet_.host(leader_).name.c_str(), took);
        std::fflush(stdout);
        return check(f, r, *s);
    }

    int finish(bool ok, Clock::duration elapsed)
    {
        summary(elapsed);
        return ok ? 0 : 1;
    }

private:
    std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
    std::size_t follower() { return (leader_ + 1 + pick(kHosts - 1)) % kHosts; }

    // One gateway start: the leader's gateway SIGKILLed, its daemon starts
    // another at once; from the kill to the new gateway's first poll.
    std::optional<double> measure_start()
    {
        const double t0 = mono_now();
        kill_gateway(fleet_.host(leader_));
        auto s = fleet_.settle(t0);
        if (!s)
            return std::nullopt;
        leader_ = s->leader;
        return s->polled_at - t0;
    }

    FaultRun inject(Fault f)
    {
        switch (f) {
        case Fault::kill9_leader_daemon: return on_leader([](FleetHost& h) { kill9_daemon(h); });
        case Fault::kill9_leader_gateway: return on_leader([](FleetHost& h) { kill_gateway(h); });
        case Fault::restart_leader_daemon:
            return on_leader([](FleetHost& h) {
                h.daemon.stop();
                h.daemon.start_again();
            });
        case Fault::handover: return handover();
        case Fault::partition_leader: return partition(leader_);
        case Fault::kill_etcd_leader: return kill_etcd_leader();
        case Fault::quorum_lost: return quorum_lost();
        case Fault::kill9_follower_daemon: return kill9_follower();
        case Fault::partition_follower: return partition_follower();
        }
        throw std::logic_error("unknown fault");
    }

    template <typename Act>
    FaultRun on_leader(Act act)
    {
        FaultRun r{mono_now(), "on " + fleet_.host(leader_).name, {}, {}};
        act(fleet_.host(leader_));
        return r;
    }

    FaultRun handover()
    {
        FaultRun r{mono_now(), "on " + fleet_.host(leader_).name, {}, leader_};
        fleet_.host(leader_).client.proxy().callMethod(HGW_BUS_METHOD_FLEET_HANDOVER).onInterface(HGW_BUS_INTERFACE)
            .withArguments(std::map<std::string, sdbus::Variant>{});
        return r;
    }

    // The host's cluster link down for 0.5-3 TTLs: the sleep is the fault.
    FaultRun partition(std::size_t i)
    {
        const double secs = uniform(0.5, 3) * kTtl;
        char detail[64];
        std::snprintf(detail, sizeof detail, "%s cut off %.1f s", fleet_.host(i).name.c_str(), secs);
        FaultRun r{mono_now(), detail, {}, {}};
        fleet_.netns(i).link_down(Link::cluster);
        std::this_thread::sleep_for(std::chrono::duration<double>(secs));
        fleet_.netns(i).link_up(Link::cluster);
        return r;
    }

    FaultRun partition_follower()
    {
        const std::string poller = fleet_.host(leader_).poller();
        FaultRun r = partition(follower());
        r.keep_poller = poller;
        return r;
    }

    FaultRun kill9_follower()
    {
        const std::size_t f = follower();
        FaultRun r{mono_now(), "on " + fleet_.host(f).name, fleet_.host(leader_).poller(), {}};
        kill9_daemon(fleet_.host(f));
        return r;
    }

    FaultRun kill_etcd_leader()
    {
        EtcdCluster& etcd = fleet_.etcd();
        const std::size_t member = etcd.wait_leader();
        FaultRun r{mono_now(), "member " + std::to_string(member), {}, {}};
        etcd.kill(member);
        (void)etcd.wait_leader();
        etcd.start(member);
        etcd.wait_healthy(member);
        return r;
    }

    // Two members stopped until the leader has fenced itself (its gateway
    // stopped), then started again. Nobody can lead meanwhile, so the clock
    // starts when quorum is back.
    FaultRun quorum_lost()
    {
        EtcdCluster& etcd = fleet_.etcd();
        const std::size_t keep = pick(etcd.size());
        std::vector<std::size_t> stopped;
        for (std::size_t m = 0; m < etcd.size(); ++m)
            if (m != keep)
                stopped.push_back(m);
        for (std::size_t m : stopped)
            etcd.stop(m);
        FleetHost& l = fleet_.host(leader_);
        if (!eventually([&] { View v = view(l); return v.role == "fenced" && v.state == "stopped"; }, kRecoveryTimeout))
            throw std::runtime_error("quorum lost: " + l.name + " never fenced itself");
        for (std::size_t i = 0; i < kHosts; ++i)
            if (view(fleet_.host(i)).role == "leader")
                throw std::runtime_error("quorum lost: " + fleet_.host(i).name + " leads without a quorum");
        FaultRun r{mono_now(), "kept member " + std::to_string(keep) + ", " + l.name + " fenced", {}, {}};
        for (std::size_t m : stopped)
            etcd.start(m);
        for (std::size_t m : stopped)
            etcd.wait_healthy(m);
        return r;
    }

    bool check(Fault f, const FaultRun& r, const Settled& s)
    {
        const auto overlaps = fleet_.api().stats().at("overlaps").get<std::size_t>();
        if (overlaps != 0)
            return fail(std::string(name_of(f)) + ": " + std::to_string(overlaps) + " overlap(s):\n" +
                        overlaps_text(fleet_.api()));
        if (r.keep_poller && s.poller != *r.keep_poller)
            return fail(std::string(name_of(f)) + ": the leader's gateway " + *r.keep_poller +
                        " was disturbed; now " + s.poller);
        if (r.leave && s.leader == *r.leave)
            return fail(std::string(name_of(f)) + ": " + fleet_.host(s.leader).name + " still leads");
        return true;
    }

    bool fail(const std::string& what)
    {
        std::printf("FAIL: %s\n%s%s", what.c_str(), fleet_.describe().c_str(), fleet_.logs_tail(30).c_str());
        std::fflush(stdout);
        return false;
    }

    void summary(Clock::duration elapsed)
    {
        const double bound = kTtl + one_start_;
        std::size_t faults = 0;
        for (const auto& [f, t] : times_)
            faults += t.size();
        std::printf("\nfleet soak: seed %llu, %zu faults in %.0f s, overlaps %zu; time from fault to a polling "
                    "leader (bound TTL + one start = %.0f + %.2f = %.2f s):\n",
                    static_cast<unsigned long long>(options_.seed), faults,
                    std::chrono::duration<double>(elapsed).count(),
                    fleet_.api().stats().at("overlaps").get<std::size_t>(), kTtl, one_start_, bound);
        std::printf("  %-22s %5s %8s %8s %s\n", "fault", "count", "median", "max", "over bound");
        for (auto& [f, t] : times_) {
            std::sort(t.begin(), t.end());
            const auto over = std::count_if(t.begin(), t.end(), [&](double x) { return x > bound; });
            std::printf("  %-22s %5zu %7.2fs %7.2fs %ld\n", name_of(f), t.size(), t[t.size() / 2], t.back(),
                        static_cast<long>(over));
        }
    }

    Options options_;
    std::mt19937_64 rng_;
    Fleet fleet_;
    std::size_t leader_ = 0;
    double one_start_ = 0;
    std::map<Fault, std::vector<double>> times_;
};

} // namespace

int main(int argc, char** argv)
{
    Options options;
    try {
        options = parse_options(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fleet_soak: %s\nusage: fleet_soak [--faults N] [--seed S] [--only KIND,...]\n",
                     e.what());
        return 2;
    }
    if (::geteuid() != 0) {
        std::printf("SKIPPED (needs root): makes network namespaces and veth pairs (CAP_SYS_ADMIN, CAP_NET_ADMIN)\n");
        return 77;
    }
    std::printf("fleet soak: %zu faults, seed %llu (--seed %llu repeats this sequence of faults)\n", options.faults,
                static_cast<unsigned long long>(options.seed), static_cast<unsigned long long>(options.seed));
    std::fflush(stdout);
    try {
        const auto t0 = Clock::now();
        Soak soak(options);
        bool ok = soak.begin();
        for (std::size_t i = 1; ok && i <= options.faults; ++i)
            ok = soak.run_one(i);
        return soak.finish(ok, Clock::now() - t0);
    } catch (const std::exception& e) {
        std::printf("FAIL: %s\n", e.what());
        return 1;
    }
}
