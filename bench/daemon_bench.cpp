// daemon_bench: what hermes-gatewayd costs around the gateway it supervises.
//
// Starts its own dbus-daemon (the daemon tests' private bus admitting every
// uid, tests/support/private_bus.h) and hermes-gatewayd on it, supervising
// the stub gateway (tests/stub/hermes) in a throw-away Hermes home, then
// measures:
//
//  1. Replace downtime: from the old gateway's exit (a pidfd we open on it
//     turns readable) to the new gateway answering on its --serve-socket,
//     against the stub's own start-up measured the same way outside the
//     daemon (fork+exec to "pong" on its socket). Bare starts and replaces
//     alternate, so both see the same machine load.
//  2. Recovery after SIGKILL: from the kill to the new gateway answering,
//     and to the daemon's StateChanged(..., "running"), against the same
//     bare start-up. Bare starts and kills alternate too.
//  2b. Restart after the gateway's own exit 75: SIGUSR1 sent straight to the
//     gateway, as `hermes update` does, drains it; it exits 75 ("restart
//     me") and the daemon's policy starts it again with no delay.
//  3. GetStatus round trips from 1, 4 and 16 client threads (one bus
//     connection each), against floors on the same bus:
//     org.freedesktop.DBus.Peer.Ping answered by the daemon itself (the same
//     route through the bus and the daemon's loop, no work), Properties.Get
//     of a constant property (through sdbus-c++ and one getter of ours) and
//     GetId answered by the bus daemon (one hop less); and Ping and GetStatus
//     again from a plain sd-bus client (bench/sd_bus_caller.h). With the CPU time per
//     call of the daemon, the bus daemon and the client thread.
//  4. The daemon's resident memory (/proc/<pid>/status), after start-up and
//     after everything above.
//  5. Its wake-ups while idle: context switches and CPU time over a window
//     in which nothing talks to it.
//
// Every measurement checks what it measures (the answer comes from the new
// gateway's pid, the Replace reply names that pid, the daemon ends each
// trial running and ready), so a broken setup fails instead of passing for
// a fast one.
//
// Everything it starts is recorded in --pid-file ("<role> <pid> <start
// time>" lines) before anything else happens to it, so that bench/run-daemon
// can clean up even after a SIGKILL of this program. On a normal exit, an
// error, SIGINT or SIGTERM it stops them itself: the daemon with SIGTERM
// (the daemon then stops its gateway), the bus through the pidfd opened
// when it printed its PID.
//
// Usage: daemon_bench [--replaces N] [--kills N] [--usr1 N] [--load-seconds S]
//                     [--idle-seconds S] [--gap-ms N] [--workdir DIR]
//                     [--pid-file FILE] [--json FILE] [--daemon PATH]
//                     [--daemon-arg ARG]... [--stub PATH]
//
// --daemon-arg adds a flag to hermes-gatewayd's command line (repeatable),
// e.g. `--daemon-arg --readiness --daemon-arg notify`, for experiments; the
// figures in docs/benchmarks.md use none.

#include "bench_support.h"
#include "sd_bus_caller.h"
#include "process/pidfd.h"
#include "process/process_info.h"
#include "support/private_bus.h"
#include "util/bus_names.h"
#include "util/unique_fd.h"

#include <nlohmann/json.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <latch>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using namespace hgw::bench;

namespace {

// Generous: these bound a broken run, they are not part of any figure.
constexpr double kStepTimeout = 30.0; // seconds for one start, replace or recovery
constexpr double kStopTimeout = 15.0; // seconds for the daemon to stop its gateway and exit

struct Options {
    int replaces = 30;
    int kills = 20;
    int usr1 = 10;
    double load_seconds = 1.0; // per method, client count and round (two rounds)
    double idle_seconds = 10.0;
    int gap_ms = 200; // pause before each trial, see run_trials()
    double drain = 0.05;
    fs::path workdir = fs::temp_directory_path();
    std::string pid_file;
    std::string json_out;
    std::string daemon = HGW_DAEMON_PATH;
    std::vector<std::string> daemon_args; // extra flags, for experiments
    std::string stub = HGW_STUB_PATH;
};

// ------------------------------------------------------------ basics

// Set when the load is to stop: by a client's error, at the end of a round,
// or on a signal (g_interrupted, which the loops also check).
std::atomic<bool> g_stop_load{false};


void progress(const std::string& text)
{
    std::cerr << "daemon_bench: " << text << std::endl;
}

std::string tail(const std::string& text, std::size_t lines)
{
    std::size_t pos = text.size();
    while (lines-- > 0 && pos > 0) {
        pos = text.rfind('\n', pos - 1);
        if (pos == std::string::npos)
            return text;
    }
    return text.substr(pos + 1);
}

// The process's start time (field 22 of /proc/<pid>/stat); 0 if gone.
unsigned long long start_time_of(pid_t pid)
{
    return hgw::read_start_time(pid).value_or(0);
}

// The --pid-file: what the wrapper script may have to kill if we cannot.
class PidLog {
public:
    explicit PidLog(std::string path) : path_(std::move(path)) {}
    void add(const std::string& role, pid_t pid) const
    {
        if (path_.empty())
            return;
        std::ofstream out(path_, std::ios::app);
        out << role << " " << pid << " " << start_time_of(pid) << "\n";
    }

private:
    std::string path_;
};

// ------------------------------------------------------------ statistics

struct Stats {
    std::size_t n = 0;
    double median = 0, p95 = 0, p99 = 0, min = 0, max = 0, mean = 0;
};

// Nearest-rank percentile of sorted data.
double percentile(const std::vector<double>& sorted, double p)
{
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

Stats summarize(std::vector<double> xs)
{
    Stats s;
    if (xs.empty())
        return s;
    std::sort(xs.begin(), xs.end());
    s.n = xs.size();
    s.median = s.n % 2 ? xs[s.n / 2] : (xs[s.n / 2 - 1] + xs[s.n / 2]) / 2;
    s.p95 = percentile(xs, 0.95);
    s.p99 = percentile(xs, 0.99);
    s.min = xs.front();
    s.max = xs.back();
    double sum = 0;
    for (double x : xs)
        sum += x;
    s.mean = sum / static_cast<double>(s.n);
    return s;
}

// Figures are kept in milliseconds (latencies of the load phase in microseconds).
json to_json(const Stats& s)
{
    return {{"n", s.n},     {"median", s.median}, {"p95", s.p95}, {"p99", s.p99},
            {"min", s.min}, {"max", s.max},       {"mean", s.mean}};
}

// ------------------------------------------------------------ processes

// ------------------------------------------------------------ the bus

// ------------------------------------------------------------ sockets

// The receiving end of sd_notify: the daemon's own (as systemd would be)
// and the bare stub's. Always drained: a sender facing a full queue
// (net.unix.max_dgram_qlen, 10 by default) would block in sd_notify.
class NotifySocket {
public:
    explicit NotifySocket(const fs::path& path) : path_(path), fd_(bind_notify_socket(path, SOCK_NONBLOCK)) {}
    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] const fs::path& path() const { return path_; }

    // Reads every queued datagram; returns how many had a READY=1 line.
    int drain(std::size_t* messages = nullptr)
    {
        int ready = 0;
        char buf[4096];
        for (;;) {
            ssize_t got = ::recv(fd_.get(), buf, sizeof buf, 0);
            if (got < 0)
                break;
            if (messages)
                ++*messages;
            std::istringstream lines(std::string(buf, static_cast<std::size_t>(got)));
            for (std::string line; std::getline(lines, line);)
                if (line == "READY=1")
                    ++ready;
        }
        return ready;
    }

private:
    fs::path path_;
    hgw::UniqueFd fd_;
};

// Asks a stub gateway's --serve-socket who it is: "pong <pid>". The socket
// file appears at bind(); listen() follows a few microseconds later, so a
// refused connection is retried briefly.
pid_t ask_pong(const fs::path& path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const double deadline = now() + 2.0;
    for (;;) {
        hgw::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd)
            fail_errno("socket");
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            timeval tv{5, 0};
            ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string answer;
            char buf[64];
            ssize_t got;
            while ((got = ::read(fd.get(), buf, sizeof buf)) > 0)
                answer.append(buf, static_cast<std::size_t>(got));
            if (answer.rfind("pong ", 0) != 0)
                fail("unexpected answer on " + path.string() + ": '" + answer + "'");
            return static_cast<pid_t>(std::stol(answer.substr(5)));
        }
        if ((errno != ECONNREFUSED && errno != ENOENT) || now() > deadline)
            fail_errno("connect " + path.string());
        timespec pause{0, 20'000}; // 20 us: between the stub's bind() and listen()
        ::nanosleep(&pause, nullptr);
    }
}

