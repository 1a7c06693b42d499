// Issue 9, item 4: the lock hand-over (core/home_lock.h) makes temporary
// lock files beside gateway.lock and moves files in and out of its name.
// Whatever fails (a full disk at each step, too few file descriptors, a race
// lost to a starter, a record that appeared, a HomeLock dropped unused, an
// acquirer killed halfway), no temporary file stays, gateway.pid is as it
// was, and gateway.lock is the very file that was there, unchanged.

#include "core/atomic_file.h"
#include "core/home_lock.h"
#include "core/lock_holders.h"
#include "helpers/tmpfs_home.h"
#include "support/child_process.h"
#include "support/temp_home.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <fstream>

using namespace hgw;
using namespace hgw::test;

namespace {

std::vector<std::string> temp_lock_files(const std::filesystem::path& home)
{
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(home))
        if (e.path().filename().string().rfind(".gateway.lock.", 0) == 0)
            out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

FileId inode_of(const std::filesystem::path& path)
{
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return {st.st_dev, st.st_ino};
}

PidRecord record_of_us(const std::filesystem::path& home) { return record_for_process(::getpid(), home); }

// The limit below which exactly `spare` descriptor numbers are free: a new
// descriptor takes the lowest free number, and EMFILE comes when that is
// not below RLIMIT_NOFILE.
int limit_leaving(int spare)
{
    std::set<int> open;
    {
        // Listed through a directory descriptor of its own, which is then
        // closed again: read the numbers first, decide after.
        for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
            open.insert(std::stoi(e.path().filename().string()));
    }
    int limit = 0;
    for (int free = 0; free < spare; ++limit)
        if (!open.count(limit))
            ++free;
    while (open.count(limit))
        ++limit;
    return limit;
}

// RLIMIT_NOFILE lowered so that `spare` more descriptors can be opened,
// restored when this goes.
class FdBudget {
public:
    explicit FdBudget(int spare)
    {
        const int limit = limit_leaving(spare);
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        struct rlimit low = saved_;
        low.rlim_cur = static_cast<rlim_t>(limit);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    }
    FdBudget(const FdBudget&) = delete;
    FdBudget& operator=(const FdBudget&) = delete;
    ~FdBudget() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

private:
    struct rlimit saved_ {};
};

} // namespace

TEST_CASE("item 4: a full disk at each step of publish: ENOSPC, and gateway.lock, gateway.pid and the home as they were",
          "[home-lock][enospc][root][item4]")
{
    if (!needs_root("mounts a tiny tmpfs to fill it"))
        return;
    // One page each: the record in our lock file, the placeholder's,
    // gateway.pid's temporary file. With fewer free pages publish fails at
    // that step; with all of them it succeeds.
    int failures = 0;
    bool fitted = false;
    for (int pages = 0; pages <= 4 && !fitted; ++pages) {
        INFO(pages << " free pages");
        TmpfsHome home;
        LockOutcome step1 = lock_home(home.paths());
        REQUIRE(step1.locked);
        const FileId lock_id = inode_of(home.paths().lock_file);
        home.fill(pages);
        try {
            fitted = step1.locked->publish(record_of_us(home.dir()));
            REQUIRE(fitted);
            CHECK(home.entries() == std::vector<std::string>{"gateway.lock", "gateway.pid"});
            CHECK(probe_lock(home.paths().lock_file).held);
        } catch (const SystemError& e) {
            INFO(e.what());
            CHECK(e.code() == ENOSPC);
            ++failures;
            CHECK(home.entries() == std::vector<std::string>{"gateway.lock"});
            CHECK(inode_of(home.paths().lock_file) == lock_id);
            CHECK(std::filesystem::file_size(home.paths().lock_file) == 0);
            CHECK_FALSE(probe_lock(home.paths().lock_file).held);
            CHECK_THROWS_AS(step1.locked->publish(record_of_us(home.dir())), Error); // spent
        }
    }
    CHECK(fitted);
    CHECK(failures == 3);
}

TEST_CASE("item 4: lock_home and publish short of file descriptors: EMFILE, and nothing left behind",
          "[home-lock][emfile][item4]")
{
    TempHome home;
    home.write("gateway.lock", "");
    const FileId lock_id = inode_of(home.paths().lock_file);
    const PidRecord ours = record_of_us(home.dir());
    int failures = 0;
    bool succeeded = false;
    for (int spare = 0; spare < 24 && !succeeded; ++spare) {
        INFO(spare << " spare descriptors");
        std::optional<LockOutcome> step1;
        std::string error;
        int code = 0;
        {
            FdBudget budget(spare);
            try {
                step1.emplace(lock_home(home.paths()));
                if (step1->locked)
                    succeeded = step1->locked->publish(ours);
            } catch (const SystemError& e) {
                error = e.what();
                code = e.code();
            }
        }
        INFO("error: " << error);
        if (succeeded)
            break;
        CHECK(code == EMFILE);
        ++failures;
        step1.reset();
        CHECK(temp_lock_files(home.dir()).empty());
        CHECK_FALSE(home.exists("gateway.pid"));
        CHECK(inode_of(home.paths().lock_file) == lock_id);
        CHECK(home.read("gateway.lock").empty());
    }
    CHECK(failures > 0);
    REQUIRE(succeeded);
    CHECK(temp_lock_files(home.dir()).empty());
}

