#pragma once
// Shared by the libFuzzer targets: a check that survives NDEBUG, and a
// private scratch directory for targets whose parser reads a file by path.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

// A broken promise: print what and where, then abort, which libFuzzer
// reports as a crash and saves the input for.
#define FUZZ_CHECK(cond, ...)                                                                 \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                                \
            std::fprintf(stderr, "\n");                                                       \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)

namespace hgw::fuzz {

// A directory of our own, mode 0700, removed at normal exit (a crash leaves
// it): under $TMPDIR when set, else on tmpfs (/dev/shm) when usable, since
// the targets rewrite a file per input, else under /tmp. One per process, so
// parallel fuzzers (-jobs, -fork) do not share it.
inline const std::filesystem::path& scratch_dir()
{
    // Never freed (still reachable, so no leak report): atexit handlers may
    // use it after static destructors have run.
    static const std::filesystem::path* const dir = [] {
        std::string base = "/tmp";
        if (const char* t = std::getenv("TMPDIR"); t && *t)
            base = t;
        else if (::access("/dev/shm", W_OK | X_OK) == 0)
            base = "/dev/shm";
        std::string templ = base + "/hgw-fuzz-XXXXXX";
        if (!::mkdtemp(templ.data())) {
            std::perror(("mkdtemp " + templ).c_str());
            std::abort();
        }
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(scratch_dir(), ec);
        });
        return new std::filesystem::path(templ);
    }();
    return *dir;
}

// Replaces the contents of the file open as `fd` with `bytes`.
inline void rewrite(int fd, std::string_view bytes)
{
    FUZZ_CHECK(::ftruncate(fd, 0) == 0, "ftruncate failed");
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
        FUZZ_CHECK(n > 0, "pwrite failed");
        done += static_cast<std::size_t>(n);
    }
}

} // namespace hgw::fuzz