// ------------------------------------------------------------ /proc

struct ProcSample {
    unsigned long long ctxt_voluntary = 0, ctxt_nonvoluntary = 0;
    unsigned long long run_ns = 0, timeslices = 0; // schedstat, summed over threads
    int threads = 0;
    std::map<std::string, long> kib; // VmRSS, RssAnon, ... in kB
};

ProcSample sample_process(pid_t pid)
{
    ProcSample s;
    const fs::path proc = "/proc/" + std::to_string(pid);
    std::istringstream status(read_text(proc / "status"));
    for (std::string line; std::getline(status, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string key = line.substr(0, colon);
        if (key == "VmRSS" || key == "VmHWM" || key == "RssAnon" || key == "RssFile" || key == "RssShmem" ||
            key == "VmSize")
            s.kib[key] = std::stol(line.substr(colon + 1));
    }
    // Context switches are counted per thread: sum them all.
    std::error_code ec;
    for (const auto& task : fs::directory_iterator(proc / "task", ec)) {
        ++s.threads;
        std::istringstream ts(read_text(task.path() / "status"));
        for (std::string line; std::getline(ts, line);) {
            if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
                s.ctxt_voluntary += std::stoull(line.substr(line.find(':') + 1));
            else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
                s.ctxt_nonvoluntary += std::stoull(line.substr(line.find(':') + 1));
        }
        std::istringstream sched(read_text(task.path() / "schedstat"));
        unsigned long long run = 0, wait = 0, slices = 0;
        if (sched >> run >> wait >> slices) {
            s.run_ns += run;
            s.timeslices += slices;
        }
    }
    if (s.threads == 0)
        fail("process " + std::to_string(pid) + " is gone");
    return s;
}

// ------------------------------------------------------------ the bench

// Timestamps of one trial (seconds, CLOCK_MONOTONIC; NaN: not seen).
struct Trial {
    static constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();
    pid_t old_pid = 0;         // the gateway being replaced or killed
    double begin = kUnset;     // bare start: before fork; replace: the call; kill, SIGUSR1: the signal
    double exited = kUnset;    // pidfd of the old gateway readable
    double exit_signal = kUnset; // GatewayExited(old_pid) received
    double spawned = kUnset;   // PropertiesChanged GatewayPID = a new pid received
    pid_t spawned_pid = 0;
    double answered = kUnset;  // "pong <new pid>" read from the serve socket
    pid_t answer_pid = 0;
    double ready_notify = kUnset; // bare stub: its READY=1 received
    double running = kUnset;   // StateChanged(..., "running") received, after the exit
    double record = kUnset;    // the new gateway's gateway.pid written (inotify), after the exit
    double replied = kUnset;   // Replace reply received
    pid_t reply_pid = 0;
    std::string reply_error;
    std::string watched_socket; // file name in the work dir
    int pidfd = -1;             // of the old gateway (replace, kill) or the bare stub (its stop)
};

bool seen(double t) { return !std::isnan(t); }

double ms(double from, double to) { return (to - from) * 1e3; }

struct LoadResult {
    std::vector<double> latencies_us;
    double seconds = 0;
    std::size_t calls = 0;
    double daemon_cpu_ms = 0, bus_cpu_ms = 0, client_cpu_ms = 0;
};

// CPU time of the calling thread, in seconds.
double thread_cpu()
{
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class Bench {
public:
    explicit Bench(const Options& o)
        : o_(o), dir_(o.workdir, "hgw-daemon-bench"), pids_(o.pid_file)
    {
        home_ = dir_.path() / "home";
        bare_home_ = dir_.path() / "bare-home";
        fs::create_directory(home_);
        fs::create_directory(bare_home_);

        inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!inotify_)
            fail_errno("inotify_init1");
        // The serve sockets appear here: IN_CREATE is the moment a stub binds.
        if (::inotify_add_watch(inotify_.get(), dir_.path().c_str(), IN_CREATE) < 0)
            fail_errno("inotify_add_watch");
        // The gateway's record written whole: from here the daemon may call it ready.
        home_wd_ = ::inotify_add_watch(inotify_.get(), home_.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
        if (home_wd_ < 0)
            fail_errno("inotify_add_watch");

        daemon_notify_ = std::make_unique<NotifySocket>(dir_.path() / "daemon-notify.sock");
        bare_notify_ = std::make_unique<NotifySocket>(dir_.path() / "bare-notify.sock");
    }

    ~Bench() { stop(); }

    // Stops everything; the work directory goes with the object. The proxy
    // and connection go first: nothing must dispatch into us while the
    // processes are stopped. The bus goes after the daemon.
    void stop() noexcept
    {
        trial_ = nullptr;
        proxy_.reset();
        connection_.reset();
        stop_daemon();
        bus_.reset();
    }

    json run()
    {
        // Started here, not in the constructor, so that the destructor stops
        // them whatever fails from now on.
        progress("starting a private dbus-daemon");
        bus_ = std::make_unique<hgw::test::PrivateBus>(fs::path(), dir_.path());
        pids_.add("dbus-daemon", bus_->pid());
        connection_ = sdbus::createSessionBusConnectionWithAddress(bus_->address());
        proxy_ = sdbus::createProxy(*connection_, HGW_BUS_NAME, HGW_BUS_PATH);
        subscribe();
        start_daemon();

        json j;
        j["options"] = {{"replaces", o_.replaces}, {"kills", o_.kills}, {"usr1", o_.usr1},   {"load_seconds", o_.load_seconds},
                        {"idle_seconds", o_.idle_seconds}, {"gap_ms", o_.gap_ms}, {"stub_drain_s", o_.drain}};
        j["daemon_command"] = daemon_argv_;
        pid_t first = wait_running();
        j["rss_after_start_kib"] = sample_process(daemon_->pid()).kib;
        progress("daemon ready, gateway pid " + std::to_string(first));

        j["replace"] = replace_phase();
        j["kill"] = kill_phase();
        j["exit75"] = usr1_phase();
        j["load"] = load_phase();
        j["idle"] = idle_phase();
        return j;
    }

private:
    // -------------------------------------------------- set-up

    void subscribe()
    {
        proxy_->uponSignal(HGW_BUS_SIGNAL_STATE_CHANGED)
            .onInterface(HGW_BUS_INTERFACE)
            .call([this](const std::string& from, const std::string& to, const std::string& reason) {
                (void)from;
                (void)reason;
                if (trial_ && to == "running" && seen(trial_->exited) && !seen(trial_->running))
                    trial_->running = now();
                if (to == "running")
                    ++running_signals_;
            });
        proxy_->uponSignal(HGW_BUS_SIGNAL_GATEWAY_EXITED)
            .onInterface(HGW_BUS_INTERFACE)
            .call([this](std::uint32_t pid, const std::string&, std::int32_t) {
                if (trial_ && static_cast<pid_t>(pid) == trial_->old_pid && !seen(trial_->exit_signal))
                    trial_->exit_signal = now();
            });
        proxy_->uponSignal("PropertiesChanged")
            .onInterface("org.freedesktop.DBus.Properties")
            .call([this](const std::string& iface, const std::map<std::string, sdbus::Variant>& changed,
                         const std::vector<std::string>&) {
                if (!trial_ || iface != HGW_BUS_INTERFACE)
                    return;
                auto it = changed.find(HGW_BUS_PROPERTY_GATEWAY_PID);
                if (it == changed.end())
                    return;
                auto pid = static_cast<pid_t>(it->second.get<std::uint32_t>());
                if (pid != 0 && pid != trial_->old_pid && !seen(trial_->spawned)) {
                    trial_->spawned = now();
                    trial_->spawned_pid = pid;
                }
            });
        proxy_->finishRegistration();
    }

    void start_daemon()
    {
        serve_socket_ = dir_.path() / "gw.sock";
        daemon_argv_ = {o_.daemon,
                        "--config", "", // hermetic: no /etc/hermes/gatewayd.conf
                        "--address", bus_->address(),
                        "--home", home_.string(),
                        "--log-target", "stderr",
                        // The restart policy's crash budget (5 in 2 min) would
                        // stop the kill series: lifted, it is not what we time.
                        "--burst", "100000",
                        "--ready-timeout", "30s"};
        for (const auto& a : o_.daemon_args)
            daemon_argv_.push_back(a);
        daemon_argv_.push_back("--");
        for (const auto& a : stub_argv(serve_socket_))
            daemon_argv_.push_back(a);
        progress("starting hermes-gatewayd");
        // SIGTERM if we die: the daemon then stops its gateway itself.
        daemon_ = std::make_unique<Process>(daemon_argv_,
                                            std::map<std::string, std::string>{
                                                {"NOTIFY_SOCKET", daemon_notify_->path().string()}},
                                            std::vector<std::string>{"HERMES_HOME", "WATCHDOG_USEC",
                                                                     "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"},
                                            dir_.path() / "daemon.log", SIGTERM);
        pids_.add("hermes-gatewayd", daemon_->pid());
        pump(now() + kStepTimeout, [&] { return daemon_ready_ > 0; }, "the daemon's READY=1");
    }

    void stop_daemon() noexcept
    {
        if (!daemon_)
            return;
        try {
            daemon_->signal(SIGTERM);
            if (!daemon_->wait(kStopTimeout)) {
                std::cerr << "daemon_bench: hermes-gatewayd did not stop in time; SIGKILL\n";
                // Its gateway runs in a session of its own and would outlive
                // it. Note the daemon's children, kill the daemon first (so
                // it cannot start another), then them, each only while its
                // PID still names the process we noted.
                std::vector<std::pair<pid_t, unsigned long long>> children;
                for (pid_t pid : children_of(daemon_->pid()))
                    children.emplace_back(pid, start_time_of(pid));
                daemon_->kill_and_reap();
                for (auto [pid, start] : children)
                    if (start != 0 && start_time_of(pid) == start)
                        ::kill(pid, SIGKILL);
            }
            // A clean shutdown exits 0; anything else (a crash, a sanitizer
            // report) is shown before the work directory and its log go.
            int ws = daemon_->wait_status();
            if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                std::cerr << "daemon_bench: hermes-gatewayd ended with wait status " << ws
                          << "; the end of its log:\n"
                          << tail(read_text(dir_.path() / "daemon.log"), 40) << "\n";
                daemon_failed_ = true;
            }
        } catch (...) {
        }
        daemon_.reset();
    }

public:
    // Set once the daemon has been stopped, if it did not exit cleanly.
    [[nodiscard]] bool daemon_failed() const { return daemon_failed_; }

private:

    // /proc/<pid>/task/*/children: the PIDs a process has forked and not reaped.
    static std::vector<pid_t> children_of(pid_t pid)
    {
        std::vector<pid_t> out;
        std::error_code ec;
        for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
            std::istringstream in(read_text(task.path() / "children"));
            for (pid_t child; in >> child;)
                out.push_back(child);
        }
        return out;
    }

    std::vector<std::string> stub_argv(const fs::path& socket) const
    {
        std::ostringstream drain;
        drain << o_.drain;
        return {o_.stub, "gateway", "run", "--serve-socket", socket.string(), "--drain", drain.str()};
    }

    [[noreturn]] void fail_with_log(const std::string& what)
    {
        fail(what + "\n--- tail of the daemon's log ---\n" + tail(read_text(dir_.path() / "daemon.log"), 30));
    }

    // -------------------------------------------------- the event pump

    // Waits until `done()` holds, handling every source as it comes: the bus
    // (signals, the Replace reply), both notify sockets, the serve sockets'
    // creation, the trial's pidfd and the daemon's own exit.
    void pump(double deadline, const std::function<bool()>& done, const std::string& what)
    {
        for (;;) {
            while (connection_->processPendingRequest()) {
            }
            if (done())
                return;
            check_interrupted();
            double left = deadline - now();
            if (left <= 0) {
                if (what.empty())
                    return; // a pause, not a wait
                fail_with_log("timed out waiting for " + what);
            }
            auto bus = connection_->getEventLoopPollData();
            std::vector<pollfd> fds = {{bus.fd, bus.events, 0},
                                       {daemon_notify_->fd(), POLLIN, 0},
                                       {bare_notify_->fd(), POLLIN, 0},
                                       {inotify_.get(), POLLIN, 0},
                                       {daemon_->pidfd(), POLLIN, 0}};
            if (trial_ && trial_->pidfd >= 0 && !seen(trial_->exited))
                fds.push_back({trial_->pidfd, POLLIN, 0});
            int timeout_ms = static_cast<int>(std::ceil(left * 1000));
            int n = ::poll(fds.data(), fds.size(), timeout_ms);
            const double t = now();
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                fail_errno("poll");
            if (fds.size() > 5 && (fds[5].revents & POLLIN))
                trial_->exited = t;
            if (fds[1].revents & POLLIN)
                daemon_ready_ += daemon_notify_->drain(&daemon_messages_);
            if ((fds[2].revents & POLLIN) && bare_notify_->drain() > 0 && trial_ && !seen(trial_->ready_notify))
                trial_->ready_notify = t;
            if (fds[3].revents & POLLIN)
                on_created();
            if (fds[4].revents & POLLIN)
                fail_with_log("hermes-gatewayd exited unexpectedly");
        }
    }

    void on_created()
    {
        alignas(inotify_event) char buf[4096];
        for (;;) {
            ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
            if (n <= 0)
                return;
            for (char* p = buf; p < buf + n;) {
                auto* ev = reinterpret_cast<inotify_event*>(p);
                p += sizeof(inotify_event) + ev->len;
                if (ev->wd == home_wd_) {
                    if (trial_ && ev->len && std::string_view(ev->name) == "gateway.pid" && seen(trial_->exited) &&
                        !seen(trial_->record))
                        trial_->record = now();
                    continue;
                }
                if (!trial_ || !ev->len || trial_->watched_socket != ev->name || seen(trial_->answered))
                    continue;
                pid_t pid = ask_pong(dir_.path() / ev->name);
                if (pid == trial_->old_pid)
                    fail_with_log("the old gateway answered on the new socket");
                trial_->answered = now();
                trial_->answer_pid = pid;
            }
        }
    }

    // -------------------------------------------------- status

    std::map<std::string, sdbus::Variant> status()
    {
        std::map<std::string, sdbus::Variant> out;
        proxy_->callMethod(HGW_BUS_METHOD_GET_STATUS).onInterface(HGW_BUS_INTERFACE).storeResultsTo(out);
        return out;
    }

    // Waits until the daemon reports a ready, running gateway; returns its pid.
    pid_t wait_running()
    {
        const double deadline = now() + kStepTimeout;
        for (;;) {
            auto s = status();
            if (s.at("state").get<std::string>() == "running" && s.at("ready").get<bool>()) {
                auto pid = static_cast<pid_t>(s.at("pid").get<std::uint32_t>());
                if (pid != last_gateway_pid_) {
                    last_gateway_pid_ = pid;
                    pids_.add("gateway", pid);
                }
                return pid;
            }
            if (s.at("state").get<std::string>() == "failed")
                fail_with_log("the daemon reports failed: " + s.at("failure_reason").get<std::string>());
            // Not running yet: wait for the next StateChanged to "running".
            unsigned before = running_signals_;
            pump(deadline, [&] { return running_signals_ != before; }, "the gateway to be running");
        }
    }

    // -------------------------------------------------- trials

    // Points the event handlers at one trial for as long as it runs, and
    // never at one that is gone, whatever throws.
    class TrialScope {
    public:
        TrialScope(Bench& b, Trial& t) : b_(b) { b_.trial_ = &t; }
        ~TrialScope() { b_.trial_ = nullptr; }
        TrialScope(const TrialScope&) = delete;
        TrialScope& operator=(const TrialScope&) = delete;

    private:
        Bench& b_;
    };

    // The stub alone, as our child: fork+exec to its READY=1 and to "pong"
    // on its socket; then SIGTERM and wait for its exit (not timed).
    Trial bare_start()
    {
        Trial t;
        t.watched_socket = "bare.sock";
        TrialScope scope(*this, t);
        t.begin = now();
        Process stub(stub_argv(dir_.path() / "bare.sock"),
                     {{"HERMES_HOME", bare_home_.string()}, {"NOTIFY_SOCKET", bare_notify_->path().string()}},
                     {"WATCHDOG_USEC", "WATCHDOG_PID"}, dir_.path() / "bare-stub.log", SIGKILL);
        pump(now() + kStepTimeout, [&] { return seen(t.answered) && seen(t.ready_notify); },
             "the bare stub's READY=1 and pong");
        if (t.answer_pid != stub.pid())
            fail("the bare stub socket answered for pid " + std::to_string(t.answer_pid));
        stub.signal(SIGTERM);
        t.pidfd = stub.pidfd();
        pump(now() + kStepTimeout, [&] { return seen(t.exited); }, "the bare stub to exit");
        stub.reap();
        t.pidfd = -1;
        return t;
    }

    Trial replace_once()
    {
        Trial t;
        t.old_pid = wait_running();
        hgw::UniqueFd pidfd(hgw::pidfd_open(t.old_pid));
        if (!pidfd)
            fail_errno("pidfd_open " + std::to_string(t.old_pid));
        t.pidfd = pidfd.get();
        t.watched_socket = serve_socket_.filename().string();
        TrialScope scope(*this, t);
        t.begin = now();
        std::map<std::string, sdbus::Variant> options{{"reason", sdbus::Variant(std::string("daemon_bench"))}};
        auto call = proxy_->callMethodAsync(HGW_BUS_METHOD_REPLACE)
                        .onInterface(HGW_BUS_INTERFACE)
                        .withTimeout(std::chrono::seconds(60))
                        .withArguments(options)
                        .uponReplyInvoke([&t](const sdbus::Error* e, std::uint32_t pid, std::uint64_t) {
                            t.replied = now();
                            t.reply_pid = static_cast<pid_t>(pid);
                            if (e)
                                t.reply_error = e->getName() + ": " + e->getMessage();
                        });
        (void)call;
        pump(now() + kStepTimeout,
             [&] {
                 return seen(t.exited) && seen(t.exit_signal) && seen(t.spawned) && seen(t.answered) &&
                        seen(t.running) && seen(t.replied);
             },
             "a replace to complete");
        t.pidfd = -1;
        if (!t.reply_error.empty())
            fail_with_log("Replace failed: " + t.reply_error);
        if (t.reply_pid != t.answer_pid || t.spawned_pid != t.answer_pid)
            fail_with_log("Replace returned pid " + std::to_string(t.reply_pid) + ", the daemon published " +
                          std::to_string(t.spawned_pid) + ", the socket answered for " +
                          std::to_string(t.answer_pid));
        return t;
    }

    // A signal straight to the gateway, not through the daemon; returns once
    // a new gateway answers and the daemon says running again.
    Trial signal_once(int sig, const std::string& what)
    {
        Trial t;
        t.old_pid = wait_running();
        hgw::UniqueFd pidfd(hgw::pidfd_open(t.old_pid));
        if (!pidfd)
            fail_errno("pidfd_open " + std::to_string(t.old_pid));
        t.pidfd = pidfd.get();
        t.watched_socket = serve_socket_.filename().string();
        TrialScope scope(*this, t);
        t.begin = now();
        if (hgw::pidfd_send_signal(pidfd.get(), sig) != 0)
            fail_errno("pidfd_send_signal");
        pump(now() + kStepTimeout,
             [&] {
                 return seen(t.exited) && seen(t.exit_signal) && seen(t.spawned) && seen(t.answered) &&
                        seen(t.running);
             },
             what);
        t.pidfd = -1;
        if (t.spawned_pid != t.answer_pid)
            fail_with_log("the daemon published pid " + std::to_string(t.spawned_pid) +
                          ", the socket answered for " + std::to_string(t.answer_pid));
        return t;
    }

    Trial kill_once() { return signal_once(SIGKILL, "the recovery from SIGKILL"); }

    // SIGUSR1: the gateway drains and exits 75, which the daemon's policy
    // restarts with no delay.
    Trial usr1_once() { return signal_once(SIGUSR1, "the restart after exit 75"); }

    // A pause before each trial. It keeps trials apart the way real replaces
    // and crashes are apart: the previous start's work (Python's, the
    // daemon's) is over, and kernel state that a quick succession keeps warm
    // (the /proc/locks semaphore, see docs/benchmarks.md) is cold again, as
    // it is after a long healthy run. The notify sockets are drained meanwhile.
    void gap()
    {
        pump(now() + o_.gap_ms / 1000.0, [] { return false; }, "");
    }

    // Alternates a bare start with one operation, so both sets see the same
    // machine. Returns the two sets of trials.
    template <typename Op>
    std::pair<std::vector<Trial>, std::vector<Trial>> run_trials(int count, const std::string& name, Op op)
    {
        std::vector<Trial> bare, ops;
        for (int i = 0; i < count; ++i) {
            gap();
            bare.push_back(bare_start());
            gap();
            ops.push_back((this->*op)());
            if ((i + 1) % 10 == 0 || i + 1 == count)
                progress(name + " " + std::to_string(i + 1) + "/" + std::to_string(count));
        }
        return {std::move(bare), std::move(ops)};
    }

    static std::vector<double> series(const std::vector<Trial>& ts, double Trial::*from, double Trial::*to)
    {
        std::vector<double> out;
        for (const auto& t : ts)
            out.push_back(ms(t.*from, t.*to));
        return out;
    }

    static std::vector<double> paired_difference(const std::vector<double>& a, const std::vector<double>& b)
    {
        std::vector<double> out;
        for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
            out.push_back(a[i] - b[i]);
        return out;
    }

    json bare_json(const std::vector<Trial>& bare)
    {
        return {{"exec_to_ready_notify", to_json(summarize(series(bare, &Trial::begin, &Trial::ready_notify)))},
                {"exec_to_answer", to_json(summarize(series(bare, &Trial::begin, &Trial::answered)))}};
    }

    json replace_phase()
    {
        progress("replace: " + std::to_string(o_.replaces) + " replaces, each after a bare stub start");
        auto [bare, ops] = run_trials(o_.replaces, "replace", &Bench::replace_once);
        auto downtime = series(ops, &Trial::exited, &Trial::answered);
        auto startup = series(bare, &Trial::begin, &Trial::answered);
        return {{"bare_stub", bare_json(bare)},
                {"downtime", to_json(summarize(downtime))},
                {"overhead_paired", to_json(summarize(paired_difference(downtime, startup)))},
                {"call_to_exit", to_json(summarize(series(ops, &Trial::begin, &Trial::exited)))},
                {"exit_to_exit_signal", to_json(summarize(series(ops, &Trial::exited, &Trial::exit_signal)))},
                {"exit_to_spawned", to_json(summarize(series(ops, &Trial::exited, &Trial::spawned)))},
                {"spawned_to_answer", to_json(summarize(series(ops, &Trial::spawned, &Trial::answered)))},
                {"answer_to_running", to_json(summarize(series(ops, &Trial::answered, &Trial::running)))},
                {"record_to_running", to_json(summarize(series(ops, &Trial::record, &Trial::running)))},
                {"answer_to_reply", to_json(summarize(series(ops, &Trial::answered, &Trial::replied)))},
                {"call_to_reply", to_json(summarize(series(ops, &Trial::begin, &Trial::replied)))}};
    }

    json kill_phase()
    {
        progress("kill: " + std::to_string(o_.kills) + " SIGKILLs, each after a bare stub start");
        auto [bare, ops] = run_trials(o_.kills, "kill", &Bench::kill_once);
        auto recovery = series(ops, &Trial::begin, &Trial::answered);
        auto startup = series(bare, &Trial::begin, &Trial::answered);
        return {{"bare_stub", bare_json(bare)},
                {"kill_to_answer", to_json(summarize(recovery))},
                {"kill_to_running", to_json(summarize(series(ops, &Trial::begin, &Trial::running)))},
                {"overhead_paired", to_json(summarize(paired_difference(recovery, startup)))},
                {"kill_to_exit", to_json(summarize(series(ops, &Trial::begin, &Trial::exited)))},
                {"exit_to_exit_signal", to_json(summarize(series(ops, &Trial::exited, &Trial::exit_signal)))},
                {"exit_to_spawned", to_json(summarize(series(ops, &Trial::exited, &Trial::spawned)))},
                {"spawned_to_answer", to_json(summarize(series(ops, &Trial::spawned, &Trial::answered)))},
                {"answer_to_running", to_json(summarize(series(ops, &Trial::answered, &Trial::running)))},
                {"record_to_running", to_json(summarize(series(ops, &Trial::record, &Trial::running)))}};
    }

    json usr1_phase()
    {
        progress("exit 75: " + std::to_string(o_.usr1) + " SIGUSR1s to the gateway, each after a bare stub start");
        auto [bare, ops] = run_trials(o_.usr1, "exit 75", &Bench::usr1_once);
        auto downtime = series(ops, &Trial::exited, &Trial::answered);
        auto startup = series(bare, &Trial::begin, &Trial::answered);
        return {{"bare_stub", bare_json(bare)},
                {"downtime", to_json(summarize(downtime))},
                {"overhead_paired", to_json(summarize(paired_difference(downtime, startup)))},
                {"exit_to_exit_signal", to_json(summarize(series(ops, &Trial::exited, &Trial::exit_signal)))},
                {"exit_to_spawned", to_json(summarize(series(ops, &Trial::exited, &Trial::spawned)))},
                {"spawned_to_answer", to_json(summarize(series(ops, &Trial::spawned, &Trial::answered)))},
                {"answer_to_running", to_json(summarize(series(ops, &Trial::answered, &Trial::running)))}};
    }

    // -------------------------------------------------- load

    // Ping is answered inside libsystemd's sd_bus_process(), before any
    // sdbus-c++ or daemon code runs: the floor of a call to the daemon.
    // Properties.Get of the constant PidFile goes through sdbus-c++'s
    // dispatch and one getter: the floor of a call into our code. GetId is
    // answered by the bus daemon itself: one hop instead of two.
    // The *SdBus methods are the same calls from a plain sd-bus client
    // (sd_bus_caller.h): the daemon's and the bus daemon's part without
    // sdbus-c++'s decoding of 14 variants.
    enum class Method { Ping, PropGet, GetStatus, GetId, PingSdBus, GetStatusSdBus };

    static const char* name_of(Method m)
    {
        switch (m) {
        case Method::Ping: return "Peer.Ping (daemon)";
        case Method::PropGet: return "Get PidFile (daemon)";
        case Method::GetStatus: return "GetStatus";
        case Method::GetId: return "GetId (bus daemon)";
        case Method::PingSdBus: return "Peer.Ping (daemon, sd-bus client)";
        case Method::GetStatusSdBus: return "GetStatus (sd-bus client)";
        }
        return "?";
    }

    // An sdbus-c++ client: the proxy goes before its connection.
    struct CppClient {
        std::unique_ptr<sdbus::IConnection> connection;
        std::unique_ptr<sdbus::IProxy> proxy;
    };

    // One client's call of `m`, with the connection it owns.
    static std::function<void()> make_call(Method m, const std::string& address)
    {
        if (m == Method::PingSdBus || m == Method::GetStatusSdBus)
            return sd_bus_call(m, address);
        auto c = std::make_shared<CppClient>();
        c->connection = sdbus::createSessionBusConnectionWithAddress(address);
        c->proxy = m == Method::GetId ? sdbus::createProxy(*c->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")
                                      : sdbus::createProxy(*c->connection, HGW_BUS_NAME, HGW_BUS_PATH);
        c->proxy->finishRegistration();
        switch (m) {
        case Method::Ping:
            return [c] { c->proxy->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer"); };
        case Method::PropGet:
            return [c] {
                if (c->proxy->getProperty(HGW_BUS_PROPERTY_PID_FILE).onInterface(HGW_BUS_INTERFACE).get<std::string>().empty())
                    throw std::runtime_error("PidFile: empty answer");
            };
        case Method::GetStatus:
            return [c] {
                std::map<std::string, sdbus::Variant> st;
                c->proxy->callMethod(HGW_BUS_METHOD_GET_STATUS).onInterface(HGW_BUS_INTERFACE).storeResultsTo(st);
                if (st.at("state").get<std::string>() != "running")
                    throw std::runtime_error("GetStatus: state is not running");
            };
        default:
            return [c] {
                std::string id;
                c->proxy->callMethod("GetId").onInterface("org.freedesktop.DBus").storeResultsTo(id);
                if (id.empty())
                    throw std::runtime_error("GetId: empty answer");
            };
        }
    }

    static std::function<void()> sd_bus_call(Method m, const std::string& address)
    {
        auto caller = std::make_shared<SdBusCaller>(address);
        if (m == Method::PingSdBus)
            return [caller] { caller->ping(); };
        return [caller] {
            if (caller->status_state() != "running")
                throw std::runtime_error("GetStatus: state is not running");
        };
    }

    // `clients` threads, each with its own connection, calling `m` back to
    // back for `seconds` after a warm-up. Latencies in microseconds.
    LoadResult load(Method m, int clients, double seconds)
    {
        std::latch warmed(clients);
        std::atomic<bool> go{false};
        g_stop_load.store(g_interrupted != 0);
        std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
        std::vector<double> ended(static_cast<std::size_t>(clients), 0.0);
        std::vector<double> cpu(static_cast<std::size_t>(clients), 0.0);
        std::mutex error_mutex;
        std::string error;
        const std::string address = bus_->address();

        // Warm up, wait for the go, then call back to back until told to stop.
        auto measure = [&](std::size_t idx, const std::function<void()>& call, bool& counted_down) {
            for (int i = 0; i < 50; ++i)
                call();
            warmed.count_down();
            counted_down = true;
            go.wait(false);
            auto& mine = lat[idx];
            mine.reserve(200'000);
            const double cpu0 = thread_cpu();
            while (!g_stop_load.load(std::memory_order_relaxed) && !g_interrupted && mine.size() < 2'000'000) {
                double t0 = now();
                call();
                mine.push_back((now() - t0) * 1e6);
            }
            cpu[idx] = thread_cpu() - cpu0;
            ended[idx] = now();
        };
        auto client = [&](std::size_t idx) {
            bool counted_down = false;
            try {
                measure(idx, make_call(m, address), counted_down);
            } catch (const std::exception& e) {
                std::lock_guard lock(error_mutex);
                error = e.what();
                g_stop_load.store(true);
            }
            if (!counted_down)
                warmed.count_down();
        };

        std::vector<std::thread> threads;
        for (int i = 0; i < clients; ++i)
            threads.emplace_back(client, static_cast<std::size_t>(i));
        warmed.wait();
        const ProcSample d0 = sample_process(daemon_->pid());
        const ProcSample b0 = sample_process(bus_->pid());
        const double start = now();
        go.store(true);
        go.notify_all();
        // The main thread keeps our own connection and notify sockets served
        // meanwhile. Whatever it throws, the clients are stopped and joined first.
        std::exception_ptr thrown;
        try {
            pump(start + seconds, [] { return g_stop_load.load() || g_interrupted; }, "");
        } catch (...) {
            thrown = std::current_exception();
        }
        g_stop_load.store(true);
        for (auto& th : threads)
            th.join();
        if (thrown)
            std::rethrow_exception(thrown);
        const ProcSample d1 = sample_process(daemon_->pid());
        const ProcSample b1 = sample_process(bus_->pid());
        check_interrupted();
        if (!error.empty())
            fail_with_log(std::string(name_of(m)) + " load failed: " + error);

        LoadResult r;
        r.seconds = *std::max_element(ended.begin(), ended.end()) - start;
        for (auto& v : lat) {
            r.calls += v.size();
            r.latencies_us.insert(r.latencies_us.end(), v.begin(), v.end());
        }
        for (double c : cpu)
            r.client_cpu_ms += c * 1e3;
        r.daemon_cpu_ms = static_cast<double>(d1.run_ns - d0.run_ns) / 1e6;
        r.bus_cpu_ms = static_cast<double>(b1.run_ns - b0.run_ns) / 1e6;
        return r;
    }

    json load_phase()
    {
        const std::vector<int> client_counts = {1, 4, 16};
        const std::vector<Method> order = {Method::Ping,   Method::PropGet,   Method::GetStatus,
                                           Method::GetId,  Method::PingSdBus, Method::GetStatusSdBus};
        json out = json::array();
        for (int clients : client_counts) {
            // Two rounds, the second in reverse order, so a drift in machine
            // load does not favour whichever method runs first.
            std::map<Method, LoadResult> merged;
            for (int round = 0; round < 2; ++round) {
                for (std::size_t k = 0; k < order.size(); ++k) {
                    Method m = round == 0 ? order[k] : order[order.size() - 1 - k];
                    LoadResult r = load(m, clients, o_.load_seconds);
                    auto& acc = merged[m];
                    acc.calls += r.calls;
                    acc.seconds += r.seconds;
                    acc.daemon_cpu_ms += r.daemon_cpu_ms;
                    acc.bus_cpu_ms += r.bus_cpu_ms;
                    acc.client_cpu_ms += r.client_cpu_ms;
                    acc.latencies_us.insert(acc.latencies_us.end(), r.latencies_us.begin(), r.latencies_us.end());
                }
            }
            for (Method m : order) {
                const auto& r = merged[m];
                Stats s = summarize(r.latencies_us);
                out.push_back({{"method", name_of(m)},
                               {"clients", clients},
                               {"calls", r.calls},
                               {"seconds", r.seconds},
                               {"calls_per_second", static_cast<double>(r.calls) / r.seconds},
                               {"latency_us", to_json(s)},
                               {"daemon_cpu_us_per_call", r.daemon_cpu_ms * 1e3 / static_cast<double>(r.calls)},
                               {"bus_cpu_us_per_call", r.bus_cpu_ms * 1e3 / static_cast<double>(r.calls)},
                               {"client_cpu_us_per_call", r.client_cpu_ms * 1e3 / static_cast<double>(r.calls)}});
            }
            progress("load: " + std::to_string(clients) + " client(s) done");
        }
        return out;
    }

    // -------------------------------------------------- idle

    json idle_phase()
    {
        wait_running();
        std::ostringstream secs;
        secs << o_.idle_seconds;
        progress("idle: watching the daemon for " + secs.str() + " s");
        // Nothing talks to the daemon from here on; our connection stays open
        // and idle, as any client's would.
        const std::size_t messages_before = daemon_messages_;
        const ProcSample a = sample_process(daemon_->pid());
        const double t0 = now();
        pump(t0 + o_.idle_seconds, [] { return false; }, "");
        const ProcSample b = sample_process(daemon_->pid());
        const double t1 = now();
        return {{"seconds", t1 - t0},
                {"threads", b.threads},
                {"voluntary_ctxt_switches", b.ctxt_voluntary - a.ctxt_voluntary},
                {"nonvoluntary_ctxt_switches", b.ctxt_nonvoluntary - a.ctxt_nonvoluntary},
                {"timeslices", b.timeslices - a.timeslices},
                {"cpu_us", static_cast<double>(b.run_ns - a.run_ns) / 1e3},
                {"notify_messages", daemon_messages_ - messages_before},
                {"memory_kib", b.kib}};
    }

    const Options& o_;
    TempDir dir_;
    PidLog pids_;
    fs::path home_, bare_home_, serve_socket_;
    hgw::UniqueFd inotify_;
    int home_wd_ = -1;
    std::unique_ptr<NotifySocket> daemon_notify_, bare_notify_;
    std::unique_ptr<hgw::test::PrivateBus> bus_;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> proxy_;
    std::unique_ptr<Process> daemon_;
    std::vector<std::string> daemon_argv_;
    Trial* trial_ = nullptr;
    int daemon_ready_ = 0;
    std::size_t daemon_messages_ = 0;
    unsigned running_signals_ = 0;
    pid_t last_gateway_pid_ = 0;
    bool daemon_failed_ = false;
};

// ------------------------------------------------------------ report

std::string fixed(double v, int precision = 2)
{
    std::ostringstream s;
    s << std::fixed << std::setprecision(precision) << v;
    return s.str();
}

std::string verdict(bool ok) { return ok ? "met" : "MISSED"; }

void print_row(const std::string& name, const json& s, const std::string& unit = " ms")
{
    std::cout << "  " << std::left << std::setw(50) << name << std::right << std::setw(10)
              << fixed(s["median"].get<double>()) << std::setw(10) << fixed(s["p95"].get<double>()) << std::setw(22)
              << (fixed(s["min"].get<double>()) + " - " + fixed(s["max"].get<double>())) << unit << "\n";
}

void print_summary(const json& j)
{
    const json& r = j["replace"];
    const json& k = j["kill"];
    auto header = [](const std::string& title) {
        std::cout << "\n"
                  << std::left << std::setw(52) << title << std::right << std::setw(10) << "median" << std::setw(10)
                  << "p95" << std::setw(22) << "min - max" << "\n";
    };

    const double startup_r = r["bare_stub"]["exec_to_answer"]["median"].get<double>();
    const double down = r["downtime"]["median"].get<double>();
    header("replace (" + std::to_string(r["downtime"]["n"].get<int>()) + " replaces), milliseconds");
    print_row("downtime: old gateway exits -> new one answers", r["downtime"]);
    print_row("stub start-up alone: fork+exec -> answers", r["bare_stub"]["exec_to_answer"]);
    print_row("stub start-up alone: fork+exec -> READY=1", r["bare_stub"]["exec_to_ready_notify"]);
    print_row("overhead per pair (downtime - start-up)", r["overhead_paired"]);
    std::cout << "  where the downtime goes:\n";
    print_row("  old exits -> daemon's GatewayExited", r["exit_to_exit_signal"]);
    print_row("  old exits -> daemon publishes the new pid", r["exit_to_spawned"]);
    print_row("  new pid published -> new one answers", r["spawned_to_answer"]);
    std::cout << "  around it:\n";
    print_row("  Replace call -> old exits (stub drain)", r["call_to_exit"]);
    print_row("  new one answers -> StateChanged running", r["answer_to_running"]);
    print_row("  its record written -> StateChanged running", r["record_to_running"]);
    print_row("  new one answers -> Replace reply", r["answer_to_reply"]);
    print_row("  Replace call -> reply", r["call_to_reply"]);

    const double startup_k = k["bare_stub"]["exec_to_answer"]["median"].get<double>();
    const double rec = k["kill_to_answer"]["median"].get<double>();
    const double rec_running = k["kill_to_running"]["median"].get<double>();
    header("recovery after SIGKILL (" + std::to_string(k["kill_to_answer"]["n"].get<int>()) +
           " kills), milliseconds");
    print_row("kill -> new gateway answers", k["kill_to_answer"]);
    print_row("kill -> daemon's StateChanged running", k["kill_to_running"]);
    print_row("stub start-up alone: fork+exec -> answers", k["bare_stub"]["exec_to_answer"]);
    print_row("overhead per pair (recovery - start-up)", k["overhead_paired"]);
    std::cout << "  where it goes:\n";
    print_row("  kill -> old exits", k["kill_to_exit"]);
    print_row("  old exits -> daemon's GatewayExited", k["exit_to_exit_signal"]);
    print_row("  old exits -> daemon publishes the new pid", k["exit_to_spawned"]);
    print_row("  new pid published -> new one answers", k["spawned_to_answer"]);
    print_row("  new one answers -> StateChanged running", k["answer_to_running"]);
    print_row("  its record written -> StateChanged running", k["record_to_running"]);

    const json& u = j["exit75"];
    header("restart after exit 75 (SIGUSR1 to the gateway, " + std::to_string(u["downtime"]["n"].get<int>()) +
           " times), milliseconds");
    print_row("downtime: old gateway exits -> new one answers", u["downtime"]);
    print_row("stub start-up alone: fork+exec -> answers", u["bare_stub"]["exec_to_answer"]);
    print_row("overhead per pair (downtime - start-up)", u["overhead_paired"]);
    print_row("  old exits -> daemon's GatewayExited", u["exit_to_exit_signal"]);
    print_row("  old exits -> daemon publishes the new pid", u["exit_to_spawned"]);
    print_row("  new pid published -> new one answers", u["spawned_to_answer"]);
    print_row("  new one answers -> StateChanged running", u["answer_to_running"]);

    std::cout << "\nD-Bus round trips (microseconds; calls per second over all clients; CPU per call of\n"
                 "the daemon, the bus daemon and the client thread)\n";
    std::cout << "  " << std::left << std::setw(34) << "method" << std::right << std::setw(8) << "clients"
              << std::setw(9) << "p50" << std::setw(9) << "p99" << std::setw(10) << "calls/s" << std::setw(9)
              << "daemon" << std::setw(9) << "bus" << std::setw(9) << "client" << "\n";
    std::map<int, std::map<std::string, json>> by_clients;
    for (const auto& row : j["load"]) {
        by_clients[row["clients"].get<int>()][row["method"].get<std::string>()] = row;
        std::cout << "  " << std::left << std::setw(34) << row["method"].get<std::string>() << std::right
                  << std::setw(8) << row["clients"].get<int>() << std::setw(9)
                  << fixed(row["latency_us"]["median"].get<double>(), 1) << std::setw(9)
                  << fixed(row["latency_us"]["p99"].get<double>(), 1) << std::setw(10)
                  << fixed(row["calls_per_second"].get<double>(), 0) << std::setw(9)
                  << fixed(row["daemon_cpu_us_per_call"].get<double>(), 1) << std::setw(9)
                  << fixed(row["bus_cpu_us_per_call"].get<double>(), 1) << std::setw(9)
                  << fixed(row["client_cpu_us_per_call"].get<double>(), 1) << "\n";
    }

    const json& idle = j["idle"];
    const long rss = idle["memory_kib"]["VmRSS"].get<long>();
    const auto switches =
        idle["voluntary_ctxt_switches"].get<unsigned long long>() + idle["nonvoluntary_ctxt_switches"].get<unsigned long long>();
    std::cout << "\nidle daemon\n"
              << "  VmRSS after start " << j["rss_after_start_kib"]["VmRSS"].get<long>() << " kB; after the run "
              << rss << " kB (RssAnon " << idle["memory_kib"]["RssAnon"].get<long>() << ", RssFile "
              << idle["memory_kib"]["RssFile"].get<long>() << ", VmHWM " << idle["memory_kib"]["VmHWM"].get<long>()
              << " kB), " << idle["threads"].get<int>() << " thread(s)\n"
              << "  over " << fixed(idle["seconds"].get<double>(), 1) << " s idle: "
              << idle["voluntary_ctxt_switches"].get<unsigned long long>() << " voluntary + "
              << idle["nonvoluntary_ctxt_switches"].get<unsigned long long>() << " involuntary context switches, "
              << idle["timeslices"].get<unsigned long long>() << " time slices, " << fixed(idle["cpu_us"].get<double>(), 0)
              << " us CPU\n";

    std::cout << "\ngoals\n";
    std::cout << "  replace overhead < 5 ms          medians " << fixed(down - startup_r) << " ms (" << fixed(down)
              << " - " << fixed(startup_r) << "), per pair p95 " << fixed(r["overhead_paired"]["p95"].get<double>())
              << " ms; daemon's own part (exit -> new pid) " << fixed(r["exit_to_spawned"]["median"].get<double>())
              << " ms: " << verdict(down - startup_r < 5) << "\n";
    std::cout << "  SIGKILL recovery < 50 ms + start-up  to answer " << fixed(rec - startup_k) << " ms over, to running "
              << fixed(rec_running - startup_k) << " ms over: " << verdict(rec - startup_k < 50 && rec_running - startup_k < 50)
              << "\n";
    {
        // Readiness by record: from the new gateway's record (written after
        // its lock) to the daemon's StateChanged running, replaces and kills.
        const json& rr = r["record_to_running"];
        const json& kr = k["record_to_running"];
        const double p50 = std::max(rr["median"].get<double>(), kr["median"].get<double>());
        const double p95 = std::max(rr["p95"].get<double>(), kr["p95"].get<double>());
        std::cout << "  ready <= 1 ms p50, 3 ms p95       record -> running p50 " << fixed(p50) << " ms, p95 "
                  << fixed(p95) << " ms (worse of replace and kill): " << verdict(p50 <= 1 && p95 <= 3) << "\n";
    }
    for (auto& [clients, rows] : by_clients) {
        double gs = rows["GetStatus"]["latency_us"]["median"].get<double>();
        double ping = rows["Peer.Ping (daemon)"]["latency_us"]["median"].get<double>();
        double gs99 = rows["GetStatus"]["latency_us"]["p99"].get<double>();
        double ping99 = rows["Peer.Ping (daemon)"]["latency_us"]["p99"].get<double>();
        double tput = rows["Peer.Ping (daemon)"]["calls_per_second"].get<double>() /
                      rows["GetStatus"]["calls_per_second"].get<double>();
        double get = rows["Get PidFile (daemon)"]["latency_us"]["median"].get<double>();
        std::cout << "  GetStatus within 1.5x of Ping, " << std::setw(2) << clients << " client(s)  p50 "
                  << fixed(gs / ping) << "x, p99 " << fixed(gs99 / ping99) << "x, calls/s " << fixed(1 / tput)
                  << "x of Ping: " << verdict(gs / ping <= 1.5 && gs99 / ping99 <= 1.5 && tput <= 1.5)
                  << "  (p50 " << fixed(gs / get) << "x of Get PidFile)\n";
        const double c_gs = rows["GetStatus (sd-bus client)"]["latency_us"]["median"].get<double>();
        const double c_ping = rows["Peer.Ping (daemon, sd-bus client)"]["latency_us"]["median"].get<double>();
        std::cout << "  GetStatus within 1.3x of Ping, " << std::setw(2) << clients << " sd-bus client(s)  p50 "
                  << fixed(c_gs / c_ping) << "x: " << verdict(c_gs / c_ping <= 1.3) << "\n";
    }
    std::cout << "  idle RSS < 8 MB                  " << fixed(rss / 1024.0) << " MiB: " << verdict(rss < 8 * 1024)
              << "\n";
    std::cout << "  no wake-ups while idle           " << switches << " context switches in "
              << fixed(idle["seconds"].get<double>(), 1) << " s: " << verdict(switches == 0) << "\n";
}

// ------------------------------------------------------------ options

double parse_number(const std::string& flag, const char* text, double lo, double hi)
{
    char* end = nullptr;
    double v = std::strtod(text, &end);
    if (*text == '\0' || *end != '\0' || !(v >= lo && v <= hi))
        fail(flag + " wants a number between " + fixed(lo, 0) + " and " + fixed(hi, 0) + ", not '" + text + "'");
    return v;
}

Options parse_args(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::cout << "usage: daemon_bench [--replaces N] [--kills N] [--usr1 N] [--load-seconds S] [--idle-seconds S]\n"
                         "                    [--gap-ms N] [--drain S] [--workdir DIR] [--pid-file FILE]\n"
                         "                    [--json FILE] [--daemon PATH] [--daemon-arg ARG]... [--stub PATH]\n";
            std::exit(0);
        }
        if (i + 1 >= argc)
            fail("unknown option or missing value: " + a);
        const char* val = argv[++i];
        if (a == "--replaces")
            o.replaces = static_cast<int>(parse_number(a, val, 1, 10000));
        else if (a == "--kills")
            o.kills = static_cast<int>(parse_number(a, val, 1, 10000));
        else if (a == "--usr1")
            o.usr1 = static_cast<int>(parse_number(a, val, 1, 10000));
        else if (a == "--load-seconds")
            o.load_seconds = parse_number(a, val, 0.1, 600);
        else if (a == "--idle-seconds")
            o.idle_seconds = parse_number(a, val, 0.1, 3600);
        else if (a == "--gap-ms")
            o.gap_ms = static_cast<int>(parse_number(a, val, 0, 60000));
        else if (a == "--drain")
            o.drain = parse_number(a, val, 0, 60);
        else if (a == "--workdir")
            o.workdir = val;
        else if (a == "--pid-file")
            o.pid_file = val;
        else if (a == "--json")
            o.json_out = val;
        else if (a == "--daemon")
            o.daemon = val;
        else if (a == "--daemon-arg")
            o.daemon_args.emplace_back(val);
        else if (a == "--stub")
            o.stub = val;
        else
            fail("unknown option: " + a);
    }
    return o;
}

int run(const Options& o)
{
    json j;
    {
        Bench bench(o);
        j = bench.run();
        bench.stop();
        if (bench.daemon_failed())
            fail("hermes-gatewayd did not exit cleanly on SIGTERM (see above)");
    } // everything removed here
    if (!o.json_out.empty()) {
        std::ofstream out(o.json_out);
        out << j.dump(2) << "\n";
        if (!out)
            fail("cannot write " + o.json_out);
    }
    print_summary(j);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    install_signal_handlers();
    try {
        return run(parse_args(argc, argv));
    } catch (const Interrupted&) {
        std::cerr << "daemon_bench: interrupted; cleaned up\n";
        return 130;
    } catch (const sdbus::Error& e) {
        std::cerr << "daemon_bench: D-Bus: " << e.getName() << ": " << e.getMessage() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "daemon_bench: " << e.what() << "\n";
        return 1;
    }
}
