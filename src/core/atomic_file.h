#pragma once
// Publishing and removing record files without ever exposing a half-written
// file or removing a file other than the one we judged.

#include "core/record_file.h"

#include <filesystem>
#include <optional>
#include <string>

namespace hgw {

// A name beside `path` for a file of ours in the making, unique to this
// process and call: `.<name>.<tag>-<pid>-<random>`.
std::filesystem::path sibling(const std::filesystem::path& path, const std::string& tag);

// Makes the directory's entries durable (after a link, rename or unlink).
void fsync_dir(const std::filesystem::path& dir);

// Writes `text` to a temporary file beside `path`, fsyncs it, then links it
// into place only if `path` does not exist. Returns false when it exists.
bool publish_exclusive(const std::filesystem::path& path, const std::string& text);

// Same, and says which inode it published (so the caller can take back
// exactly that file); nothing when `path` exists. On any error, throws
// SystemError having removed its temporary file: nothing is left behind.
std::optional<FileId> publish_new(const std::filesystem::path& path, const std::string& text);

// Same, but replaces whatever is at `path` (rename). Only for use under the
// lock, or for a record put back while its gateway runs: that one is
// Immediate (no fsync, milliseconds on a busy disk), since it only matters
// while the gateway lives, and a power loss ends that too.
enum class Durability { Synced, Immediate };
void publish_replace(const std::filesystem::path& path, const std::string& text,
                     Durability durability = Durability::Synced);

// Removes `path` only if it still names inode `id`: the file is first moved
// aside atomically, compared, then deleted or put back. Returns true if the
// judged file was removed, false if it was already gone or had been replaced.
bool remove_if_same(const std::filesystem::path& path, FileId id);

// Moves `path` aside to `<path>.corrupt-<time>-<pid>` if it still names `id`,
// keeping its bytes for a person to inspect. Returns the new name, or empty.
std::filesystem::path quarantine_if_same(const std::filesystem::path& path, FileId id);

} // namespace hgw
