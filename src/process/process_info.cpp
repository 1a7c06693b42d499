#include "process/process_info.h"

#include "process/proc_stat.h"
#include "util/unique_fd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace hgw {

std::string_view to_string(Liveness l)
{
    switch (l) {
    case Liveness::Alive: return "alive";
    case Liveness::AliveNotOurs: return "alive-not-ours";
    case Liveness::Zombie: return "zombie";
    case Liveness::Gone: return "gone";
    }
    return "unknown";
}

std::optional<std::string> read_small_file(const std::string& path, std::size_t cap)
{
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd)
        return std::nullopt;
    std::string out;
    char buf[4096];
    while (out.size() < cap) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::nullopt;
        if (n == 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

static std::string proc_path(pid_t pid, const char* leaf)
{
    return "/proc/" + std::to_string(pid) + "/" + leaf;
}

static std::optional<ProcStat> read_stat(pid_t pid)
{
    auto text = read_small_file(proc_path(pid, "stat"));
    if (!text)
        return std::nullopt;
    return parse_proc_stat(*text);
}

std::optional<std::uint64_t> read_start_time(pid_t pid)
{
    auto st = read_stat(pid);
    if (!st)
        return std::nullopt;
    return st->start_time;
}

std::optional<std::vector<std::string>> read_cmdline(pid_t pid)
{
    auto raw = read_small_file(proc_path(pid, "cmdline"), 1 << 20);
    if (!raw || raw->empty())
        return std::nullopt; // kernel threads and zombies have none
    std::vector<std::string> argv;
    std::size_t start = 0;
    while (start < raw->size()) {
        auto end = raw->find('\0', start);
        if (end == std::string::npos)
            end = raw->size();
        argv.emplace_back(raw->substr(start, end - start));
        start = end + 1;
    }
    return argv;
}

std::optional<uid_t> read_uid(pid_t pid)
{
    struct stat st {};
    if (::stat(proc_path(pid, "").c_str(), &st) != 0)
        return std::nullopt;
    return st.st_uid;
}

ProcessInfo probe_process(pid_t pid)
{
    ProcessInfo info;
    info.pid = pid;
    if (pid <= 0)
        return info;
    if (::kill(pid, 0) == 0)
        info.liveness = Liveness::Alive;
    else if (errno == EPERM)
        info.liveness = Liveness::AliveNotOurs;
    else
        return info; // ESRCH: gone

    auto before = read_stat(pid);
    if (before && (before->state == 'Z' || before->state == 'X')) {
        info.liveness = Liveness::Zombie;
        return info;
    }
    info.argv = read_cmdline(pid);
    info.uid = read_uid(pid);
    // If the PID died and was reused while we read, the start time moved:
    // then the command line may be the newcomer's, so report nothing about it.
    auto after = read_stat(pid);
    if (before && after && before->start_time == after->start_time) {
        info.start_time = before->start_time;
    } else if (before || after) {
        info.argv.reset();
        info.uid.reset();
        info.start_time = after ? std::optional(after->start_time) : std::nullopt;
        if (!after)
            info.liveness = Liveness::Gone;
    }
    return info;
}

std::optional<double> start_time_to_epoch(std::uint64_t ticks)
{
    static const std::optional<long long> btime = []() -> std::optional<long long> {
        auto text = read_small_file("/proc/stat", 1 << 20);
        if (!text)
            return std::nullopt;
        auto at = text->find("\nbtime ");
        if (at == std::string::npos)
            return std::nullopt;
        return std::stoll(text->substr(at + 7));
    }();
    long hz = ::sysconf(_SC_CLK_TCK);
    if (!btime || hz <= 0)
        return std::nullopt;
    return static_cast<double>(*btime) + static_cast<double>(ticks) / static_cast<double>(hz);
}

const std::string& current_boot_id()
{
    static const std::string id = [] {
        auto text = read_small_file("/proc/sys/kernel/random/boot_id", 128).value_or("");
        while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
            text.pop_back();
        return text;
    }();
    return id;
}

} // namespace hgw

namespace hgw {

std::optional<std::map<std::string, std::string>> read_environment(pid_t pid)
{
    auto raw = read_small_file("/proc/" + std::to_string(pid) + "/environ", 1 << 20);
    if (!raw)
        return std::nullopt;
    std::map<std::string, std::string> env;
    std::size_t at = 0;
    while (at < raw->size()) {
        std::size_t end = raw->find('\0', at);
        if (end == std::string::npos)
            end = raw->size();
        const std::string_view entry(raw->data() + at, end - at);
        if (auto eq = entry.find('='); eq != std::string_view::npos)
            env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
        at = end + 1;
    }
    return env;
}

} // namespace hgw
