// open_elsewhere(): is gateway.lock open anywhere but here? The daemon asks
// it before each start with no record, instead of scanning every process's
// fd table (issue 8, "same performance as today"). And open_through_lease():
// our own O_NONBLOCK opens of gateway.lock wait out such a lease instead of
// failing with EWOULDBLOCK.

#include "core/open_elsewhere.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

using namespace hgw;
using namespace hgw::test;

namespace {

// A child process that opens `path` with `flags`, says so through a pipe,
// and keeps it open until it is killed.
struct Opener {
    pid_t pid = -1;

    Opener(const std::filesystem::path& path, int flags)
    {
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int fd = ::open(path.c_str(), flags | O_CLOEXEC);
            char c = fd >= 0 ? 'y' : 'n';
            (void)!::write(p[1], &c, 1);
            ::pause();
            ::_exit(0);
        }
        ::close(p[1]);
        char c = 0;
        REQUIRE(::read(p[0], &c, 1) == 1);
        ::close(p[0]);
        REQUIRE(c == 'y');
    }
    ~Opener()
    {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
    }
};

} // namespace

TEST_CASE("open_elsewhere: a file nobody else has open is free, one another process opened is not",
          "[open-elsewhere][process]")
{
    TempHome home;
    const auto path = home.dir() / "gateway.lock";
    CHECK(open_elsewhere(path) == OpenElsewhere::No); // missing
    std::ofstream(path) << "";
    CHECK(open_elsewhere(path) == OpenElsewhere::No);
    {
        const int flags = GENERATE(O_RDONLY, O_RDWR, O_WRONLY | O_APPEND);
        INFO("the other process opened it with flags " << flags);
        Opener other(path, flags);
        CHECK(open_elsewhere(path) == OpenElsewhere::Yes);
    }
    CHECK(open_elsewhere(path) == OpenElsewhere::No); // it closed with its death
    std::filesystem::remove(path);
    std::filesystem::create_directory(path);
    CHECK(open_elsewhere(path) == OpenElsewhere::Unknown);
}

TEST_CASE("open_through_lease: an O_NONBLOCK open during a lease waits for it instead of failing",
          "[open-elsewhere][process]")
{
    TempHome home;
    const auto path = home.dir() / "gateway.lock";
    std::ofstream(path) << "";

    // The lease holder (this process) hears of the other open through SIGIO.
    sigset_t sigio, old;
    sigemptyset(&sigio);
    sigaddset(&sigio, SIGIO);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &sigio, &old) == 0);
    struct Restore {
        sigset_t mask;
        ~Restore() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
    } restore{old};
    const int sfd = ::signalfd(-1, &sigio, SFD_CLOEXEC);
    REQUIRE(sfd >= 0);
    struct Close {
        int fd;
        ~Close() { ::close(fd); }
    } close_sfd{sfd};

    const int lease_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(lease_fd >= 0);
    Close close_lease{lease_fd};
    REQUIRE(::fcntl(lease_fd, F_SETLEASE, F_WRLCK) == 0);

    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // A plain O_NONBLOCK open fails: that is what open_through_lease is for.
        int plain = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (plain >= 0 || errno != EWOULDBLOCK)
            ::_exit(1);
        UniqueFd fd = open_through_lease(path, O_RDONLY | O_CLOEXEC);
        ::_exit(fd ? 0 : 2);
    }
    pollfd p{sfd, POLLIN, 0};
    const bool broke = ::poll(&p, 1, 30'000) == 1;
    CHECK(broke); // the kernel told us of the child's open
    signalfd_siginfo info{};
    if (broke)
        CHECK(::read(sfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info));
    REQUIRE(::fcntl(lease_fd, F_SETLEASE, F_UNLCK) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    INFO("child: 1 = the plain open did not fail with EWOULDBLOCK, 2 = open_through_lease failed");
    CHECK(WEXITSTATUS(status) == 0);
}
