#include "cli/migrate/systemctl.h"

#include "util/errors.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace hgw::cli {

namespace {

std::string joined(const std::vector<std::string>& words)
{
    std::string s;
    for (const std::string& w : words)
        s += (s.empty() ? "" : " ") + w;
    return s;
}

// Owns the file actions of one posix_spawn.
struct SpawnActions {
    posix_spawn_file_actions_t actions{};
    SpawnActions() { ::posix_spawn_file_actions_init(&actions); }
    ~SpawnActions() { ::posix_spawn_file_actions_destroy(&actions); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
};

std::string trimmed(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

} // namespace

SystemctlResult systemctl(UnitScope scope, const std::vector<std::string>& args)
{
    std::vector<std::string> words{"systemctl", std::string(scope_flag(scope)), "--no-pager"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& w : words)
        argv.push_back(w.data());
    argv.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw_errno("pipe for systemctl");
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    SpawnActions spawn;
    ::posix_spawn_file_actions_adddup2(&spawn.actions, write_end.get(), STDOUT_FILENO);
    pid_t pid = 0;
    if (const int err = ::posix_spawnp(&pid, "systemctl", &spawn.actions, nullptr, argv.data(), environ); err != 0)
        return {127, "cannot run systemctl: " + std::string(std::strerror(err))};
    write_end.reset();

    SystemctlResult r;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
        if (n > 0)
            r.out.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR)
            break;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            throw_errno("waiting for systemctl");
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = trimmed(std::move(r.out));
    return r;
}

std::string systemctl_ok(UnitScope scope, const std::vector<std::string>& args, std::string_view why)
{
    SystemctlResult r = systemctl(scope, args);
    if (r.status != 0)
        throw Error("systemctl " + std::string(scope_flag(scope)) + " " + joined(args) + " failed (exit " +
                        std::to_string(r.status) + ")" + (r.out.empty() ? "" : ": " + r.out),
                    std::string(why));
    return r.out;
}

void enable_start(UnitScope scope, const std::string& unit, bool enable, bool start, std::string_view why)
{
    if (!enable && !start)
        return;
    std::vector<std::string> args{enable ? "enable" : "start", "--quiet"};
    if (enable && start)
        args.push_back("--now");
    args.push_back(unit);
    systemctl_ok(scope, args, why);
}

bool unit_enabled(UnitScope scope, const std::string& unit)
{
    const std::string state = systemctl(scope, {"is-enabled", unit}).out;
    return state == "enabled" || state == "enabled-runtime" || state == "alias";
}

bool unit_active(UnitScope scope, const std::string& unit)
{
    const std::string state = unit_property(scope, unit, "ActiveState");
    return state != "inactive" && state != "failed";
}

std::string unit_property(UnitScope scope, const std::string& unit, const std::string& property)
{
    return systemctl_ok(scope, {"show", "-P", property, unit},
                        scope == UnitScope::User
                            ? "systemctl --user needs your user manager: run this in your own login (with "
                              "XDG_RUNTIME_DIR set), or enable lingering: loginctl enable-linger"
                            : "is systemd running?");
}

} // namespace hgw::cli
