#include "core/lock_probe.h"

#include <catch2/catch.hpp>

#include <sys/sysmacros.h>

using hgw::FileId;
using hgw::flock_holders;

namespace {
// As /proc/locks prints them: holders, a waiter ("->"), other lock kinds.
const std::string kLocks = "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF\n"
                           "1: -> FLOCK  ADVISORY  WRITE 4343 08:01:1234 0 EOF\n"
                           "2: POSIX  ADVISORY  WRITE 4444 08:01:1234 0 EOF\n"
                           "3: FLOCK  ADVISORY  WRITE 4545 08:01:9999 0 EOF\n"
                           "4: FLOCK  ADVISORY  WRITE 4646 00:2c:1234 0 EOF\n";
} // namespace

TEST_CASE("flock holders: only FLOCK holders of the very device and inode", "[lock]")
{
    auto pids = flock_holders(kLocks, FileId{makedev(8, 1), 1234});
    CHECK(pids == std::vector<pid_t>{4242});
    CHECK(flock_holders(kLocks, FileId{makedev(8, 1), 4321}).empty());
    CHECK(flock_holders("", FileId{makedev(8, 1), 1234}).empty());
    CHECK(flock_holders("garbage\n1:\n1: FLOCK\n", FileId{makedev(8, 1), 1234}).empty());
}

TEST_CASE("flock holders: on overlayfs the overlay's device counts for the same inode", "[lock]")
{
    // fstat() said 08:01 (the upper layer); the lock is listed on the
    // overlay's device 00:2c.
    auto pids = flock_holders(kLocks, FileId{makedev(8, 1), 1234}, makedev(0, 0x2c));
    CHECK(pids == std::vector<pid_t>{4242, 4646});
    // A lock on another inode of the overlay is not ours.
    CHECK(flock_holders(kLocks, FileId{makedev(9, 9), 9999}, makedev(0, 0x2c)).empty());
}
