// libFuzzer target: <home>/gatewayd.lock's contents, the manager record
// another hermes-gatewayd (or anyone able to write the home) left there.
//
// Each input is checked twice:
//  - pure: parse_manager_record never throws ("never an exception"); a
//    record has valid pids, round-trips through serialize_manager_record
//    unchanged, and still parses with the newline and blank padding
//    ManagerLock writes after it;
//  - through the file: the bytes are written into a scratch home's
//    gatewayd.lock and ManagerLock::try_acquire takes it, as a daemon starting
//    on that home does. Nothing else holds it, so it must be taken; previous()
//    must be what parse_manager_record makes of the bytes (nothing past the
//    4096-byte cap); the record it writes must read back as current(), with
//    the previous holder's child carried over.

#include "core/home.h"
#include "core/manager_lock.h"
#include "core/manager_record.h"
#include "fuzz_support.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace {

constexpr std::size_t kCap = 4096; // manager_lock.cpp's kManagerRecordCap

bool same_identity(const hgw::ProcessIdentity& a, const hgw::ProcessIdentity& b)
{
    return a.pid == b.pid && a.start_time == b.start_time && a.boot_id == b.boot_id;
}

bool same_record(const hgw::ManagerRecord& a, const hgw::ManagerRecord& b)
{
    if (a.pid != b.pid || a.start_time != b.start_time || a.boot_id != b.boot_id ||
        a.child.has_value() != b.child.has_value())
        return false;
    return !a.child || same_identity(*a.child, *b.child);
}

bool same(const std::optional<hgw::ManagerRecord>& a, const std::optional<hgw::ManagerRecord>& b)
{
    return a.has_value() == b.has_value() && (!a || same_record(*a, *b));
}

bool same(const std::optional<hgw::ProcessIdentity>& a, const std::optional<hgw::ProcessIdentity>& b)
{
    return a.has_value() == b.has_value() && (!a || same_identity(*a, *b));
}

struct Home {
    hgw::HomePaths paths;
    int fd; // gatewayd.lock, for writing the input; holds no lock
};

const Home& home()
{
    static const Home* h = [] {
        hgw::HomePaths paths = hgw::paths_for(hgw::fuzz::scratch_dir());
        std::string lock = (paths.home / hgw::kManagerLockName).string();
        int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        FUZZ_CHECK(fd >= 0, "cannot create %s", lock.c_str());
        return new Home{paths, fd};
    }();
    return *h;
}

void check_pure(std::string_view bytes, const std::optional<hgw::ManagerRecord>& parsed)
{
    if (!parsed)
        return;
    const hgw::ManagerRecord& r = *parsed;
    FUZZ_CHECK(r.pid > 0, "pid %d", r.pid);
    if (r.child)
        FUZZ_CHECK(r.child->pid > 0, "child pid %d", r.child->pid);
    const std::string text = hgw::serialize_manager_record(r);
    FUZZ_CHECK(same(hgw::parse_manager_record(text), parsed), "changed through serialize/parse: %s", text.c_str());
    FUZZ_CHECK(hgw::serialize_manager_record(*hgw::parse_manager_record(text)) == text, "unstable: %s", text.c_str());
    const std::string padded = text + "\n" + std::string(bytes.size(), ' ');
    FUZZ_CHECK(same(hgw::parse_manager_record(padded), parsed), "the padded record reads differently: %s",
               text.c_str());
}

std::string read_all(int fd)
{
    std::string out;
    char buf[4096];
    for (off_t at = 0;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, at);
        FUZZ_CHECK(n >= 0, "pread failed");
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
        at += n;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const std::optional<hgw::ManagerRecord> parsed = hgw::parse_manager_record(bytes);
    check_pure(bytes, parsed);

    const Home& h = home();
    hgw::fuzz::rewrite(h.fd, bytes);
    auto result = hgw::ManagerLock::try_acquire(h.paths);
    auto* lock = std::get_if<hgw::ManagerLock>(&result);
    FUZZ_CHECK(lock, "a gatewayd.lock nobody holds was not taken");
    const std::optional<hgw::ManagerRecord> expected = size <= kCap ? parsed : std::nullopt;
    FUZZ_CHECK(same(lock->previous(), expected), "previous() is not what the file says (%zu bytes)", size);
    FUZZ_CHECK(lock->writable(), "our own scratch file opened read-only");

    const hgw::ManagerRecord& current = lock->current();
    FUZZ_CHECK(current.pid == ::getpid(), "current pid %d", current.pid);
    FUZZ_CHECK(same(current.child, expected ? expected->child : std::optional<hgw::ProcessIdentity>()),
               "the previous holder's child was not carried over");
    const std::string written = read_all(h.fd);
    FUZZ_CHECK(same(hgw::parse_manager_record(written), current), "what ManagerLock wrote does not read back: %s",
               written.c_str());
    return 0;
}
