// check_can_start (issue 8, item 10): can a new gateway start here, as far as
// the files tell? Asked before a Replace or Restart stops the running
// gateway; it takes no lock and changes nothing. One case per cause.

#include "core/start_check.h"
#include "helpers/tmpfs_home.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace hgw;
using namespace hgw::test;

namespace {

void check_refused(const StartCheck& c, const std::string& names, const std::string& cause)
{
    INFO(c.problem << " / " << c.hint);
    CHECK_FALSE(c.ok);
    CHECK_FALSE(static_cast<bool>(c));
    CHECK(c.problem.find(names) != std::string::npos);
    CHECK(c.problem.find(cause) != std::string::npos);
    CHECK_FALSE(c.hint.empty());
}

} // namespace

TEST_CASE("check_can_start: a fresh home, and one with regular files, can start", "[start-check]")
{
    TempHome home;
    StartCheck c = check_can_start(home.paths());
    INFO(c.problem);
    CHECK(c.ok);
    home.write("gateway.pid", "{\"pid\":1}");
    home.write("gateway.lock", "");
    CHECK(check_can_start(home.paths()).ok);
}

TEST_CASE("check_can_start: the home missing, or not a directory", "[start-check]")
{
    TempHome home;
    check_refused(check_can_start(paths_for(home.dir() / "gone")), (home.dir() / "gone").string(), "does not exist");
    home.write("file", "");
    check_refused(check_can_start(paths_for(home.dir() / "file")), "file", "not a directory");
}

TEST_CASE("check_can_start: gateway.pid that is not a regular file", "[start-check]")
{
    TempHome home;
    const auto pid = home.paths().pid_file;
    SECTION("a directory")
    {
        REQUIRE(::mkdir(pid.c_str(), 0755) == 0);
        check_refused(check_can_start(home.paths()), "gateway.pid", "a directory");
    }
    SECTION("a FIFO")
    {
        REQUIRE(::mkfifo(pid.c_str(), 0644) == 0);
        check_refused(check_can_start(home.paths()), "gateway.pid", "a FIFO");
    }
    SECTION("a symlink")
    {
        home.write("elsewhere", "{\"pid\":1}");
        REQUIRE(::symlink((home.dir() / "elsewhere").c_str(), pid.c_str()) == 0);
        check_refused(check_can_start(home.paths()), "gateway.pid", "a symlink");
    }
    SECTION("a socket")
    {
        int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(s >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", pid.c_str());
        REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        ::close(s);
        check_refused(check_can_start(home.paths()), "gateway.pid", "a socket");
    }
    SECTION("writable by every user")
    {
        home.write("gateway.pid", "{\"pid\":1}", 0666);
        check_refused(check_can_start(home.paths()), "gateway.pid", "writable by every user");
    }
}

TEST_CASE("check_can_start: gateway.lock a symlink, a directory, untrusted", "[start-check]")
{
    TempHome home;
    const auto lock = home.paths().lock_file;
    SECTION("a symlink")
    {
        home.write("gateway.pid.real", "");
        REQUIRE(::symlink((home.dir() / "gateway.pid.real").c_str(), lock.c_str()) == 0);
        check_refused(check_can_start(home.paths()), "gateway.lock", "a symlink");
    }
    SECTION("a directory")
    {
        REQUIRE(::mkdir(lock.c_str(), 0755) == 0);
        check_refused(check_can_start(home.paths()), "gateway.lock", "a directory");
    }
    SECTION("owned by another user")
    {
        if (!needs_root("chowns gateway.lock to another uid"))
            return;
        home.write("gateway.lock", "");
        REQUIRE(::chown(lock.c_str(), 65534, 65534) == 0);
        check_refused(check_can_start(home.paths()), "gateway.lock", "owned by uid 65534");
    }
}

TEST_CASE("check_can_start: a read-only home", "[start-check][root]")
{
    if (!needs_root("mounts a tmpfs and remounts it read-only"))
        return;
    TmpfsHome home;
    CHECK(check_can_start(home.paths()).ok);
    home.remount(true);
    check_refused(check_can_start(home.paths()), home.dir().string(), "read-only file system");
    home.remount(false);
    CHECK(check_can_start(home.paths()).ok);
}

TEST_CASE("check_can_start: a home the gateway's user may not write", "[start-check][root]")
{
    if (!needs_root("switches to another uid to be refused write access"))
        return;
    TempHome home; // 0755, owned by root
    // Judged with the effective ids of the caller: a child as nobody.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
            ::_exit(2);
        StartCheck c = check_can_start(home.paths());
        ::_exit(!c.ok && c.problem.find("not writable") != std::string::npos ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("check_can_start takes no lock and changes nothing", "[start-check]")
{
    TempHome home;
    home.write("gateway.lock", "x");
    (void)check_can_start(home.paths());
    CHECK(home.read("gateway.lock") == "x");
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK_FALSE(home.exists("gatewayd.lock"));
}
