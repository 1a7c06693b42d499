#pragma once
// The small text files `migrate` reads, writes and takes back: each written
// whole (a temporary file renamed into place, synced), each taken back only
// if it still holds what was written.

#include <filesystem>
#include <optional>
#include <string>

namespace hgw::cli {

// The file's text, or nothing if it does not exist. Throws hgw::Error.
std::optional<std::string> read_text(const std::filesystem::path& path);

// Writes `text` to `path` (its directory made, mode 0755, if missing).
void write_text(const std::filesystem::path& path, const std::string& text);

// Removes `path` if it holds exactly `expected`. False (and nothing done)
// if it holds something else; true if it is gone either way.
bool remove_if_holds(const std::filesystem::path& path, const std::string& expected);

} // namespace hgw::cli
