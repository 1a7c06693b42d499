#pragma once
// What both benchmarks need around their measurements: interruption by a
// signal that still runs the clean-up, errors, a temporary directory, a
// whole-file read, and a bound datagram socket for sd_notify.

#include "util/unique_fd.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

namespace hgw::bench {

namespace fs = std::filesystem;

// Set by SIGINT, SIGTERM and SIGHUP. The loops check it and unwind by an
// exception, so the destructors still kill what was started and remove the
// temporary directory.
inline volatile std::sig_atomic_t g_interrupted = 0;

extern "C" inline void on_interrupt(int) { g_interrupted = 1; }

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

inline void check_interrupted()
{
    if (g_interrupted)
        throw Interrupted();
}

inline void install_signal_handlers()
{
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking poll returns EINTR at once
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        ::sigaction(sig, &sa, nullptr);
    // Output piped into a reader that quits (| head) must not kill us
    // before the clean-up.
    ::signal(SIGPIPE, SIG_IGN);
}

[[noreturn]] inline void fail(const std::string& what) { throw std::runtime_error(what); }

[[noreturn]] inline void fail_errno(const std::string& what) { fail(what + ": " + std::strerror(errno)); }

// A directory of our own, named prefix-XXXXXX in `parent`, removed with
// everything in it.
class TempDir {
public:
    TempDir(const fs::path& parent, const std::string& prefix)
    {
        std::string tmpl = (parent / (prefix + "-XXXXXX")).string();
        if (!::mkdtemp(tmpl.data()))
            fail_errno("mkdtemp in " + parent.string());
        path_ = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

inline std::string read_text(const fs::path& p)
{
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A datagram socket bound at `path`, the receiving end of a NOTIFY_SOCKET.
// `flags`: more socket type flags, e.g. SOCK_NONBLOCK.
inline UniqueFd bind_notify_socket(const fs::path& path, int flags = 0)
{
    sockaddr_un addr{};
    if (path.string().size() >= sizeof addr.sun_path)
        fail("notify socket path too long: " + path.string());
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | flags, 0));
    if (!fd)
        fail_errno("socket");
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        fail_errno("bind " + path.string());
    return fd;
}

} // namespace hgw::bench
