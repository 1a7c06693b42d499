#pragma once
// Root-only tests call needs_root() first: without root it reports the test
// skipped (tests/CMakeLists.txt turns the message into a CTest skip, and
// scripts/test fails on any skip when run as root) and returns false.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <string>

namespace hgw::test {

inline bool needs_root(const char* why)
{
    if (::geteuid() == 0)
        return true;
    WARN(std::string("SKIPPED (needs root): ") + why);
    return false;
}

} // namespace hgw::test
