// Issue 10, item 1: a check of a live gateway never reads /proc/locks. The
// recorded process is asked first, through its own fdinfo; a lock file
// nobody has open is free without asking anyone. /proc/locks (a system-wide
// lock for writing, milliseconds when cold, stalling every flock() meanwhile)
// is only the fallback that names a holder we cannot see otherwise.
//
// strace shows every file the check opens.

#include "core/lock_probe.h"
#include "support/child_process.h"
#include "support/stub_gateway.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace hgw;
using namespace hgw::test;

namespace {

// The files `argv` opened, as strace saw them, and how it exited.
std::pair<int, std::string> opened_files(const TempHome& home, std::vector<std::string> argv)
{
    const auto trace = home.dir() / "trace.txt";
    std::string strace;
    for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"})
        if (std::filesystem::exists(std::string(dir) + "/strace"))
            strace = std::string(dir) + "/strace";
    REQUIRE_FALSE(strace.empty()); // scripts/install-deps installs it
    argv.insert(argv.begin(), {strace, "-f", "-qq", "-e", "trace=openat,open", "-o", trace.string()});
    // LeakSanitizer cannot run under ptrace; the sanitized build's other
    // checks stay on.
    SpawnOptions opts;
    const char* asan = std::getenv("ASAN_OPTIONS");
    opts.env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "detect_leaks=0";
    RunResult r = run(argv, opts);
    INFO(r.output);
    std::ifstream in(trace);
    std::stringstream text;
    text << in.rdbuf();
    REQUIRE_FALSE(text.str().empty()); // strace ran and saw the opens
    return {r.exit_code, text.str()};
}

} // namespace

TEST_CASE("pidfile check of a live gateway opens no /proc/locks", "[lock-probe][process][issue10]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    Child gw = start_stub_gateway(home, notify);
    REQUIRE(notify.wait_for("READY=1"));

    auto [code, trace] = opened_files(home, {HGW_CTL_PATH, "pidfile", "check", "--home", home.dir().string()});
    INFO(trace);
    CHECK(code == 0); // live
    CHECK(trace.find("/fdinfo/") != std::string::npos);
    CHECK(trace.find("/proc/locks") == std::string::npos);
}

TEST_CASE("pidfile check of a home whose lock nobody holds opens no /proc/locks", "[lock-probe][process][issue10]")
{
    TempHome home;
    home.write("gateway.lock", "");
    auto [code, trace] = opened_files(home, {HGW_CTL_PATH, "pidfile", "check", "--home", home.dir().string()});
    INFO(trace);
    CHECK(code != 0); // nothing runs
    CHECK(trace.find("gateway.lock") != std::string::npos);
    CHECK(trace.find("/proc/locks") == std::string::npos);
}

TEST_CASE("a lock held by a process nobody expected is still found", "[lock-probe][process][issue10]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    Child gw = start_stub_gateway(home, notify);
    REQUIRE(notify.wait_for("READY=1"));
    // Asked about someone else first: the holder is still named (the fallback).
    LockState s = probe_lock(home.paths().lock_file, ::getpid());
    CHECK(s.held);
    CHECK(s.holders == std::vector<pid_t>{gw.pid()});
    CHECK(s.method != "fdinfo");
    // Asked about the holder: its fdinfo says so at once.
    LockState t = probe_lock(home.paths().lock_file, gw.pid());
    CHECK(t.held);
    CHECK(t.method == "fdinfo");
}
