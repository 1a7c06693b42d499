// Who holds gateway.lock, from the holders' own fd tables (issue 8, items 7
// and 14, and item 3 of "What to build").
//  * A record in home A naming home B's live gateway (right pid, start time
//    and argv; hermes_home rewritten or absent, as a copied file has) is not
//    a gateway of A: it does not hold A's lock. Stale not-holder, removed by
//    clean, and B's gateway is never disturbed.
//  * /proc/locks names the process that took a lock. After it dies leaving
//    a forked child with the fd, holders name the child, never the dead pid.

#include "core/lock_holders.h"
#include "core/pidfile.h"
#include "process/pidfd.h"
#include "process/process_info.h"
#include "support/child_process.h"
#include "support/stub_gateway.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

using namespace hgw;
using namespace hgw::test;

namespace {

FileId id_of(const std::filesystem::path& p)
{
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return {st.st_dev, st.st_ino};
}

} // namespace

TEST_CASE("a record in home A naming home B's live gateway is stale not-holder for A, and clean removes it",
          "[lock-holders][two-homes][process]")
{
    TempHome a, b;
    NotifyListener notify((b.dir() / "notify.sock").string());
    Child gw = start_stub_gateway(b, notify);
    REQUIRE(notify.wait_for("READY=1"));
    // B's own view: live, and it holds B's lock.
    Verdict vb = validate(b.paths());
    REQUIRE(vb.kind == VerdictKind::Live);
    CHECK(vb.holds_lock == Holds::Yes);
    CHECK(process_holds_lock(gw.pid(), id_of(b.paths().lock_file)) == Holds::Yes);

    auto copied = parse_record(b.read("gateway.pid")).record;
    REQUIRE(copied);
    SECTION("hermes_home rewritten to A") { copied->hermes_home = a.dir().string(); }
    SECTION("hermes_home absent") { copied->hermes_home.reset(); }
    a.write("gateway.pid", serialize_record(*copied));
    a.write("gateway.lock", "");
    CHECK(process_holds_lock(gw.pid(), id_of(a.paths().lock_file)) == Holds::No);

    Verdict va = validate(a.paths());
    INFO(va.summary);
    CHECK(va.kind == VerdictKind::Stale);
    CHECK(va.reason == StaleReason::NotHolder);
    CHECK(va.holds_lock == Holds::No);

    RunResult check = run({HGW_CTL_PATH, "pidfile", "check", "--json", "--home", a.dir().string()});
    INFO(check.output);
    CHECK(check.exit_code == 1);
    auto j = nlohmann::json::parse(check.output, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["reason"] == "not-holder");

    RunResult clean = run({HGW_CTL_PATH, "pidfile", "clean", "--json", "--home", a.dir().string()});
    INFO(clean.output);
    CHECK(clean.exit_code == 0);
    CHECK_FALSE(a.exists("gateway.pid"));

    // B's gateway was never disturbed and B's record is intact.
    CHECK_FALSE(gw.wait_exited_unreaped(std::chrono::milliseconds(0)));
    CHECK(validate(b.paths()).kind == VerdictKind::Live);
}

TEST_CASE("holders name the forked child that kept the lock, never the dead parent that took it",
          "[lock-holders][dead-holder][process]")
{
    TempHome home;
    home.write("gateway.lock", "");
    // A parent takes the flock and forks a child that keeps the fd (as a
    // Python gateway's multiprocessing worker does), then the parent exits.
    // The child reports its pid on a pipe and waits for the pipe to close.
    int report[2], hold[2];
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(hold, O_CLOEXEC) == 0);
    pid_t parent = ::fork();
    REQUIRE(parent >= 0);
    if (parent == 0) {
        int fd = ::open(home.paths().lock_file.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0)
            ::_exit(2);
        pid_t child = ::fork();
        if (child < 0)
            ::_exit(3);
        if (child == 0) {
            ::close(hold[1]);
            pid_t me = ::getpid();
            if (::write(report[1], &me, sizeof me) != sizeof me)
                ::_exit(4);
            char c;
            while (::read(hold[0], &c, 1) > 0) {
            }
            ::_exit(0);
        }
        ::_exit(0); // the taker dies; its child holds the lock on
    }
    ::close(report[1]);
    ::close(hold[0]);
    int status = 0;
    REQUIRE(::waitpid(parent, &status, 0) == parent);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    pid_t child = 0;
    REQUIRE(::read(report[0], &child, sizeof child) == sizeof child);
    ::close(report[0]);

    FileId id = id_of(home.paths().lock_file);
    CHECK(process_holds_lock(parent, id) == Holds::No);
    CHECK(process_holds_lock(child, id) == Holds::Yes);
    CHECK(find_lock_holders(id) == std::vector<pid_t>{child});

    LockState s = probe_lock(home.paths().lock_file);
    CHECK(s.held);
    CHECK(s.holders == std::vector<pid_t>{child});
    CHECK(std::find(s.holders.begin(), s.holders.end(), parent) == s.holders.end());
    // Nor does a verdict name the dead pid.
    Verdict v = validate(home.paths());
    CHECK(v.summary.find(std::to_string(parent)) == std::string::npos);
    CHECK(v.summary.find(std::to_string(child)) != std::string::npos);

    // The child is not ours to reap (its parent died; it was reparented):
    // a pidfd says when it has exited.
    UniqueFd pidfd(pidfd_open(child));
    REQUIRE(pidfd);
    ::close(hold[1]); // the child's read ends; it exits
    pollfd p{pidfd.get(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, static_cast<int>(kTimeout.count())) == 1);
    CHECK_FALSE(probe_lock(home.paths().lock_file).held);
}

TEST_CASE("process_holds_lock: no for a process without the file, or with it open but unlocked", "[lock-holders]")
{
    TempHome home;
    home.write("gateway.lock", "");
    FileId id = id_of(home.paths().lock_file);
    CHECK(process_holds_lock(::getpid(), id) == Holds::No);
    int fd = ::open(home.paths().lock_file.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(process_holds_lock(::getpid(), id) == Holds::No); // open, not locked
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    CHECK(process_holds_lock(::getpid(), id) == Holds::Yes);
    CHECK(find_lock_holders(id) == std::vector<pid_t>{::getpid()});
    ::close(fd);
    CHECK(process_holds_lock(::getpid(), id) == Holds::No);
    CHECK(process_holds_lock(0, id) == Holds::No);
}
