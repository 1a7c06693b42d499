// libFuzzer target: the reader under hermes-gatewayd's configuration file,
// fast enough for long runs. (fuzz_config drives the whole load_config, but
// it builds two CLI11 option tables per input and manages a few hundred
// inputs a second under the sanitizers.)
//
// The input goes through the reader load_config uses on a file's bytes:
// CLI11's (CLI::ConfigTOML, the format CLI::App uses for --config;
// config.cpp keeps that default), then, per item, the value parsers of ours
// that load_config applies and that are public: parse_duration for the
// timeout keys, is_valid_profile_name / bus_name_for_profile for `profile`.
//
// Promises checked: the reader throws nothing but CLI::ParseError (all
// load_config maps to hgw::Error; anything else would escape it);
// parse_duration throws only hgw::Error, never returns a negative duration,
// and reads back what format_duration writes for it when that is exact and
// one number and unit; a valid profile owns a valid bus name, one-to-one.

#include "bus_name_check.h"
#include "fuzz_support.h"
#include "util/duration.h"
#include "util/errors.h"

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::set<std::string> kDurationKeys{"ready-timeout", "ready-grace",   "drain-timeout",
                                          "stop-timeout",  "kill-timeout",  "child-watchdog",
                                          "restart-delay", "restart-delay-max", "burst-window"};

void check_duration(const std::string& text)
{
    std::chrono::microseconds d;
    try {
        d = hgw::parse_duration(text);
    } catch (const hgw::Error& e) {
        FUZZ_CHECK(*e.what() != '\0', "an error without a message");
        return;
    }
    FUZZ_CHECK(d.count() >= 0, "'%s' parsed to %lld us", text.c_str(), static_cast<long long>(d.count()));
    // format_duration shows whole ms below a minute and whole seconds above;
    // where that is exact and one part, it must read back as the same value.
    const std::string shown = hgw::format_duration(d);
    const auto us = d.count();
    const bool exact = us < 60'000'000 ? (us < 1000 || us % 1000 == 0) : us % 1'000'000 == 0;
    if (exact && shown.find(' ') == std::string::npos) {
        auto back = hgw::parse_duration(shown);
        FUZZ_CHECK(back == d, "'%s' -> %lld us -> '%s' -> %lld us", text.c_str(), static_cast<long long>(d.count()),
                   shown.c_str(), static_cast<long long>(back.count()));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const CLI::ConfigTOML reader;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    std::vector<CLI::ConfigItem> items;
    try {
        items = reader.from_config(in);
    } catch (const CLI::ParseError&) {
        return 0;
    }
    for (const CLI::ConfigItem& item : items) {
        (void)item.fullname(); // what load_config names in "unknown key" errors
        if (!item.parents.empty())
            continue; // a section: load_config refuses it
        if (kDurationKeys.count(item.name))
            for (const std::string& v : item.inputs)
                check_duration(v);
        if (item.name == "profile")
            for (const std::string& v : item.inputs)
                hgw::fuzz::check_profile_bus_name(v);
    }
    return 0;
}
