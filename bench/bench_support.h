#pragma once
// What both benchmarks need around their measurements: interruption by a
// signal that still runs the clean-up, errors, a clock, a temporary
// directory, a whole-file read, a bound datagram socket for sd_notify, and
// child processes that cannot outlive us.

#include "process/pidfd.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern char** environ;

namespace hgw::bench {

namespace fs = std::filesystem;

// Set by SIGINT, SIGTERM and SIGHUP. The loops check it and unwind by an
// exception, so the destructors still kill what was started and remove the
// temporary directory.
inline volatile std::sig_atomic_t g_interrupted = 0;

extern "C" inline void on_interrupt(int) { g_interrupted = 1; }

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

inline void check_interrupted()
{
    if (g_interrupted)
        throw Interrupted();
}

inline void install_signal_handlers()
{
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking poll returns EINTR at once
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        ::sigaction(sig, &sa, nullptr);
    // Output piped into a reader that quits (| head) must not kill us
    // before the clean-up.
    ::signal(SIGPIPE, SIG_IGN);
}

[[noreturn]] inline void fail(const std::string& what) { throw std::runtime_error(what); }

[[noreturn]] inline void fail_errno(const std::string& what) { fail(what + ": " + std::strerror(errno)); }

// A directory of our own, named prefix-XXXXXX in `parent`, removed with
// everything in it.
class TempDir {
public:
    TempDir(const fs::path& parent, const std::string& prefix)
    {
        std::string tmpl = (parent / (prefix + "-XXXXXX")).string();
        if (!::mkdtemp(tmpl.data()))
            fail_errno("mkdtemp in " + parent.string());
        path_ = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

inline std::string read_text(const fs::path& p)
{
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A datagram socket bound at `path`, the receiving end of a NOTIFY_SOCKET.
// `flags`: more socket type flags, e.g. SOCK_NONBLOCK.
inline UniqueFd bind_notify_socket(const fs::path& path, int flags = 0)
{
    sockaddr_un addr{};
    if (path.string().size() >= sizeof addr.sun_path)
        fail("notify socket path too long: " + path.string());
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | flags, 0));
    if (!fd)
        fail_errno("socket");
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        fail_errno("bind " + path.string());
    return fd;
}

// CLOCK_MONOTONIC in seconds: every timestamp of the benchmarks, so
// differences are exact.
inline double now()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A child process: fork+exec with the environment given, PR_SET_PDEATHSIG so
// that it cannot outlive us, a pidfd to wait on and to signal through.
class Process {
public:
    Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env_set,
            const std::vector<std::string>& env_unset, const fs::path& output, int death_signal)
    {
        // Everything the child needs is built before fork: between fork and
        // exec only async-signal-safe calls are allowed.
        std::vector<std::string> env_strings;
        for (const auto& [k, v] : env_set)
            env_strings.push_back(k + "=" + v);
        for (char** e = environ; *e; ++e) {
            std::string_view kv(*e);
            std::string_view key = kv.substr(0, kv.find('='));
            if (env_set.count(std::string(key)) == 0 &&
                std::find(env_unset.begin(), env_unset.end(), key) == env_unset.end())
                env_strings.emplace_back(kv);
        }
        std::vector<std::string> args = argv;
        std::vector<char*> argv_c, env_c;
        for (auto& a : args)
            argv_c.push_back(a.data());
        argv_c.push_back(nullptr);
        for (auto& e : env_strings)
            env_c.push_back(e.data());
        env_c.push_back(nullptr);
        UniqueFd out(::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
        if (!out)
            fail_errno("open " + output.string());
        const pid_t parent = ::getpid();

        pid_ = ::fork();
        if (pid_ < 0)
            fail_errno("fork");
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, death_signal);
            if (::getppid() != parent) // we died before the prctl took effect
                ::_exit(126);
            // Our handlers and mask must not leak into the child.
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE})
                ::signal(sig, SIG_DFL);
            ::dup2(out.get(), STDOUT_FILENO);
            ::dup2(out.get(), STDERR_FILENO);
            ::execve(argv_c[0], argv_c.data(), env_c.data());
            ::_exit(127);
        }
        pidfd_.reset(pidfd_open(pid_));
        if (!pidfd_) {
            int err = errno;
            ::kill(pid_, SIGKILL);
            reap();
            errno = err;
            fail_errno("pidfd_open");
        }
    }
    ~Process() { kill_and_reap(); }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] int pidfd() const { return pidfd_.get(); }
    [[nodiscard]] bool reaped() const { return reaped_; }

    void signal(int sig) const
    {
        if (!reaped_)
            pidfd_send_signal(pidfd_.get(), sig);
    }

    // Waits up to `seconds` for the exit; reaps. False on timeout.
    bool wait(double seconds)
    {
        if (reaped_)
            return true;
        pollfd p{pidfd_.get(), POLLIN, 0};
        const double deadline = now() + seconds;
        for (;;) {
            double left = deadline - now();
            if (left <= 0)
                return false;
            int n = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
            if (n > 0)
                break;
            if (n < 0 && errno != EINTR)
                fail_errno("poll");
        }
        reap();
        return true;
    }

    // SIGKILL through the pidfd (it can only reach our own child) and reap.
    void kill_and_reap()
    {
        if (reaped_)
            return;
        pidfd_send_signal(pidfd_.get(), SIGKILL);
        reap();
    }

    // Reaps a child whose pidfd has turned readable.
    void reap()
    {
        int ws = 0;
        while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
        }
        wait_status_ = ws;
        reaped_ = true;
    }
    [[nodiscard]] int wait_status() const { return wait_status_; }

private:
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    bool reaped_ = false;
    int wait_status_ = 0;
};

} // namespace hgw::bench
