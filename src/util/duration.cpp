#include "util/duration.h"

#include "util/errors.h"

#include <cstdint>
#include <limits>
#include <map>
#include <string_view>

namespace hgw {

namespace {

std::string trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return std::string(s);
}

} // namespace

std::chrono::microseconds parse_duration(const std::string& text)
{
    auto bad = [&](const std::string& why) {
        return Error("invalid duration '" + text + "': " + why,
                     "use a number and a unit: 250us, 500ms, 30s, 1.5s, 2min, 1h (a bare number is seconds)");
    };
    const std::string s = trim(text);
    if (s.empty())
        throw bad("it is empty");
    if (s[0] == '-')
        throw bad("it is negative");

    constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    std::size_t i = 0;
    std::uint64_t whole = 0;
    bool overflow = false;
    for (; i < s.size() && is_digit(s[i]); ++i)
        overflow |= __builtin_mul_overflow(whole, 10u, &whole) || __builtin_add_overflow(whole, s[i] - '0', &whole);
    if (i == 0)
        throw bad("it does not start with a number");

    // The fraction is kept to 9 digits: fraction * unit then fits 64 bits
    // for every unit up to an hour, and finer digits are below a microsecond.
    std::uint64_t frac = 0;
    std::uint64_t frac_scale = 1;
    if (i < s.size() && s[i] == '.') {
        std::size_t first = ++i;
        for (; i < s.size() && is_digit(s[i]); ++i) {
            if (frac_scale < 1'000'000'000) {
                frac = frac * 10 + static_cast<std::uint64_t>(s[i] - '0');
                frac_scale *= 10;
            }
        }
        if (i == first)
            throw bad("no digits after the decimal point");
    }
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
        ++i;

    static const std::map<std::string, std::uint64_t, std::less<>> units{
        {"", 1'000'000},          {"us", 1},           {"usec", 1},
        {"ms", 1'000},            {"msec", 1'000},     {"s", 1'000'000},
        {"sec", 1'000'000},       {"m", 60'000'000},   {"min", 60'000'000},
        {"h", 3'600'000'000},     {"hr", 3'600'000'000},
    };
    auto unit = units.find(std::string_view(s).substr(i));
    if (unit == units.end())
        throw bad("unknown unit '" + s.substr(i) + "' (known: us, ms, s, min, h)");

    std::uint64_t total = 0;
    overflow |= __builtin_mul_overflow(whole, unit->second, &total);
    overflow |= __builtin_add_overflow(total, frac * unit->second / frac_scale, &total);
    if (overflow || total > kMax)
        throw bad("it is too long");
    return std::chrono::microseconds(static_cast<std::int64_t>(total));
}


std::string format_duration(std::chrono::microseconds d)
{
    std::int64_t us = d.count();
    if (us <= 0)
        return "0";
    if (us < 1000)
        return std::to_string(us) + "us";
    // Sub-second precision only where it is visible: "1500ms", not "1s".
    if (us < 1'000'000 || (us < 60'000'000 && us % 1'000'000 != 0))
        return std::to_string(us / 1000) + "ms";
    std::int64_t s = us / 1'000'000;
    std::string out;
    auto part = [&out](std::int64_t n, const char* unit) {
        if (n == 0)
            return;
        if (!out.empty())
            out += ' ';
        out += std::to_string(n) + unit;
    };
    part(s / 3600, "h");
    part(s / 60 % 60, "min");
    part(s % 60, "s");
    return out;
}

} // namespace hgw
