#pragma once
// Can a new gateway start in this home, as far as the files can tell? Asked
// before stopping a running gateway (Replace, Restart): a "no" leaves the
// running one alone. Takes no lock and changes nothing.

#include "core/home.h"

#include <string>

namespace hgw {

struct StartCheck {
    bool ok = true;
    std::string problem; // when not ok: what blocks a start, naming the path
    std::string hint;    // when not ok: what a person can do about it
    explicit operator bool() const noexcept { return ok; }
};

// The home exists and is a directory (what every pidfile command needs).
StartCheck check_home_exists(const HomePaths& paths);

// The home exists, is a directory, is writable (not on a read-only file
// system, and we may create files in it), gateway.pid is absent or a
// trusted regular file, and gateway.lock is absent or a trusted regular file.
StartCheck check_can_start(const HomePaths& paths);

} // namespace hgw
