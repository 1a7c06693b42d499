// The two steps of an acquisition, as hermes-gatewayd --write-pidfile runs
// them (issue 8, item 8): lock_home() takes gateway.lock and cleans, the
// gateway is spawned holding the locked fd, publish() writes its record,
// hand_over() lets our fd go. And what a full or read-only disk does to it:
// an error with its errno, and nothing left behind (item 3 of the issue's
// list: ENOSPC must not leave a half-acquired home).

#include "core/home_lock.h"
#include "core/lock_holders.h"
#include "helpers/inherited_lock.h"
#include "helpers/tmpfs_home.h"
#include "process/process_info.h"
#include "support/child_process.h"
#include "support/temp_home.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>

#include <fstream>

using namespace hgw;
using namespace hgw::test;

namespace {

// A record of a process that has exited and been reaped.
PidRecord record_of_gone_process(const std::filesystem::path& home)
{
    Child c = Child::spawn({"/bin/true"});
    pid_t pid = c.pid();
    PidRecord rec = record_for_process(pid, home);
    REQUIRE(c.wait());
    rec.pid = pid;
    rec.kind = std::string(kGatewayKind);
    rec.argv = std::vector<std::string>{"hermes", "gateway", "run"};
    rec.boot_id = current_boot_id();
    return rec;
}

PidRecord record_of_us(const std::filesystem::path& home)
{
    return record_for_process(::getpid(), home);
}

// Publishing on the full tmpfs fails with ENOSPC and leaves only an empty
// gateway.lock behind.
void require_enospc_and_nothing_left(HomeLock& lock, const TmpfsHome& home)
{
    try {
        lock.publish(record_of_us(home.dir()));
        FAIL("publish on a full disk did not throw");
    } catch (const SystemError& e) {
        INFO(e.what());
        CHECK(e.code() == ENOSPC);
    }
    CHECK(home.entries() == std::vector<std::string>{"gateway.lock"});
    CHECK(std::filesystem::file_size(home.paths().lock_file) == 0);
}

} // namespace

TEST_CASE("lock_home cleans under the lock, publish writes both files, hand_over leaves the lock to the child",
          "[home-lock][process]")
{
    TempHome home;
    home.write("gateway.pid", serialize_record(record_of_gone_process(home.dir())));

    LockOutcome step1 = lock_home(home.paths());
    INFO(step1.message);
    REQUIRE(step1.locked);
    CHECK(step1.cleaned.action == CleanOutcome::Action::Removed);
    CHECK(step1.locked->cleaned().action == CleanOutcome::Action::Removed);
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK((::fcntl(step1.locked->fd(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(process_holds_lock(::getpid(), step1.locked->id()) == Holds::Yes);

    Child gw = spawn_inheriting(step1.locked->fd(), {"/bin/sleep", "60"});
    PidRecord rec = record_for_process(gw.pid(), home.dir());
    REQUIRE(step1.locked->publish(rec));
    auto in_pid = parse_record(home.read("gateway.pid"));
    auto in_lock = parse_record(home.read("gateway.lock"));
    REQUIRE(in_pid.record);
    REQUIRE(in_lock.record);
    CHECK(is_exactly(*in_pid.record, rec));
    CHECK(is_exactly(*in_lock.record, rec));

    FileId id = step1.locked->id();
    step1.locked->hand_over();
    CHECK(step1.locked->fd() == -1);
    CHECK(process_holds_lock(::getpid(), id) == Holds::No);
    CHECK(process_holds_lock(gw.pid(), id) == Holds::Yes);
    // The files are as publish left them, and the child alone holds the lock:
    // /proc/locks still names us, who took it, but holders are current ones.
    CHECK(home.exists("gateway.pid"));
    LockState lock = probe_lock(home.paths().lock_file);
    CHECK(lock.held);
    CHECK(lock.holders == std::vector<pid_t>{gw.pid()});
    CHECK_FALSE(lock_home(home.paths()).locked);

    gw.signal(SIGKILL);
    REQUIRE(gw.wait());
    CHECK_FALSE(probe_lock(home.paths().lock_file).held);
}

TEST_CASE("publish refuses a gateway.pid that appeared after the lock was taken, writing nothing", "[home-lock]")
{
    TempHome home;
    LockOutcome step1 = lock_home(home.paths());
    REQUIRE(step1.locked);
    const std::string theirs = serialize_record(record_of_gone_process(home.dir()));
    home.write("gateway.pid", theirs);

    CHECK_FALSE(step1.locked->publish(record_of_us(home.dir())));
    CHECK(home.read("gateway.pid") == theirs);
    CHECK(home.read("gateway.lock").empty());
}

TEST_CASE("lock_home loses to a holder and names it, throws ENOENT for a missing home", "[home-lock]")
{
    TempHome home;
    LockOutcome first = lock_home(home.paths());
    REQUIRE(first.locked);
    LockOutcome second = lock_home(home.paths());
    CHECK_FALSE(second.locked);
    CHECK(second.running.lock.held);
    CHECK(second.running.lock.holders == std::vector<pid_t>{::getpid()});
    CHECK(second.message.find("pid " + std::to_string(::getpid())) != std::string::npos);

    HomePaths missing = paths_for(home.dir() / "no-such-home");
    try {
        (void)lock_home(missing);
        FAIL("lock_home on a missing home did not throw");
    } catch (const SystemError& e) {
        CHECK(e.code() == ENOENT);
    }
}

TEST_CASE("publish on a full disk throws ENOSPC and leaves no temp file, no gateway.pid, an empty gateway.lock",
          "[home-lock][enospc][root]")
{
    if (!needs_root("mounts a tiny tmpfs to fill it"))
        return;
    TmpfsHome home;

    SECTION("no page left: the temporary record cannot be written")
    {
        LockOutcome step1 = lock_home(home.paths());
        REQUIRE(step1.locked);
        home.fill(0);
        require_enospc_and_nothing_left(*step1.locked, home);
    }
    SECTION("one page left: gateway.pid is published, then writing gateway.lock fails and it is taken back")
    {
        LockOutcome step1 = lock_home(home.paths());
        REQUIRE(step1.locked);
        home.fill(1);
        require_enospc_and_nothing_left(*step1.locked, home);
    }
    SECTION("acquire() is the same two steps: it throws and leaves nothing either")
    {
        home.fill(0);
        CHECK_THROWS_AS(acquire(home.paths(), record_of_us(home.dir())), SystemError);
        CHECK(home.entries() == std::vector<std::string>{"gateway.lock"});
        CHECK_FALSE(probe_lock(home.paths().lock_file).held);
    }
}

TEST_CASE("lock_home on a read-only home throws EROFS", "[home-lock][erofs][root]")
{
    if (!needs_root("mounts a tmpfs and remounts it read-only"))
        return;
    TmpfsHome home;
    { std::ofstream(home.paths().lock_file); }
    home.remount(true);
    try {
        (void)lock_home(home.paths());
        FAIL("lock_home on a read-only home did not throw");
    } catch (const SystemError& e) {
        CHECK(e.code() == EROFS);
    }
}
