// validate_bench: the in-process cost of hgw::validate().
//
// Sets up a throw-away Hermes home with a real (stub) gateway that holds
// gateway.lock and has written gateway.pid, waits for its READY=1, then times
// validate() call by call. Then it SIGKILLs the gateway, which leaves the
// record behind exactly as in the original bug report, and times validate()
// on that stale record. Every call's verdict is checked, so a broken setup
// cannot pass for a fast one.
//
// It also times the parts of validate() one by one, so that a missed target
// can be explained, and a few calls spaced 100 ms apart (the cost a one-shot
// command pays; see bench_spaced).
//
// Usage: validate_bench [--iterations N] [--warmup N] [--spaced N] [--gap-ms N]
//                       [--workdir DIR] [--stub PATH] [--json FILE]

#include "bench_support.h"
#include "core/home.h"
#include "core/lock_probe.h"
#include "core/record_file.h"
#include "core/validation.h"
#include "process/pidfd.h"
#include "util/unique_fd.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace hgw::bench;

namespace {

// The stub needs a Python start-up plus its own set-up; this is generous.
constexpr std::chrono::milliseconds kReadyTimeout{30000};

struct Options {
    int iterations = 20000;
    int warmup = 1000;
    int spaced = 20;                              // samples of the spaced scenario
    std::chrono::milliseconds gap{100};           // between spaced samples
    fs::path workdir = fs::temp_directory_path();
    std::string stub = HGW_STUB_PATH;
    std::string json_out;
};

// The receiving end of the sd_notify protocol, for the stub's NOTIFY_SOCKET.
class NotifySocket {
public:
    explicit NotifySocket(fs::path path) : path_(std::move(path)), fd_(bind_notify_socket(path_)) {}
    [[nodiscard]] const fs::path& path() const { return path_; }

    // Waits for a datagram with a READY=1 line. Gives up early when `pidfd`
    // becomes readable (the gateway exited) rather than waiting out the timeout.
    bool wait_ready(int pidfd, std::chrono::milliseconds timeout)
    {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return false;
            pollfd p[2] = {{fd_.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
            int n = ::poll(p, 2, static_cast<int>(left.count()));
            if (n < 0 && errno == EINTR) {
                check_interrupted();
                continue;
            }
            if (n < 0)
                fail_errno("poll");
            if (p[0].revents & POLLIN) {
                char buf[4096];
                ssize_t got = ::recv(fd_.get(), buf, sizeof buf, 0);
                if (got > 0 && has_ready_line(std::string(buf, static_cast<std::size_t>(got))))
                    return true;
            } else if (p[1].revents & POLLIN) {
                return false; // the gateway died before it was ready
            }
        }
    }

private:
    static bool has_ready_line(const std::string& msg)
    {
        std::size_t start = 0;
        while (start <= msg.size()) {
            std::size_t end = msg.find('\n', start);
            if (end == std::string::npos)
                end = msg.size();
            if (msg.compare(start, end - start, "READY=1") == 0)
                return true;
            start = end + 1;
        }
        return false;
    }

    fs::path path_;
    hgw::UniqueFd fd_;
};

struct Stats {
    std::size_t samples = 0;
    double first_us = 0; // the first call, before any warm-up: cold caches
    double median_us = 0;
    double p99_us = 0;
    double min_us = 0;
    double max_us = 0;
    double mean_us = 0;
};

Stats summarize(std::vector<double> us, double first_us)
{
    std::sort(us.begin(), us.end());
    const std::size_t n = us.size();
    Stats s;
    s.samples = n;
    s.first_us = first_us;
    s.median_us = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
    s.p99_us = us[static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(n))) - 1];
    s.min_us = us.front();
    s.max_us = us.back();
    s.mean_us = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(n);
    return s;
}

// Times `call` once. `call` checks its own result, so a broken setup fails
// loudly instead of passing for a fast one.
template <typename F>
double time_once(F& call)
{
    const auto t0 = Clock::now();
    call();
    const auto t1 = Clock::now();
    return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

// Back-to-back calls: the steady-state cost.
template <typename F>
Stats bench(F call, int iterations, int warmup)
{
    const double first = time_once(call);
    for (int i = 0; i < warmup; ++i) {
        check_interrupted();
        time_once(call);
    }
    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(iterations));
    for (int i = 0; i < iterations; ++i) {
        check_interrupted();
        us.push_back(time_once(call));
    }
    return summarize(std::move(us), first);
}

