#pragma once
// The file-system moves of the lock hand-over described in core/home_lock.h:
// a name of ours that is removed unless it was moved away, putting a file at
// gateway.lock's name in one step, and asking the kernel whether anyone but
// us still has a file open.

#include <filesystem>
#include <optional>

namespace hgw {

// A temporary name in the home that we created. Unlinked when this goes,
// unless forget() says the name was moved away (renamed into place). After
// an exchange it names whatever was swapped out, which is ours to remove.
class TempName {
public:
    TempName() = default;
    explicit TempName(std::filesystem::path path) : path_(std::move(path)) {}
    TempName(TempName&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
    TempName& operator=(TempName&& other) noexcept;
    TempName(const TempName&) = delete;
    TempName& operator=(const TempName&) = delete;
    ~TempName() { remove(); }

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] bool empty() const noexcept { return path_.empty(); }
    // Unlinks the name now (whatever file it names).
    void remove() noexcept;
    // The name no longer exists (it was renamed away): nothing to unlink.
    void forget() noexcept { path_.clear(); }

private:
    std::filesystem::path path_;
};

enum class Swap {
    Exchanged,   // `to` existed: `to` now names our file, `from` the one that was there
    Placed,      // nothing was at `to`: our file is there now and `from` is gone
    Unsupported, // the file system cannot exchange two names (EINVAL): nothing moved
};

// Puts the file named `from` at `to` in one atomic step: renameat2
// RENAME_EXCHANGE when `to` exists, RENAME_NOREPLACE when it does not, so
// that `to` is never missing in between and nothing at `to` is ever lost
// (what was there comes back at `from`, for the caller to judge). Retries,
// a bounded number of times, when `to` appears or vanishes in between.
// Throws SystemError for other failures.
Swap swap_into(const std::filesystem::path& from, const std::filesystem::path& to);

// Does any open file description of fd's file exist but ours? Asked with a
// write lease (granted only when there is none; see core/open_elsewhere.h),
// given back at once. Nothing when the kernel cannot tell (leases off, a
// file of another owner without CAP_LEASE, a file system without leases).
// Only for files that have no name any more: then nobody can open them
// while we hold the lease, so no lease break (SIGIO) can ever be sent.
std::optional<bool> only_ours(int fd);

} // namespace hgw
