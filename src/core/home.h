#pragma once
// Where a Hermes home keeps its gateway files.

#include <filesystem>

namespace hgw {

struct HomePaths {
    std::filesystem::path home;      // absolute, lexically normal
    std::filesystem::path pid_file;  // home/gateway.pid
    std::filesystem::path lock_file; // home/gateway.lock
};

// As Hermes: $HERMES_HOME if set and not blank, else ~/.hermes.
std::filesystem::path default_home();

HomePaths paths_for(const std::filesystem::path& home);

// Absolute path with symlinks resolved as far as they exist; used to compare
// the home a record names with ours.
std::filesystem::path canonical_home(const std::filesystem::path& home);

} // namespace hgw