// Calls spaced `gap` apart, as a one-shot `pidfile check` or an occasional
// check by a daemon sees them. The gap matters: reading /proc/locks takes a
// kernel lock whose fast path is re-armed by an RCU grace period once nobody
// has read it for a while (see docs/benchmarks.md).
template <typename F>
Stats bench_spaced(F call, int samples, std::chrono::milliseconds gap)
{
    std::vector<double> us;
    for (int i = 0; i < samples; ++i) {
        std::this_thread::sleep_for(gap); // the spacing is the point, not a wait for a race
        check_interrupted();
        us.push_back(time_once(call));
    }
    return summarize(us, us.front());
}

// A validate() call that fails unless the verdict is the expected one.
auto validate_expecting(const hgw::HomePaths& paths, hgw::VerdictKind expected)
{
    return [&paths, expected] {
        hgw::Verdict v = hgw::validate(paths);
        if (v.kind != expected)
            fail("validate() said " + std::string(hgw::to_string(v.kind)) + " (" + v.summary + "), expected " +
                 std::string(hgw::to_string(expected)));
    };
}

nlohmann::ordered_json to_json(const Stats& s)
{
    return {{"samples", s.samples}, {"first_us", s.first_us}, {"median_us", s.median_us},
            {"p99_us", s.p99_us},   {"min_us", s.min_us},     {"max_us", s.max_us},
            {"mean_us", s.mean_us}};
}

int parse_count(const std::string& flag, const char* text)
{
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 1 || v > 10'000'000)
        fail(flag + " wants a count between 1 and 10000000, not '" + text + "'");
    return static_cast<int>(v);
}

Options parse_args(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::cout << "usage: validate_bench [--iterations N] [--warmup N] [--spaced N] [--gap-ms N]\n"
                         "                      [--workdir DIR] [--stub PATH] [--json FILE]\n";
            std::exit(0);
        }
        if (i + 1 >= argc)
            fail("unknown option or missing value: " + a);
        const char* val = argv[++i];
        if (a == "--iterations")
            o.iterations = parse_count(a, val);
        else if (a == "--warmup")
            o.warmup = parse_count(a, val);
        else if (a == "--spaced")
            o.spaced = parse_count(a, val);
        else if (a == "--gap-ms")
            o.gap = std::chrono::milliseconds(parse_count(a, val));
        else if (a == "--workdir")
            o.workdir = val;
        else if (a == "--stub")
            o.stub = val;
        else if (a == "--json")
            o.json_out = val;
        else
            fail("unknown option: " + a);
    }
    return o;
}

void print_header(const std::string& title)
{
    std::cout << "\n" << title << " (microseconds)\n"
              << std::left << std::setw(34) << "" << std::right << std::setw(10) << "median" << std::setw(10)
              << "p99" << std::setw(10) << "min" << std::setw(10) << "max" << std::setw(10) << "mean"
              << std::setw(10) << "first" << "\n";
}

void print_row(const std::string& name, const Stats& s)
{
    std::cout << std::left << std::setw(34) << name << std::right << std::fixed << std::setprecision(2)
              << std::setw(10) << s.median_us << std::setw(10) << s.p99_us << std::setw(10) << s.min_us
              << std::setw(10) << s.max_us << std::setw(10) << s.mean_us << std::setw(10) << s.first_us << "\n";
}

