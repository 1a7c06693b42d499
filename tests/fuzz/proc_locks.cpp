// libFuzzer target: /proc/locks text, through flock_holders, which answers
// "who holds gateway.lock?" for `pidfile check`, validation and the daemon.
// The kernel writes it, but its layout differs across kernels and
// containers (pids of other namespaces, overlay devices, "->" waiter lines),
// so the parser must take any text.
//
// The first 16 bytes choose the lock file's device and inode (and whether
// an overlay device is given); the rest is the text.
//
// Promises checked: no exception (nothing is caught); at most one holder per
// line, and only lines that name FLOCK count; a line naming the lock, built
// the way the kernel writes it and appended to the text, is found.

#include "core/lock_probe.h"
#include "fuzz_support.h"

#include <sys/sysmacros.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 16)
        return 0;
    std::uint32_t major_no = 0, minor_no = 0;
    std::uint64_t ino = 0;
    std::memcpy(&major_no, data, 4);
    std::memcpy(&minor_no, data + 4, 4);
    std::memcpy(&ino, data + 8, 8);
    major_no &= 0xfff;   // what dev_t can carry
    minor_no &= 0xfffff;
    const bool overlay = ino & 1;
    const hgw::FileId id{makedev(major_no, minor_no), static_cast<ino_t>(ino)};
    const std::optional<dev_t> overlay_dev =
        overlay ? std::optional<dev_t>(makedev(0, minor_no ^ 0x2c)) : std::nullopt;
    std::string text(reinterpret_cast<const char*>(data + 16), size - 16);

    const std::vector<pid_t> holders = hgw::flock_holders(text, id, overlay_dev);
    const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    FUZZ_CHECK(holders.size() <= lines, "%zu holders from %zu lines", holders.size(), lines);
    std::size_t flock_lines = 0;
    for (std::size_t at = text.find("FLOCK"); at != std::string::npos; at = text.find("FLOCK", at + 5))
        ++flock_lines;
    FUZZ_CHECK(holders.size() <= flock_lines, "%zu holders from %zu FLOCK lines", holders.size(), flock_lines);

    // The kernel's own line for our lock, after whatever came before.
    char line[128];
    std::snprintf(line, sizeof line, "\n99: FLOCK  ADVISORY  WRITE 4242 %02x:%02x:%lu 0 EOF\n", major_no, minor_no,
                  static_cast<unsigned long>(ino));
    const std::vector<pid_t> more = hgw::flock_holders(text + line, id, overlay_dev);
    FUZZ_CHECK(more.size() == holders.size() + 1 && more.back() == 4242,
               "a holder line after the text was not found (%zu -> %zu holders)", holders.size(), more.size());
    return 0;
}
