#include "core/hermes_files.h"

#include "process/process_info.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace hgw {

namespace {

template <typename T>
std::optional<T> positive_int(const nlohmann::json& j, const char* key)
{
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer())
        return std::nullopt;
    const auto v = it->get<std::int64_t>();
    if (v <= 0 || static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
        return std::nullopt;
    return static_cast<T>(v);
}

} // namespace

std::optional<TakeoverMarker> parse_takeover_marker(std::string_view json)
{
    const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::nullopt;
    TakeoverMarker m;
    auto target = positive_int<pid_t>(j, "target_pid");
    if (!target)
        return std::nullopt;
    m.target_pid = *target;
    m.target_start_time = positive_int<std::uint64_t>(j, "target_start_time");
    m.replacer_pid = positive_int<pid_t>(j, "replacer_pid").value_or(0);
    return m;
}

std::optional<TakeoverMarker> read_takeover_marker(const HomePaths& paths)
{
    auto text = read_small_file((paths.home / ".gateway-takeover.json").string());
    return text ? parse_takeover_marker(*text) : std::nullopt;
}

std::vector<double> parse_starts_log(std::string_view text)
{
    std::vector<double> out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string_view::npos)
            end = text.size();
        const std::string line(text.substr(at, end - at));
        char* stop = nullptr;
        const double t = std::strtod(line.c_str(), &stop);
        if (stop != line.c_str() && std::isfinite(t) && t > 0)
            out.push_back(t);
        at = end + 1;
    }
    return out;
}

std::vector<double> read_starts_log(const HomePaths& paths)
{
    auto text = read_small_file((paths.home / "gateway-starts.log").string(), 1 << 20);
    return text ? parse_starts_log(*text) : std::vector<double>{};
}

std::chrono::seconds storm_backoff(const std::vector<double>& starts, double now, const StormRule& rule)
{
    if (rule.max_starts <= 0)
        return std::chrono::seconds{0};
    const auto recent = std::count_if(starts.begin(), starts.end(),
                                      [&](double t) { return t <= now + 1 && now - t <= rule.window_s; });
    if (recent <= rule.max_starts)
        return std::chrono::seconds{0};
    const long over = std::min<long>(static_cast<long>(recent) - rule.max_starts, 6);
    return std::chrono::seconds{std::min<long>(300, 5L << over)};
}

} // namespace hgw