TEST_CASE("item 4: publish loses to a starter that took gateway.lock meanwhile: its file stays, ours go",
          "[home-lock][item4]")
{
    TempHome home;
    LockOutcome step1 = lock_home(home.paths());
    REQUIRE(step1.locked);

    // A Hermes starter takes gateway.lock between our two steps, as Hermes
    // does (open, flock, its record inside): its lock must survive.
    std::optional<InstanceLock> theirs = InstanceLock::try_acquire(home.paths().lock_file);
    REQUIRE(theirs);
    PidRecord their_record = record_of_us(home.dir());
    their_record.pid = 1;
    theirs->write_record(their_record);

    CHECK_FALSE(step1.locked->publish(record_of_us(home.dir())));
    INFO(step1.locked->refusal());
    CHECK(step1.locked->refusal().find("is held by pid " + std::to_string(::getpid())) != std::string::npos);
    CHECK(inode_of(home.paths().lock_file) == theirs->id());
    CHECK(home.read("gateway.lock") == serialize_record(their_record));
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK(temp_lock_files(home.dir()).empty());
    CHECK_THROWS_AS(step1.locked->publish(record_of_us(home.dir())), Error);
}

TEST_CASE("item 4: publish refuses a gateway.pid that appeared: gateway.lock put back, nothing left behind",
          "[home-lock][item4]")
{
    TempHome home;
    LockOutcome step1 = lock_home(home.paths());
    REQUIRE(step1.locked);
    const FileId lock_id = inode_of(home.paths().lock_file);
    home.write("gateway.pid", "{\"pid\": 1}");

    CHECK_FALSE(step1.locked->publish(record_of_us(home.dir())));
    CHECK(step1.locked->refusal().find("gateway.pid appeared") != std::string::npos);
    CHECK(step1.locked->placements() == 1);
    CHECK(home.read("gateway.pid") == "{\"pid\": 1}");
    CHECK(inode_of(home.paths().lock_file) == lock_id);
    CHECK(home.read("gateway.lock").empty());
    CHECK_FALSE(probe_lock(home.paths().lock_file).held);
    CHECK(temp_lock_files(home.dir()).empty());
}

TEST_CASE("item 4: a HomeLock dropped or handed over unpublished leaves the home as it was", "[home-lock][item4]")
{
    TempHome home;
    home.write("gateway.lock", "");
    const FileId lock_id = inode_of(home.paths().lock_file);
    SECTION("dropped")
    {
        LockOutcome step1 = lock_home(home.paths());
        REQUIRE(step1.locked);
        CHECK(temp_lock_files(home.dir()).size() == 1); // our staged lock file, under its temporary name
        CHECK_FALSE(probe_lock(home.paths().lock_file).held);
    }
    SECTION("handed over")
    {
        LockOutcome step1 = lock_home(home.paths());
        REQUIRE(step1.locked);
        step1.locked->hand_over();
        CHECK(temp_lock_files(home.dir()).empty());
    }
    CHECK(temp_lock_files(home.dir()).empty());
    CHECK(inode_of(home.paths().lock_file) == lock_id);
    CHECK_FALSE(home.exists("gateway.pid"));
    // The home is free again for the next one.
    LockOutcome again = lock_home(home.paths());
    CHECK(again.locked);
}

TEST_CASE("item 4: lock_home removes what a killed acquirer left, not a lock file a live gateway holds, "
          "not through a symlink",
          "[home-lock][item4]")
{
    TempHome home;
    TempHome elsewhere;
    elsewhere.write("precious", "keep me");
    home.write(".gateway.lock.new-1-2", "");
    home.write(".gateway.lock.hold-1-3", "{\"pid\": 1}");
    home.write(".gateway.lock.new-1-4", "");
    std::filesystem::create_symlink(elsewhere.dir() / "precious", home.dir() / ".gateway.lock.hold-1-5");
    // The gateway of a daemon that died before publishing still holds its
    // staged lock file (here: a descriptor of ours, a description of its own).
    UniqueFd held(::open((home.dir() / ".gateway.lock.new-1-4").c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(held);
    REQUIRE(::flock(held.get(), LOCK_EX | LOCK_NB) == 0);

    LockOutcome step1 = lock_home(home.paths());
    REQUIRE(step1.locked);
    CHECK_FALSE(home.exists(".gateway.lock.new-1-2"));
    CHECK_FALSE(home.exists(".gateway.lock.hold-1-3"));
    CHECK(home.exists(".gateway.lock.new-1-4"));
    CHECK(std::filesystem::is_symlink(home.dir() / ".gateway.lock.hold-1-5"));
    CHECK(elsewhere.read("precious") == "keep me");
    CHECK(temp_lock_files(home.dir()).size() == 3); // those two, and our own staged one
}
