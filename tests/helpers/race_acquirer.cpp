// One contender in the concurrency torture test.
//
//   race_acquirer HOME GO_FD HOLD_FD [--won-fd N] [argv that looks like a gateway...]
//
// Builds its own record first, then waits until GO_FD reaches end-of-file
// (the start gun: the test closes the write end for every contender at
// once), then tries to acquire HOME, so that the race is over acquire()
// alone. Lost: prints why and exits 10. Won: checks that gateway.pid names
// exactly us, writes "<pid>\n" to N when --won-fd is given (so the test
// learns, without polling, that the record is published), then holds the
// claim until HOLD_FD reaches end-of-file, releases it and exits 0.
// Any error: exits 2 (I/O or unsafe file), 3 (won, but gateway.pid does not
// name us) or 4 (release did not remove our record), with a message.
//
// The trailing argv is ignored; it is there so that our /proc/<pid>/cmdline
// reads as a Hermes gateway (e.g. `hermes gateway run`) to validate().

#include "core/pidfile.h"
#include "util/errors.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

void wait_eof(int fd)
{
    char c;
    for (;;) {
        ssize_t n = ::read(fd, &c, 1);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        return;
    }
}

bool write_all(int fd, const std::string& text)
{
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 4) {
        std::cerr << "usage: race_acquirer HOME GO_FD HOLD_FD [--won-fd N] [ARGS...]\n";
        return 2;
    }
    int won_fd = -1;
    if (argc >= 6 && std::strcmp(argv[4], "--won-fd") == 0)
        won_fd = std::atoi(argv[5]);
    try {
        auto paths = hgw::paths_for(argv[1]);
        const auto ours = hgw::record_for_process(::getpid(), paths.home);
        wait_eof(std::atoi(argv[2]));
        auto outcome = hgw::acquire(paths, ours);
        if (!outcome.claim) {
            std::cout << "lost: " << outcome.message << "\n";
            return 10;
        }
        auto file = hgw::read_record_file(paths.pid_file);
        if (!file.record || !hgw::is_exactly(ours, *file.record)) {
            std::cerr << "won, but gateway.pid does not name us\n";
            return 3;
        }
        if (won_fd >= 0) {
            if (!write_all(won_fd, std::to_string(::getpid()) + "\n")) {
                std::cerr << "cannot announce the win: " << std::strerror(errno) << "\n";
                return 2;
            }
            ::close(won_fd);
        }
        wait_eof(std::atoi(argv[3]));
        if (!outcome.claim->release()) {
            std::cerr << "release did not remove our record\n";
            return 4;
        }
        return 0;
    } catch (const hgw::Error& e) {
        std::cerr << "race_acquirer: " << hgw::describe(e) << "\n";
        return 2;
    }
}
