// libFuzzer target: /proc/<pid>/fdinfo/<fd> text, through fdinfo_has_flock,
// which decides whether a process holds gateway.lock (a holder found this way
// may be stopped as an orphan, so a false "yes" matters). The kernel writes
// it, but its fields vary across kernels and file types.
//
// Promises checked (lock_holders.h: "a `lock:` line for a FLOCK (not a POSIX
// lock or lease)"): no exception (nothing is caught); "yes" only when some
// line starts with "lock:" and names FLOCK as a word; a granted FLOCK line
// appended to any text is found; POSIX, OFDLCK and LEASE lines appended to a
// text without one are not.

#include "core/lock_holders.h"
#include "fuzz_support.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

// The reference, written the slow way: split into lines, look at each.
bool has_flock_line(std::string_view text)
{
    std::size_t at = 0;
    while (at <= text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(at, end - at);
        if (line.substr(0, 5) == "lock:" && line.find(" FLOCK ") != std::string_view::npos)
            return true;
        at = end + 1;
    }
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    const bool holds = hgw::fdinfo_has_flock(text);
    FUZZ_CHECK(holds == has_flock_line(text), "fdinfo_has_flock says %d", holds);

    const std::string flock = "\nlock:\t1: FLOCK  ADVISORY  WRITE 4242 fe:01:1234 0 EOF\n";
    FUZZ_CHECK(hgw::fdinfo_has_flock(text + flock), "a granted FLOCK line after the text was not seen");
    if (!holds) {
        const std::string others = "\nlock:\t1: POSIX  ADVISORY  WRITE 4242 fe:01:1234 0 EOF\n"
                                   "lock:\t2: OFDLCK ADVISORY  READ  -1 fe:01:1234 0 EOF\n"
                                   "lock:\t3: LEASE  ACTIVE    READ 4242 fe:01:1234 0 EOF\n";
        FUZZ_CHECK(!hgw::fdinfo_has_flock(text + others), "a POSIX, OFD or lease lock taken for a FLOCK");
    }
    return 0;
}