// The parts validate() is made of, timed alone on the live home, plus one
// bare system call as the machine's unit of cost.
nlohmann::ordered_json bench_parts(const hgw::HomePaths& paths, pid_t pid, const Options& o)
{
    print_header("parts of validate(), live gateway, back to back");
    nlohmann::ordered_json parts;
    auto part = [&](const std::string& name, auto call) {
        Stats s = bench(call, o.iterations, o.warmup / 10);
        print_row(name, s);
        parts[name] = to_json(s);
    };
    part("syscall getppid()", [] {
        if (::syscall(SYS_getppid) <= 0)
            fail("getppid");
    });
    part("probe_lock() (/proc/locks)", [&] {
        if (!hgw::probe_lock(paths.lock_file).held)
            fail("gateway.lock is not held");
    });
    part("read_record_file(gateway.pid)", [&] {
        if (hgw::read_record_file(paths.pid_file).status != hgw::FileStatus::Record)
            fail("gateway.pid is not a record");
    });
    part("canonical_home() (validate: 2x)", [&] {
        if (hgw::canonical_home(paths.home).empty())
            fail("canonical_home");
    });
    part("probe_process(gateway pid)", [&] {
        if (hgw::probe_process(pid).liveness != hgw::Liveness::Alive)
            fail("the gateway is not alive");
    });
    return parts;
}

int run(const Options& o)
{
    TempDir dir(o.workdir, "hgw-bench");
    const fs::path home = dir.path() / "home";
    fs::create_directory(home);
    const hgw::HomePaths paths = hgw::paths_for(home);

    NotifySocket notify(dir.path() / "notify.sock");
    // SIGKILLed if we die, so an interrupted benchmark leaves no gateway.
    Process gateway({o.stub, "gateway", "run"},
                    {{"HERMES_HOME", home.string()}, {"NOTIFY_SOCKET", notify.path().string()}},
                    {"WATCHDOG_USEC", "WATCHDOG_PID"}, dir.path() / "stub.log", SIGKILL);
    if (!notify.wait_ready(gateway.pidfd(), kReadyTimeout))
        fail("the stub gateway did not report READY=1; its output:\n" + read_text(dir.path() / "stub.log"));

    nlohmann::ordered_json j = {{"iterations", o.iterations}, {"warmup", o.warmup}, {"spaced", o.spaced},
                                {"gap_ms", o.gap.count()}};
    const auto live_call = validate_expecting(paths, hgw::VerdictKind::Live);
    const auto stale_call = validate_expecting(paths, hgw::VerdictKind::Stale);

    print_header("validate(), " + std::to_string(o.spaced) + " calls " + std::to_string(o.gap.count()) +
                 " ms apart");
    const Stats live_spaced = bench_spaced(live_call, o.spaced, o.gap);
    print_row("live gateway, spaced", live_spaced);
    j["live_spaced"] = to_json(live_spaced);
    // The same spacing for the lock probe alone: is /proc/locks the cause?
    const Stats probe_spaced = bench_spaced(
        [&paths] {
            if (!hgw::probe_lock(paths.lock_file).held)
                fail("gateway.lock is not held");
        },
        o.spaced, o.gap);
    print_row("probe_lock() alone, spaced", probe_spaced);
    j["probe_lock_spaced"] = to_json(probe_spaced);

    print_header("validate(), " + std::to_string(o.iterations) + " calls back to back after " +
                 std::to_string(o.warmup) + " warm-up calls");
    const Stats live = bench(live_call, o.iterations, o.warmup);
    print_row("live gateway", live);
    j["live"] = to_json(live);

    j["parts"] = bench_parts(paths, gateway.pid(), o);

    gateway.kill_and_reap(); // SIGKILL: gateway.pid stays, naming a PID that is gone
    if (hgw::validate(paths).reason != hgw::StaleReason::ProcessGone)
        fail("after SIGKILL the record is not judged stale with reason process-gone");
    print_header("validate(), stale record (its gateway was SIGKILLed), back to back");
    const Stats stale = bench(stale_call, o.iterations, o.warmup);
    print_row("stale (dead pid)", stale);
    j["stale"] = to_json(stale);

    if (!o.json_out.empty()) {
        std::ofstream out(o.json_out);
        out << j.dump(2) << "\n";
        if (!out)
            fail("cannot write " + o.json_out);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    install_signal_handlers();
    try {
        return run(parse_args(argc, argv));
    } catch (const Interrupted&) {
        std::cerr << "validate_bench: interrupted; cleaned up\n";
        return 130;
    } catch (const std::exception& e) {
        std::cerr << "validate_bench: " << e.what() << "\n";
        return 1;
    }
}
