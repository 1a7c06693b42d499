// libFuzzer target: the files Hermes itself writes in its home that the
// daemon reads (issue 9): the takeover marker `.gateway-takeover.json`
// (`hermes gateway run --replace`) and `gateway-starts.log` (its
// respawn-storm breaker). The first byte picks which; the rest is the file.
//
// Promises checked: neither parser throws; a marker has a positive target
// pid, a replacer pid of 0 or more, and a start time that is positive when
// present; every start time read is finite and positive; the storm back-off
// is 0 or between 10 s and 300 s, 0 with the breaker off, and never shorter
// with more starts.

#include "core/hermes_files.h"
#include "fuzz_support.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] & 1) {
        auto m = hgw::parse_takeover_marker(text);
        if (m) {
            FUZZ_CHECK(m->target_pid > 0, "target pid %d", static_cast<int>(m->target_pid));
            FUZZ_CHECK(m->replacer_pid >= 0, "replacer pid %d", static_cast<int>(m->replacer_pid));
            FUZZ_CHECK(!m->target_start_time || *m->target_start_time > 0, "a zero start time");
        }
        return 0;
    }
    const std::vector<double> starts = hgw::parse_starts_log(text);
    for (double t : starts)
        FUZZ_CHECK(std::isfinite(t) && t > 0, "start time %f", t);
    const double now = starts.empty() ? 1.0 : starts.back();
    const auto b = hgw::storm_backoff(starts, now, {});
    FUZZ_CHECK(b.count() == 0 || (b.count() >= 10 && b.count() <= 300), "back-off %lld s",
               static_cast<long long>(b.count()));
    FUZZ_CHECK(hgw::storm_backoff(starts, now, {0, 120}).count() == 0, "a back-off with the breaker off");
    std::vector<double> more = starts;
    more.push_back(now);
    FUZZ_CHECK(hgw::storm_backoff(more, now, {}) >= b, "one more start, a shorter back-off");
    return 0;
}
