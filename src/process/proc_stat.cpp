#include "process/proc_stat.h"

#include "process/process_info.h"

#include <dirent.h>

#include <charconv>
#include <string>
#include <vector>

namespace hgw {

namespace {

std::vector<std::string_view> split_spaces(std::string_view s)
{
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n'))
            ++i;
        std::size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\n')
            ++j;
        if (j > i)
            out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

template <typename T>
std::optional<T> to_number(std::string_view s)
{
    T value{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return value;
}

} // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text)
{
    auto open = text.find('(');
    auto close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return std::nullopt;

    // After ") " come fields 3.. : state is [0], ppid [1], starttime (field 22) is [19].
    auto rest = split_spaces(text.substr(close + 1));
    if (rest.size() < 20 || rest[0].size() != 1)
        return std::nullopt;

    auto ppid = to_number<pid_t>(rest[1]);
    auto pgrp = to_number<pid_t>(rest[2]);
    auto start = to_number<std::uint64_t>(rest[19]);
    if (!ppid || !pgrp || !start)
        return std::nullopt;

    ProcStat st;
    st.comm = std::string(text.substr(open + 1, close - open - 1));
    st.state = rest[0][0];
    st.ppid = *ppid;
    st.pgrp = *pgrp;
    st.start_time = *start;
    return st;
}

std::optional<ProcStat> read_proc_stat(pid_t pid)
{
    auto text = read_small_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text)
        return std::nullopt;
    return parse_proc_stat(*text);
}

std::vector<pid_t> list_processes()
{
    std::vector<pid_t> out;
    DIR* dir = ::opendir("/proc");
    if (!dir)
        return out;
    while (dirent* e = ::readdir(dir)) {
        auto pid = to_number<pid_t>(e->d_name);
        if (pid && *pid > 0)
            out.push_back(*pid);
    }
    ::closedir(dir);
    return out;
}

} // namespace hgw
