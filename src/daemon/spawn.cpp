#include "daemon/spawn.h"

#include "util/environment.h"
#include "util/errors.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sys/prctl.h>

#include <cstring>
#include <string_view>

namespace hgw::daemon {

namespace {

// Runs in the forked child: only async-signal-safe calls until exec, plus
// the string building done before fork.
// Writes `n` in decimal at `out`, with a terminating NUL: no allocation,
// for the forked child.
void write_decimal(char* out, long n)
{
    char digits[24];
    int len = 0;
    do {
        digits[len++] = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n > 0 && len < 23);
    while (len > 0)
        *out++ = digits[--len];
    *out = '\0';
}

// `watchdog_pid`: the value part of a "WATCHDOG_PID=" entry of envp, long
// enough for any pid, filled in here. Nothing in the child may allocate:
// the parent may have other threads (fleet mode's campaign, a test's
// observer), and one of them may have held the allocator's lock at fork.
[[noreturn]] void exec_child(const SpawnRequest& req, char* const* argv, char* const* envp, char* watchdog_pid,
                             int error_fd, int go_fd)
{
    ::setsid(); // own session and process group: a terminal's signals stay ours
    // Fleet mode: a daemon that died cannot fence, so its gateway dies with
    // it. Set before the go below: a parent gone already means no go.
    if (req.die_with_parent)
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

    // Wait for the parent's go: one byte, or end of file if it gave up.
    char go = 0;
    ssize_t got;
    do
        got = ::read(go_fd, &go, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1)
        ::_exit(127);

    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig = 1; sig < NSIG; ++sig)
        ::signal(sig, SIG_DFL);

    if (!req.working_directory.empty() && ::chdir(req.working_directory.c_str()) != 0) {
        int err = errno;
        (void)!::write(error_fd, &err, sizeof err);
        ::_exit(127);
    }
    // Everything we hold is close-on-exec; make sure of it, then hand over
    // the one fd the child should have.
    ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (req.inherit_fd >= 0)
        ::fcntl(req.inherit_fd, F_SETFD, 0);
    if (watchdog_pid)
        write_decimal(watchdog_pid, ::getpid());
    ::execvpe(argv[0], argv, envp);
    int err = errno;
    (void)!::write(error_fd, &err, sizeof err);
    ::_exit(127);
}

// A child that never ran the gateway: end it and reap it.
void end_unstarted(pid_t pid)
{
    ::kill(pid, SIGKILL);
    int ignored = 0;
    ::waitpid(pid, &ignored, 0);
}

} // namespace

std::map<std::string, std::string> inheritable_environment()
{
    // INVOCATION_ID stays: it tells Hermes a service manager runs it.
    static const char* const ours[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                                       "LISTEN_PID", "LISTEN_FDNAMES"};
    std::map<std::string, std::string> env = current_environment();
    for (const char* k : ours)
        env.erase(k);
    return env;
}

pid_t spawn_process(const SpawnRequest& req, const BeforeExec& before_exec)
{
    if (req.argv.empty())
        throw ExecError("no gateway command configured", "set `command` in the configuration");
    std::vector<std::string> args = req.argv;
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env;
    for (const auto& [k, v] : req.env)
        env.push_back(k + "=" + v);
    constexpr std::string_view kWatchdogPid = "WATCHDOG_PID=";
    if (req.set_watchdog_pid)
        env.push_back(std::string(kWatchdogPid) + std::string(24, '\0'));
    std::vector<char*> envp;
    for (auto& e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    char* watchdog_pid = req.set_watchdog_pid ? env.back().data() + kWatchdogPid.size() : nullptr;

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
        throw_errno("pipe2");
    UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
    int gofd[2];
    if (::pipe2(gofd, O_CLOEXEC) != 0)
        throw_errno("pipe2");
    UniqueFd go_read(gofd[0]), go_write(gofd[1]);

    pid_t pid = ::fork();
    if (pid < 0)
        throw_errno("fork");
    if (pid == 0)
        exec_child(req, argv.data(), envp.data(), watchdog_pid, write_end.get(), go_read.get());

    write_end.reset();
    go_read.reset();
    if (before_exec) {
        try {
            before_exec(pid);
        } catch (...) {
            end_unstarted(pid); // no half-started gateway is left
            throw;
        }
    }
    const char go = 'g';
    if (::write(go_write.get(), &go, 1) != 1) {
        const int err = errno;
        end_unstarted(pid);
        throw SystemError("start the gateway (write to its start pipe)", err);
    }
    go_write.reset();

    // The pipe closes on a successful exec, or carries the child's errno.
    int err = 0;
    ssize_t n;
    do
        n = ::read(read_end.get(), &err, sizeof err);
    while (n < 0 && errno == EINTR);
    if (n == sizeof err) {
        int ignored = 0;
        ::waitpid(pid, &ignored, 0); // it exited 127 after telling us why
        throw ExecError("cannot start " + req.argv[0] + ": " + std::strerror(err) + " (child pid " +
                        std::to_string(pid) + " exited)",
                    "check the gateway command and working directory in the configuration");
    }
    return pid;
}

} // namespace hgw::daemon
