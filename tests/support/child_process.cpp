#include "support/child_process.h"

#include "process/pidfd.h"
#include "util/environment.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hgw::test {

namespace {

std::vector<std::string> build_env(const SpawnOptions& opts)
{
    std::map<std::string, std::string> env = hgw::current_environment();
    for (const auto& k : opts.unset_env)
        env.erase(k);
    for (const auto& [k, v] : opts.env)
        env[k] = v;
    std::vector<std::string> out;
    for (const auto& [k, v] : env)
        out.push_back(k + "=" + v);
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

} // namespace

bool wait_readable(int fd, std::chrono::milliseconds timeout)
{
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0;
    }
}

Child Child::spawn(const std::vector<std::string>& argv, const SpawnOptions& opts)
{
    auto env_strings = build_env(opts);
    auto args = argv;
    auto c_args = c_strings(args);
    auto c_env = c_strings(env_strings);

    int pipefd[2] = {-1, -1};
    if (opts.capture_output && ::pipe2(pipefd, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe2 failed");

    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        // Until exec we are a copy of the test binary: a signal must not run
        // the test framework's handlers here.
        for (int sig = 1; sig < NSIG; ++sig)
            ::signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::setpgid(0, 0);
        // The parent may have died before the prctl: then nobody would ever
        // send the signal.
        if (opts.die_with_parent && (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent))
            ::_exit(124);
        if (opts.netns_fd >= 0 && ::setns(opts.netns_fd, CLONE_NEWNET) != 0)
            ::_exit(123);
        if (opts.capture_output) {
            ::dup2(pipefd[1], 1);
            ::dup2(pipefd[1], 2);
        } else if (!opts.output_file.empty()) {
            int out = ::open(opts.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (out < 0)
                ::_exit(125);
            ::dup2(out, 1);
            ::dup2(out, 2);
        }
        if (opts.uid && (::setresgid(*opts.uid, *opts.uid, *opts.uid) != 0 ||
                         ::setgroups(0, nullptr) != 0 || ::setresuid(*opts.uid, *opts.uid, *opts.uid) != 0))
            ::_exit(126);
        ::execve(c_args[0], c_args.data(), c_env.data());
        ::_exit(127);
    }
    Child c;
    c.pid_ = pid;
    c.reaped_ = false;
    c.pidfd_.reset(hgw::pidfd_open(pid));
    if (opts.capture_output) {
        ::close(pipefd[1]);
        c.out_.reset(pipefd[0]);
    }
    return c;
}

Child::Child(Child&& o) noexcept
    : pid_(o.pid_), pidfd_(std::move(o.pidfd_)), out_(std::move(o.out_)),
      buffered_(std::move(o.buffered_)), reaped_(o.reaped_)
{
    o.reaped_ = true;
}

Child::~Child()
{
    if (!reaped_ && pid_ > 0) {
        hgw::pidfd_send_signal(pidfd_.get(), SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

void Child::signal(int sig) const
{
    if (hgw::pidfd_send_signal(pidfd_.get(), sig) != 0 && errno != ESRCH)
        throw std::runtime_error(std::string("pidfd_send_signal: ") + std::strerror(errno));
}

bool Child::wait_exited_unreaped(std::chrono::milliseconds timeout)
{
    return wait_readable(pidfd_.get(), timeout);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout)
{
    if (reaped_)
        return std::nullopt;
    if (!wait_readable(pidfd_.get(), timeout))
        return std::nullopt;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
}

std::string Child::output()
{
    if (out_) {
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(out_.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            buffered_.append(buf, static_cast<std::size_t>(n));
        }
        out_.reset();
    }
    return buffered_;
}

RunResult run(const std::vector<std::string>& argv, const SpawnOptions& opts, std::chrono::milliseconds timeout)
{
    SpawnOptions o = opts;
    o.capture_output = true;
    Child c = Child::spawn(argv, o);
    RunResult r;
    auto status = c.wait(timeout);
    r.output = status ? c.output() : std::string("<timed out>");
    if (status && WIFEXITED(*status))
        r.exit_code = WEXITSTATUS(*status);
    return r;
}

NotifyListener::NotifyListener(const std::string& path) : path_(path)
{
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ::unlink(path.c_str());
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
    ::chmod(path.c_str(), 0777);
    stop_.reset(::eventfd(0, EFD_CLOEXEC));
    reader_ = std::thread([this] { read_loop(); });
}

NotifyListener::~NotifyListener()
{
    std::uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    reader_.join();
    ::unlink(path_.c_str());
}

void NotifyListener::read_loop()
{
    for (;;) {
        pollfd p[2] = {{fd_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[1].revents)
            return;
        char buf[65536];
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            continue;
        {
            std::lock_guard lock(mutex_);
            messages_.emplace_back(buf, static_cast<std::size_t>(n));
        }
        arrived_.notify_all();
    }
}

bool NotifyListener::wait_for(const std::string& line, std::chrono::milliseconds timeout)
{
    std::unique_lock lock(mutex_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        while (consumed_ < messages_.size())
            if (messages_[consumed_++].find(line) != std::string::npos)
                return true;
        if (arrived_.wait_until(lock, deadline) == std::cv_status::timeout && consumed_ == messages_.size())
            return false;
    }
}

std::vector<std::string> NotifyListener::messages() const
{
    std::lock_guard lock(mutex_);
    return messages_;
}

std::size_t NotifyListener::size() const
{
    std::lock_guard lock(mutex_);
    return messages_.size();
}

std::optional<std::size_t> NotifyListener::find(const std::function<bool(const std::string&)>& pred,
                                                std::size_t from, std::chrono::milliseconds timeout)
{
    std::unique_lock lock(mutex_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t i = from;
    for (;;) {
        for (; i < messages_.size(); ++i)
            if (pred(messages_[i]))
                return i;
        if (arrived_.wait_until(lock, deadline) == std::cv_status::timeout && i == messages_.size())
            return std::nullopt;
    }
}

std::optional<std::size_t> NotifyListener::find_text(const std::string& text, std::size_t from,
                                                     std::chrono::milliseconds timeout)
{
    return find([&](const std::string& m) { return m.find(text) != std::string::npos; }, from, timeout);
}

std::string source_path(const std::string& relative)
{
    return std::string(HGW_SOURCE_DIR) + "/" + relative;
}

std::string read_source(const std::string& relative)
{
    std::ifstream in(source_path(relative));
    std::stringstream text;
    if (!(in && text << in.rdbuf()))
        throw std::runtime_error("cannot read " + source_path(relative));
    return text.str();
}

std::string find_program(const std::string& name)
{
    for (const char* dir : {"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"})
        if (std::string path = dir + name; ::access(path.c_str(), X_OK) == 0)
            return path;
    return {};
}

} // namespace hgw::test
