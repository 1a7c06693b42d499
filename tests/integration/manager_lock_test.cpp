// The manager lock (issue 8, item 4): one hermes-gatewayd per home, on any
// bus. <home>/gatewayd.lock is flocked for the daemon's life and says who
// holds it and which gateway it spawned, so the next daemon can find an
// orphan by identity.

#include "core/lock_probe.h"
#include "core/manager_lock.h"
#include "helpers/tmpfs_home.h"
#include "process/process_info.h"
#include "support/temp_home.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <variant>

using namespace hgw;
using namespace hgw::test;

namespace {

ProcessIdentity some_child()
{
    return {4242, 123456, current_boot_id()};
}

std::filesystem::path manager_file(const std::filesystem::path& home)
{
    return home / kManagerLockName;
}

} // namespace

TEST_CASE("a second acquirer in the same home gets Held with the first one's pid", "[manager-lock]")
{
    TempHome home;
    auto first = ManagerLock::try_acquire(home.paths());
    REQUIRE(std::holds_alternative<ManagerLock>(first));
    auto& lock = std::get<ManagerLock>(first);
    CHECK_FALSE(lock.previous());
    CHECK(lock.current().pid == ::getpid());
    CHECK(lock.current().start_time == read_start_time(::getpid()).value_or(0));

    struct stat st {};
    REQUIRE(::stat(manager_file(home.dir()).c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);

    // In another process, as a second daemon would be.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto second = ManagerLock::try_acquire(home.paths());
        auto* held = std::get_if<ManagerLock::Held>(&second);
        ::_exit(held && held->pid == ::getppid() ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);

    // And in this process through another open file, too.
    auto again = ManagerLock::try_acquire(home.paths());
    REQUIRE(std::holds_alternative<ManagerLock::Held>(again));
    CHECK(std::get<ManagerLock::Held>(again).pid == ::getpid());
}

TEST_CASE("previous() tells what a dead holder left, its child included, ours carries the child on", "[manager-lock]")
{
    TempHome home;
    int ready[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto r = ManagerLock::try_acquire(home.paths());
        auto* lock = std::get_if<ManagerLock>(&r);
        if (!lock || !lock->record_child(some_child()))
            ::_exit(1);
        ::_exit(0); // killed as it were: the record stays, the lock goes
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);

    auto r = ManagerLock::try_acquire(home.paths());
    REQUIRE(std::holds_alternative<ManagerLock>(r));
    auto& lock = std::get<ManagerLock>(r);
    REQUIRE(lock.previous());
    CHECK(lock.previous()->pid == pid);
    CHECK(lock.previous()->boot_id == current_boot_id());
    REQUIRE(lock.previous()->child);
    CHECK(lock.previous()->child->pid == 4242);
    CHECK(lock.previous()->child->start_time == 123456);

    // Until we clear it, the possible orphan stays on record for a daemon after us.
    auto on_disk = [&] {
        std::ifstream in(manager_file(home.dir()));
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return parse_manager_record(text);
    };
    auto now = on_disk();
    REQUIRE(now);
    CHECK(now->pid == ::getpid());
    REQUIRE(now->child);
    CHECK(now->child->pid == 4242);

    CHECK(lock.clear_child());
    now = on_disk();
    REQUIRE(now);
    CHECK_FALSE(now->child);
    ProcessIdentity next{::getpid(), lock.current().start_time, current_boot_id()};
    CHECK(lock.record_child(next));
    now = on_disk();
    REQUIRE(now);
    REQUIRE(now->child);
    CHECK(now->child->pid == ::getpid());
}

TEST_CASE("a corrupt gatewayd.lock is no previous record and is overwritten", "[manager-lock]")
{
    TempHome home;
    const std::vector<std::string> junk = {
        "", "garbage", "{\"pid\":\"12\"}", "{\"pid\":-1,\"start_time\":1,\"boot_id\":\"b\"}",
        "{\"pid\":1,\"start_time\":1,\"boot_id\":\"b\",\"child\":{\"pid\":0}}", std::string(100000, '['),
        "[1,2,3]", "{\"pid\":99999999999,\"start_time\":1,\"boot_id\":\"b\"}",
    };
    for (const auto& bytes : junk) {
        INFO("content: " << bytes.substr(0, 60));
        home.write(kManagerLockName, bytes, 0600);
        auto r = ManagerLock::try_acquire(home.paths());
        REQUIRE(std::holds_alternative<ManagerLock>(r));
        CHECK_FALSE(std::get<ManagerLock>(r).previous());
        auto parsed = parse_manager_record(home.read(kManagerLockName));
        REQUIRE(parsed);
        CHECK(parsed->pid == ::getpid());
    }
}

TEST_CASE("a planted symlink gatewayd.lock -> gateway.lock is refused, and gateway.lock is not touched",
          "[manager-lock][hostile]")
{
    TempHome home;
    home.write("gateway.lock", "theirs");
    REQUIRE(::symlink((home.dir() / "gateway.lock").c_str(), manager_file(home.dir()).c_str()) == 0);
    CHECK_THROWS_AS(ManagerLock::try_acquire(home.paths()), UnsafeFileError);
    CHECK(home.read("gateway.lock") == "theirs");
    CHECK_FALSE(probe_lock(home.paths().lock_file).held);
}

TEST_CASE("a missing home is Unavailable", "[manager-lock]")
{
    TempHome home;
    auto r = ManagerLock::try_acquire(paths_for(home.dir() / "gone"));
    REQUIRE(std::holds_alternative<ManagerLock::Unavailable>(r));
    CHECK(std::get<ManagerLock::Unavailable>(r).reason.find("gone") != std::string::npos);
}

TEST_CASE("a read-only home: an existing gatewayd.lock is locked read-only, without one, Unavailable",
          "[manager-lock][erofs][root]")
{
    if (!needs_root("mounts a tmpfs and remounts it read-only"))
        return;
    {
        TmpfsHome home;
        home.remount(true);
        auto r = ManagerLock::try_acquire(home.paths());
        REQUIRE(std::holds_alternative<ManagerLock::Unavailable>(r));
        CHECK(std::get<ManagerLock::Unavailable>(r).reason.find("Read-only") != std::string::npos);
    }
    TmpfsHome home;
    {
        auto r = ManagerLock::try_acquire(home.paths());
        REQUIRE(std::holds_alternative<ManagerLock>(r));
        REQUIRE(std::get<ManagerLock>(r).record_child(some_child()));
    }
    home.remount(true);
    auto r = ManagerLock::try_acquire(home.paths());
    REQUIRE(std::holds_alternative<ManagerLock>(r));
    auto& lock = std::get<ManagerLock>(r);
    CHECK_FALSE(lock.writable());
    REQUIRE(lock.previous());
    CHECK(lock.previous()->child);
    CHECK_FALSE(lock.record_child(some_child())); // best effort: false, no throw
    CHECK_FALSE(lock.clear_child());

    // It still excludes a second daemon.
    auto second = ManagerLock::try_acquire(home.paths());
    REQUIRE(std::holds_alternative<ManagerLock::Held>(second));
    CHECK(std::get<ManagerLock::Held>(second).pid != 0);
}
