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

// $HOME if set and not empty, else the passwd entry's, else "/".
std::filesystem::path user_home_dir();

// An XDG base directory: $`variable` if it is absolute (the spec says a
// relative one is invalid and must be ignored), else ~/`fallback`
// ("XDG_CONFIG_HOME", ".config"; "XDG_STATE_HOME", ".local/state").
std::filesystem::path xdg_dir(const char* variable, const char* fallback);

HomePaths paths_for(const std::filesystem::path& home);

// Absolute path with symlinks resolved as far as they exist; used to compare
// the home a record names with ours.
std::filesystem::path canonical_home(const std::filesystem::path& home);

} // namespace hgw
