// Hostile and malformed gateway.pid / gateway.lock files on disk, judged by
// validate(), cleaned by clean(), and through the hermes-gatewayctl binary.
//
// Each case states its verdict; every runner also proves that nothing
// crashed or hung and that nothing was deleted that should not be:
//  * check never changes the home;
//  * a corrupt file is moved aside whole (same inode, same bytes);
//  * an unsafe file is left exactly as it was (same inode, same bytes);
//  * a stale record is the only thing removed.

#include "core/pid_record.h"
#include "core/pidfile.h"
#include "process/process_info.h"
#include "support/child_process.h"
#include "support/temp_home.h"
#include "util/errors.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <functional>
#include <map>
#include <ostream>
#include <set>

namespace fs = std::filesystem;
using namespace hgw;
using namespace hgw::test;

namespace {

constexpr uid_t kNobody = 65534;
const std::string kBom = "\xEF\xBB\xBF";
const std::string kOtherBootId = "00000000-0000-4000-8000-000000000000";

// ---------------------------------------------------------------------------
// Snapshots of a home, to prove what was and was not touched.

struct Entry {
    FileId id;
    mode_t mode = 0; // type and permission bits
    uid_t uid = 0;
    gid_t gid = 0;
    std::string content; // bytes of a regular file, target of a symlink
    bool operator==(const Entry&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Entry& e)
{
    os << "{ino " << e.id.ino << ", mode " << std::oct << e.mode << std::dec << ", uid " << e.uid << ", "
       << e.content.size() << " bytes: \"" << e.content.substr(0, 60) << (e.content.size() > 60 ? "..." : "")
       << "\"}";
    return os;
}

// Never follows a symlink and never blocks on a FIFO: only regular files are read.
std::string read_regular_file(const fs::path& p)
{
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd)
        throw std::runtime_error("open " + p.string() + ": " + std::strerror(errno));
    std::string out;
    char buf[8192];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) != 0;) {
        if (n < 0)
            throw std::runtime_error("read " + p.string() + ": " + std::strerror(errno));
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

Entry entry_of(const fs::path& p)
{
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0)
        throw std::runtime_error("lstat " + p.string() + ": " + std::strerror(errno));
    Entry e{{st.st_dev, st.st_ino}, st.st_mode, st.st_uid, st.st_gid, {}};
    if (S_ISREG(st.st_mode))
        e.content = read_regular_file(p);
    else if (S_ISLNK(st.st_mode))
        e.content = fs::read_symlink(p).string();
    return e;
}

using Tree = std::map<std::string, Entry>; // path relative to the home -> entry

Tree snapshot(const fs::path& dir)
{
    Tree t;
    for (const auto& de : fs::recursive_directory_iterator(dir)) // does not follow symlinks
        t[de.path().lexically_relative(dir).string()] = entry_of(de.path());
    return t;
}

// Everything that was there is still there and unchanged, except `gone`
// (which must be gone); the only new names are those in `may_appear`.
void check_tree(const Tree& before, const Tree& after, const std::string& gone = {},
                const std::set<std::string>& may_appear = {})
{
    for (const auto& [name, entry] : before) {
        INFO("entry: " << name);
        if (name == gone) {
            CHECK(after.count(name) == 0);
            continue;
        }
        REQUIRE(after.count(name) == 1);
        CHECK(after.at(name) == entry);
    }
    for (const auto& [name, entry] : after) {
        INFO("new entry: " << name << " " << entry);
        if (before.count(name) == 0)
            CHECK(may_appear.count(name) == 1);
    }
}

// ---------------------------------------------------------------------------
// The names the CLI contract uses, spelled out here rather than taken from
// the code under test.

std::string kind_name(VerdictKind k)
{
    switch (k) {
    case VerdictKind::None: return "none";
    case VerdictKind::Live: return "live";
    case VerdictKind::Stale: return "stale";
    case VerdictKind::Corrupt: return "corrupt";
    case VerdictKind::Unsafe: return "unsafe";
    }
    return "?";
}

std::string reason_name(StaleReason r)
{
    switch (r) {
    case StaleReason::ProcessGone: return "process-gone";
    case StaleReason::PidReused: return "pid-reused";
    case StaleReason::PreviousBoot: return "previous-boot";
    case StaleReason::NotGateway: return "not-gateway";
    case StaleReason::OtherHome: return "other-home";
    case StaleReason::LockFree: return "lock-free";
    case StaleReason::NotHolder: return "not-holder";
    }
    return "?";
}

// `pidfile check`: 0 live, 1 stale, 3 none, 4 corrupt or unsafe.
int check_exit(VerdictKind k)
{
    switch (k) {
    case VerdictKind::Live: return 0;
    case VerdictKind::Stale: return 1;
    case VerdictKind::None: return 3;
    case VerdictKind::Corrupt:
    case VerdictKind::Unsafe: return 4;
    }
    return -1;
}

RunResult ctl(const std::string& action, const TempHome& home, const SpawnOptions& opts = {})
{
    return run({HGW_CTL_PATH, "pidfile", action, "--json", "--home", home.dir().string()}, opts);
}

nlohmann::json json_of(const RunResult& r)
{
    return nlohmann::json::parse(r.output, nullptr, /*allow_exceptions=*/false);
}

// ---------------------------------------------------------------------------
// Building hostile homes.

std::string our_pid() { return std::to_string(::getpid()); }

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

// A PID that named a process a moment ago and names none now.
pid_t dead_pid()
{
    Child c = Child::spawn({"/bin/true"});
    auto status = c.wait();
    if (!status)
        throw std::runtime_error("/bin/true did not exit");
    return c.pid();
}

void write_pid(const TempHome& home, const std::string& bytes, mode_t mode = 0644)
{
    home.write("gateway.pid", bytes, mode);
}

void must(bool ok, const std::string& what)
{
    if (!ok)
        throw std::runtime_error(what + ": " + std::strerror(errno));
}

void chown_to(const fs::path& p, uid_t uid, gid_t gid)
{
    must(::lchown(p.c_str(), uid, gid) == 0, "lchown " + p.string());
}

// A socket file: opening it fails with ENXIO.
void make_socket_file(const fs::path& p)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, p.c_str(), sizeof addr.sun_path - 1);
    must(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind " + p.string());
}

std::string padded_to(std::string text, std::size_t size)
{
    text.resize(size, ' ');
    return text;
}

// A record that passes every check except the process behind it.
std::string stale_record() { return R"({"pid": 2147483647, "kind": "hermes-gateway"})"; }

struct Case {
    std::string name;
    std::function<void(const TempHome&)> setup;
    VerdictKind kind;
    std::optional<StaleReason> reason;
    std::string fragment;         // in the verdict's summary
    bool lock_is_hostile = false; // the hostile file is gateway.lock, not gateway.pid
};

// The setup for a gateway.pid holding `bytes`.
std::function<void(const TempHome&)> pid_bytes(std::string bytes)
{
    return [bytes](const TempHome& home) { write_pid(home, bytes); };
}

std::vector<Case> hostile_cases()
{
    using VK = VerdictKind;
    using SR = StaleReason;
    const std::string deep = std::string(10000, '[') + std::string(10000, ']');
    const std::string gateway_argv = R"("kind": "hermes-gateway", "argv": ["hermes", "gateway", "run"])";
    return {
        // Not a record at all: corrupt.
        {"empty file", pid_bytes(""), VK::Corrupt, {}, "empty"},
        {"only white space", pid_bytes(" \n\t\r\n  "), VK::Corrupt, {}, "empty"},
        {"truncated JSON", pid_bytes(R"({"pid": 4242, "kind": "hermes-gat)"), VK::Corrupt, {}, "not valid JSON"},
        {"empty object", pid_bytes("{}"), VK::Corrupt, {}, "no \"pid\" key"},
        {"pid missing", pid_bytes(R"({"kind": "hermes-gateway", "argv": ["hermes", "gateway", "run"]})"),
         VK::Corrupt, {}, "no \"pid\" key"},
        {"pid as a string \"42\"", pid_bytes(R"({"pid": "42"})"), VK::Corrupt, {}, "string, not an integer"},
        {"pid as a float 42.5", pid_bytes(R"({"pid": 42.5})"), VK::Corrupt, {}, "not an integer"},
        {"pid true", pid_bytes(R"({"pid": true})"), VK::Corrupt, {}, "boolean, not an integer"},
        {"pid null", pid_bytes(R"({"pid": null})"), VK::Corrupt, {}, "null, not an integer"},
        {"pid 0", pid_bytes(R"({"pid": 0})"), VK::Corrupt, {}, "must be > 0"},
        {"pid -1", pid_bytes(R"({"pid": -1})"), VK::Corrupt, {}, "must be > 0"},
        // Hermes' kill(-1, 0) / kill(0, 0) succeed, so Hermes would take these
        // for a live gateway (and --replace would signal every process).
        {"pid -1 dressed as a gateway", pid_bytes(R"({"pid": -1, )" + gateway_argv + "}"), VK::Corrupt, {},
         "must be > 0"},
        {"pid 0 dressed as a gateway", pid_bytes(R"({"pid": 0, )" + gateway_argv + "}"), VK::Corrupt, {},
         "must be > 0"},
        {"pid 2^40", pid_bytes(R"({"pid": 1099511627776})"), VK::Corrupt, {}, "larger than any PID"},
        {"pid NaN", pid_bytes(R"({"pid": NaN})"), VK::Corrupt, {}, "not valid JSON"},
        {"pid Infinity", pid_bytes(R"({"pid": Infinity})"), VK::Corrupt, {}, "not valid JSON"},
        {"non-UTF-8 bytes in a string", pid_bytes("{\"pid\": 4242, \"hermes_home\": \"/home/\xff\xfe\"}"),
         VK::Corrupt, {}, "not valid JSON"},
        {"binary garbage", pid_bytes(std::string("\x7f" "ELF\x02\x01\x01\0\0\0\xff\xfe", 12)), VK::Corrupt, {},
         "not valid JSON"},
        {"nested junk as the pid", pid_bytes(R"({"pid": {"x": [1, 2]}})"), VK::Corrupt, {},
         "object, not an integer"},
        {"10000 nested arrays", pid_bytes(deep), VK::Corrupt, {}, "a JSON array"},
        {"10000 unclosed arrays", pid_bytes(std::string(10000, '[')), VK::Corrupt, {}, "not valid JSON"},
        {"a JSON array", pid_bytes("[4242]"), VK::Corrupt, {}, "a JSON array"},
        {"a JSON string", pid_bytes(R"("4242")"), VK::Corrupt, {}, "a JSON string"},
        {"a huge file (> 64 KiB)", pid_bytes(padded_to(stale_record(), 200 * 1024)), VK::Corrupt, {}, "cap"},
        {"one byte past 64 KiB", pid_bytes(padded_to(stale_record(), 64 * 1024 + 1)), VK::Corrupt, {}, "cap"},
        {"argv not a list", pid_bytes(R"({"pid": 4242, "argv": "hermes gateway run"})"), VK::Corrupt, {},
         "\"argv\" is string, not a list"},
        {"argv with non-strings", pid_bytes(R"({"pid": 4242, "argv": ["hermes", 1, null]})"), VK::Corrupt, {},
         "\"argv\" holds a number"},
        {"start_time negative", pid_bytes(R"({"pid": 4242, "start_time": -1})"), VK::Corrupt, {},
         "\"start_time\" is number"},
        {"start_time a string", pid_bytes(R"({"pid": 4242, "start_time": "1234"})"), VK::Corrupt, {},
         "\"start_time\" is string"},
        {"kind of another program", pid_bytes(R"({"pid": )" + our_pid() + R"(, "kind": "other"})"), VK::Corrupt,
         {}, "kind 'other'"},
        {"legacy PID with leading zeros", pid_bytes("0042\n"), VK::Corrupt, {}, "not valid JSON"},

        // Well-formed records of no running gateway: stale.
        {"pid 1 (init)", pid_bytes(R"({"pid": 1})"), VK::Stale, SR::NotGateway, "gateway"},
        {"pid 1 claiming to be a gateway", pid_bytes(R"({"pid": 1, )" + gateway_argv + "}"), VK::Stale,
         SR::NotGateway, "gateway"},
        {"pid INT_MAX", pid_bytes(R"({"pid": 2147483647})"), VK::Stale, SR::ProcessGone,
         "process 2147483647 is gone"},
        {"our own pid", pid_bytes(R"({"pid": )" + our_pid() + "}"), VK::Stale, SR::NotGateway,
         "not a Hermes gateway"},
        // The live command line wins over what the record claims.
        {"our own pid with our start time, claiming to be a gateway",
         [](const TempHome& home) {
             PidRecord r = record_for_process(::getpid(), home.dir());
             r.argv = std::vector<std::string>{"/usr/bin/hermes", "gateway", "run"};
             write_pid(home, serialize_record(r));
         },
         VK::Stale, SR::NotGateway, "not a Hermes gateway"},
        {"UTF-8 BOM before a valid record",
         [](const TempHome& home) {
             write_pid(home, kBom + R"({"pid": )" + our_pid() + R"(, "kind": "hermes-gateway", "hermes_home": )" +
                                 quoted(home.dir().string()) + "}\n");
         },
         VK::Stale, SR::NotGateway, "not a Hermes gateway"},
        {"UTF-8 BOM before a legacy bare PID",
         [](const TempHome& home) { write_pid(home, kBom + std::to_string(dead_pid()) + "\n"); }, VK::Stale,
         SR::ProcessGone, "gone"},
        {"legacy bare integer of a dead pid",
         [](const TempHome& home) { write_pid(home, std::to_string(dead_pid()) + "\n"); }, VK::Stale,
         SR::ProcessGone, "gone"},
        {"exactly 64 KiB: still read", pid_bytes(padded_to(stale_record(), 64 * 1024)), VK::Stale,
         SR::ProcessGone, "gone"},
        {"deep junk under an extra key", pid_bytes(R"({"pid": 2147483647, "junk": )" + deep + "}"), VK::Stale,
         SR::ProcessGone, "gone"},
        {"hermes_home of another home",
         [](const TempHome& home) {
             fs::create_directory(home.dir() / "other");
             write_pid(home, R"({"pid": )" + our_pid() + R"(, "kind": "hermes-gateway", "hermes_home": )" +
                                 quoted((home.dir() / "other").string()) + "}");
         },
         VK::Stale, SR::OtherHome, "another Hermes home"},
        {"hermes_home: our home spelled with /./ and a trailing slash",
         [](const TempHome& home) {
             write_pid(home, R"({"pid": )" + our_pid() + R"(, "hermes_home": )" +
                                 quoted(home.dir().string() + "/./") + "}");
         },
         VK::Stale, SR::NotGateway, "not a Hermes gateway"},
        {"boot_id of another boot",
         pid_bytes(R"({"pid": )" + our_pid() + R"(, "kind": "hermes-gateway", "boot_id": ")" + kOtherBootId +
                   R"("})"),
         VK::Stale, SR::PreviousBoot, "previous boot"},
        {"group-writable, but by root's group (trusted)",
         [](const TempHome& home) {
             write_pid(home, stale_record(), 0664);
             chown_to(home.dir() / "gateway.pid", 0, 0);
         },
         VK::Stale, SR::ProcessGone, "gone"},

        // Files that are not ours to read or touch: unsafe.
        {"symlink to a live-looking record elsewhere",
         [](const TempHome& home) {
             fs::create_directory(home.dir() / "elsewhere");
             PidRecord r = record_for_process(::getpid(), home.dir());
             r.argv = std::vector<std::string>{"/usr/bin/hermes", "gateway", "run"};
             home.write("elsewhere/record.json", serialize_record(r));
             fs::create_symlink(home.dir() / "elsewhere" / "record.json", home.dir() / "gateway.pid");
         },
         VK::Unsafe, {}, "symlink"},
        {"dangling symlink",
         [](const TempHome& home) {
             fs::create_symlink(home.dir() / "no-such-record", home.dir() / "gateway.pid");
         },
         VK::Unsafe, {}, "symlink"},
        {"a FIFO",
         [](const TempHome& home) {
             must(::mkfifo((home.dir() / "gateway.pid").c_str(), 0644) == 0, "mkfifo");
         },
         VK::Unsafe, {}, "FIFO"},
        {"a directory",
         [](const TempHome& home) {
             fs::create_directory(home.dir() / "gateway.pid");
             home.write("gateway.pid/keep-me", "precious");
         },
         VK::Unsafe, {}, "directory"},
        {"a socket", [](const TempHome& home) { make_socket_file(home.dir() / "gateway.pid"); }, VK::Unsafe, {},
         "socket"},
        {"world-writable (0666)", [](const TempHome& home) { write_pid(home, stale_record(), 0666); }, VK::Unsafe,
         {}, "writable by every user"},
        {"group-writable by another group",
         [](const TempHome& home) {
             write_pid(home, stale_record(), 0664);
             chown_to(home.dir() / "gateway.pid", 0, kNobody);
         },
         VK::Unsafe, {}, "writable by group 65534"},
        {"owned by another uid",
         [](const TempHome& home) {
             write_pid(home, stale_record());
             chown_to(home.dir() / "gateway.pid", kNobody, kNobody);
         },
         VK::Unsafe, {}, "owned by uid 65534"},

        // gateway.lock itself is hostile; gateway.pid holds a stale record.
        {"symlinked gateway.lock",
         [](const TempHome& home) {
             write_pid(home, stale_record());
             fs::create_directory(home.dir() / "elsewhere");
             home.write("elsewhere/real.lock", "");
             fs::create_symlink(home.dir() / "elsewhere" / "real.lock", home.dir() / "gateway.lock");
         },
         VK::Unsafe, {}, "gateway.lock is a symlink", true},
        {"world-writable gateway.lock",
         [](const TempHome& home) {
             write_pid(home, stale_record());
             home.write("gateway.lock", "", 0666);
         },
         VK::Unsafe, {}, "gateway.lock is writable by every user", true},
        {"gateway.lock owned by another uid",
         [](const TempHome& home) {
             write_pid(home, stale_record());
             home.write("gateway.lock", "");
             chown_to(home.dir() / "gateway.lock", kNobody, kNobody);
         },
         VK::Unsafe, {}, "gateway.lock is owned by uid 65534", true},
        {"gateway.lock is a directory",
         [](const TempHome& home) {
             write_pid(home, stale_record());
             fs::create_directory(home.dir() / "gateway.lock");
         },
         VK::Unsafe, {}, "gateway.lock is not a regular file", true},
    };
}

// Runs `pidfile check` on the home, with a timeout: a FIFO or a huge file
// must neither hang nor crash the reader. Returns the parsed JSON.
nlohmann::json cli_check(const TempHome& home, const Case& c)
{
    RunResult r = ctl("check", home);
    INFO("pidfile check output: " << r.output);
    REQUIRE(r.exit_code != -1); // it finished, and no signal killed it
    CHECK(r.exit_code == check_exit(c.kind));
    auto j = json_of(r);
    REQUIRE_FALSE(j.is_discarded());
    REQUIRE(j.contains("verdict"));
    CHECK(j["verdict"] == kind_name(c.kind));
    if (c.reason)
        CHECK(j["reason"] == reason_name(*c.reason));
    else
        CHECK(j["reason"].is_null());
    return j;
}

void check_verdict(const Verdict& v, const Case& c)
{
    INFO("summary: " << v.summary);
    CHECK(v.kind == c.kind);
    CHECK(v.reason == c.reason);
    CHECK_THAT(v.summary, Catch::Contains(c.fragment));
}

// What cleaning must have done to the home, judged from before and after.
void check_cleaned(const Case& c, const Tree& before, const Tree& after, const fs::path& home,
                   const fs::path& moved_to)
{
    switch (c.kind) {
    case VerdictKind::Corrupt: {
        // Moved aside, never deleted: the same inode with the same bytes.
        REQUIRE_FALSE(moved_to.empty());
        CHECK(moved_to.parent_path() == home);
        CHECK(moved_to.filename().string().rfind("gateway.pid.corrupt-", 0) == 0);
        std::string aside = moved_to.filename().string();
        REQUIRE(after.count(aside) == 1);
        CHECK(after.at(aside) == before.at("gateway.pid"));
        check_tree(before, after, "gateway.pid", {"gateway.lock", aside});
        break;
    }
    case VerdictKind::Stale:
        check_tree(before, after, "gateway.pid", {"gateway.lock"});
        break;
    default: // Unsafe: every entry, the hostile one included, as it was
        CHECK(moved_to.empty());
        check_tree(before, after, {}, {"gateway.lock"});
        break;
    }
}

} // namespace

TEST_CASE("hostile gateway.pid files: `pidfile check` and validate() give the expected verdict and change nothing",
          "[hostile][check]")
{
    for (const Case& c : hostile_cases()) {
        DYNAMIC_SECTION(c.name)
        {
            TempHome home;
            c.setup(home);
            Tree before = snapshot(home.dir());

            // The binary first, under a timeout, so a reader that hangs fails
            // this case instead of hanging the whole test run.
            nlohmann::json j = cli_check(home, c);
            CHECK(j["pid_file"] == (home.dir() / "gateway.pid").string());
            check_verdict(validate(home.paths()), c);

            check_tree(before, snapshot(home.dir())); // a check creates, moves and deletes nothing
        }
    }
}

TEST_CASE("hostile gateway.pid files: clean() quarantines corrupt, keeps unsafe, removes only stale", "[hostile][clean]")
{
    for (const Case& c : hostile_cases()) {
        DYNAMIC_SECTION(c.name)
        {
            TempHome home;
            c.setup(home);
            cli_check(home, c); // proves, under a timeout, that reading it cannot hang
            Tree before = snapshot(home.dir());

            if (c.lock_is_hostile) {
                // A lock file we must not use: clean() refuses and touches nothing.
                CleanOutcome out = clean(home.paths());
                INFO("clean: " << to_string(out.action) << ": " << out.message);
                CHECK(out.action == CleanOutcome::Action::KeptUnsafe);
                check_tree(before, snapshot(home.dir()));
                continue;
            }
            CleanOutcome out = clean(home.paths());
            INFO("clean: " << to_string(out.action) << ": " << out.message);
            check_verdict(out.verdict, c);
            switch (c.kind) {
            case VerdictKind::Corrupt: CHECK(out.action == CleanOutcome::Action::Quarantined); break;
            case VerdictKind::Stale: CHECK(out.action == CleanOutcome::Action::Removed); break;
            default: CHECK(out.action == CleanOutcome::Action::KeptUnsafe); break;
            }
            check_cleaned(c, before, snapshot(home.dir()), home.dir(), out.moved_to);
        }
    }
}

TEST_CASE("hostile gateway.pid files: `pidfile clean` exit codes, JSON and effects", "[hostile][cli]")
{
    for (const Case& c : hostile_cases()) {
        DYNAMIC_SECTION(c.name)
        {
            TempHome home;
            c.setup(home);
            Tree before = snapshot(home.dir());

            RunResult r = ctl("clean", home);
            INFO("pidfile clean output: " << r.output);
            REQUIRE(r.exit_code != -1);
            if (c.lock_is_hostile) {
                // The exit code is checked by the unsafe-lock case below.
                CHECK(r.exit_code != 0);
                check_tree(before, snapshot(home.dir()));
                continue;
            }
            auto j = json_of(r);
            REQUIRE_FALSE(j.is_discarded());
            REQUIRE(j.contains("verdict"));
            CHECK(j["verdict"]["verdict"] == kind_name(c.kind));
            fs::path moved_to;
            switch (c.kind) {
            case VerdictKind::Corrupt:
                CHECK(r.exit_code == 0);
                CHECK(j["action"] == "quarantined");
                REQUIRE(j["moved_to"].is_string());
                moved_to = j["moved_to"].get<std::string>();
                break;
            case VerdictKind::Stale:
                CHECK(r.exit_code == 0);
                CHECK(j["action"] == "removed");
                CHECK(j["moved_to"].is_null());
                break;
            default:
                CHECK(r.exit_code == 4);
                CHECK(j["action"] == "kept-unsafe");
                CHECK(j["moved_to"].is_null());
                break;
            }
            check_cleaned(c, before, snapshot(home.dir()), home.dir(), moved_to);
        }
    }
}

TEST_CASE("`pidfile clean` with an unsafe gateway.lock exits 4 (unsafe), as `pidfile check` does",
          "[hostile][cli]")
{
    // Regression: try_acquire's UnsafeFileError (EISDIR included) used to
    // escape clean() and surface as exit 2, the code for bad usage.
    for (const Case& c : hostile_cases()) {
        if (!c.lock_is_hostile)
            continue;
        DYNAMIC_SECTION(c.name)
        {
            TempHome home;
            c.setup(home);
            Tree before = snapshot(home.dir());
            RunResult r = ctl("clean", home);
            INFO("pidfile clean output: " << r.output);
            CHECK(r.exit_code == 4);
            check_tree(before, snapshot(home.dir()));
        }
    }
}

TEST_CASE("hostile files: the table holds at least 30 cases, each name unique", "[hostile]")
{
    auto cases = hostile_cases();
    CHECK(cases.size() >= 30);
    std::set<std::string> names;
    for (const auto& c : cases)
        CHECK(names.insert(c.name).second);
}

TEST_CASE("an unreadable gateway.pid checked as uid 65534 is unsafe (exit 4) and cleaning touches nothing",
          "[hostile][uid]")
{
    if (::geteuid() != 0) {
        WARN("SKIPPED (needs root): reads as uid 65534; run the suite as root to cover it");
        return;
    }
    TempHome home;
    write_pid(home, stale_record(), 0600); // root-owned, readable by root only
    Tree before = snapshot(home.dir());

    // As root the same file is a fine (stale) record: only the reader's uid differs.
    CHECK(validate(home.paths()).kind == VerdictKind::Stale);

    SpawnOptions as_nobody;
    as_nobody.uid = kNobody;
    RunResult check = ctl("check", home, as_nobody);
    INFO("check as 65534: " << check.output);
    CHECK(check.exit_code == 4);
    auto j = json_of(check);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["verdict"] == "unsafe");
    CHECK_THAT(j["summary"].get<std::string>(), Catch::Contains("cannot be read"));

    // 65534 may not create gateway.lock in root's home: it must fail, not
    // claim success, and change nothing.
    RunResult clean_run = ctl("clean", home, as_nobody);
    INFO("clean as 65534: " << clean_run.output);
    CHECK(clean_run.exit_code != -1);
    CHECK(clean_run.exit_code != 0);
    check_tree(before, snapshot(home.dir()));
}

TEST_CASE("a record naming a live non-gateway process is stale and removed, and the process gets no signal",
          "[hostile][clean][process]")
{
    // Stand-in for init or any unrelated process whose PID a record names.
    // It says READY=1 once running, so we never read its command line while
    // it is still being exec'd (then /proc shows an empty one).
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    SpawnOptions opts;
    opts.env = {{"NOTIFY_SOCKET", notify.path()}};
    Child bystander = Child::spawn(
        {"/usr/bin/python3", "-c",
         "import os, socket, time\n"
         "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
         "s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
         "time.sleep(600)\n"},
        opts);
    REQUIRE(notify.wait_for("READY=1"));
    auto write_claim = [&] {
        // Claims to be a gateway, with the bystander's true start time: only
        // the live command line can tell that it is not one.
        PidRecord r = record_for_process(bystander.pid(), home.dir());
        r.argv = std::vector<std::string>{"/usr/bin/hermes", "gateway", "run"};
        write_pid(home, serialize_record(r));
    };

    write_claim();
    CleanOutcome out = clean(home.paths());
    INFO("clean: " << out.message);
    CHECK(out.verdict.kind == VerdictKind::Stale);
    CHECK(out.verdict.reason == StaleReason::NotGateway);
    CHECK(out.action == CleanOutcome::Action::Removed);
    CHECK_FALSE(home.exists("gateway.pid"));

    write_claim();
    RunResult r = ctl("clean", home);
    INFO("pidfile clean: " << r.output);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(home.exists("gateway.pid"));

    // Still running: neither clean sent it anything fatal.
    CHECK_FALSE(bystander.wait_exited_unreaped(std::chrono::milliseconds(0)));
    CHECK(probe_process(bystander.pid()).liveness == Liveness::Alive);
}

TEST_CASE("`pidfile check` and `clean` exit codes with a real gateway: live, busy, stale, removed, none",
          "[hostile][cli][process]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}, {"NOTIFY_SOCKET", notify.path()}};
    Child gw = Child::spawn({source_path("tests/stub/hermes"), "gateway", "run"}, opts);
    REQUIRE(notify.wait_for("READY=1"));
    Entry record = entry_of(home.dir() / "gateway.pid");

    RunResult check = ctl("check", home);
    INFO("check: " << check.output);
    CHECK(check.exit_code == 0);
    auto j = json_of(check);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["verdict"] == "live");
    CHECK(j["record"]["pid"] == gw.pid());

    RunResult busy = ctl("clean", home);
    INFO("clean while live: " << busy.output);
    CHECK(busy.exit_code == 1);
    auto jb = json_of(busy);
    REQUIRE_FALSE(jb.is_discarded());
    CHECK(jb["action"] == "busy");
    CHECK(entry_of(home.dir() / "gateway.pid") == record);

    gw.signal(SIGKILL);
    REQUIRE(gw.wait());

    RunResult stale = ctl("check", home);
    INFO("check after SIGKILL: " << stale.output);
    CHECK(stale.exit_code == 1);
    auto js = json_of(stale);
    REQUIRE_FALSE(js.is_discarded());
    CHECK(js["verdict"] == "stale");
    CHECK(js["reason"] == "process-gone");

    RunResult removed = ctl("clean", home);
    INFO("clean after SIGKILL: " << removed.output);
    CHECK(removed.exit_code == 0);
    auto jr = json_of(removed);
    REQUIRE_FALSE(jr.is_discarded());
    CHECK(jr["action"] == "removed");
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK(home.exists("gateway.lock"));

    RunResult none = ctl("check", home);
    INFO("check after clean: " << none.output);
    CHECK(none.exit_code == 3);
    auto jn = json_of(none);
    REQUIRE_FALSE(jn.is_discarded());
    CHECK(jn["verdict"] == "none");

    RunResult nothing = ctl("clean", home);
    CHECK(nothing.exit_code == 0);
    auto jt = json_of(nothing);
    REQUIRE_FALSE(jt.is_discarded());
    CHECK(jt["action"] == "nothing-to-do");
}

// Issue 8, item 7: a record is live only when its process holds this home's
// gateway.lock (seen in its fdinfo). A gateway that runs without the lock is
// not this home's instance, however well its record proves its identity: the
// record is stale (not-holder) and clean removes it, signalling nothing.
TEST_CASE("a gateway that runs without this home's lock is not live: stale not-holder, cleaned, untouched",
          "[hostile][cli][process]")
{
    TempHome home;
    NotifyListener notify((home.dir() / "notify.sock").string());
    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}, {"NOTIFY_SOCKET", notify.path()}};
    // --no-pidfile: the stub takes no lock and writes no record; we write one
    // that proves its identity (start time, boot id, gateway command line).
    Child gw = Child::spawn({source_path("tests/stub/hermes"), "gateway", "run", "--no-pidfile"}, opts);
    REQUIRE(notify.wait_for("READY=1"));
    write_pid(home, serialize_record(record_for_process(gw.pid(), home.dir())));

    Verdict v = validate(home.paths());
    INFO("verdict: " << v.summary);
    CHECK(v.kind == VerdictKind::Stale);
    CHECK(v.reason == StaleReason::NotHolder);
    CHECK(v.holds_lock == Holds::No);
    CHECK_FALSE(v.lock.held);

    RunResult check = ctl("check", home);
    INFO("check: " << check.output);
    CHECK(check.exit_code == 1);
    auto jc = json_of(check);
    REQUIRE_FALSE(jc.is_discarded());
    CHECK(jc["reason"] == "not-holder");
    CHECK(jc["holds_lock"] == "no");

    RunResult r = ctl("clean", home);
    INFO("clean: " << r.output);
    CHECK(r.exit_code == 0);
    auto j = json_of(r);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j["action"] == "removed");
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK_FALSE(gw.wait_exited_unreaped(std::chrono::milliseconds(0)));
}

TEST_CASE("hermes-gatewayctl: bad usage exits 2, help exits 0", "[hostile][cli]")
{
    TempHome home;
    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}}; // in case a bad line ran after all
    const std::vector<std::vector<std::string>> bad = {
        {},
        {"frobnicate"},
        {"pidfile"},
        {"pidfile", "bogus"},
        {"pidfile", "check", "--nope"},
        {"pidfile", "check", "--home"},
        {"pidfile", "check", "stray-argument"},
        {"pidfile", "clean", "--json=maybe"},
        {"--home", home.dir().string()},
    };
    for (const auto& args : bad) {
        std::vector<std::string> argv = {HGW_CTL_PATH};
        argv.insert(argv.end(), args.begin(), args.end());
        std::string line;
        for (const auto& a : args)
            line += " " + a;
        RunResult r = run(argv, opts);
        INFO("hermes-gatewayctl" << line << "\n" << r.output);
        CHECK(r.exit_code == 2);
    }
    CHECK(home.exists("gateway.pid") == false);
    CHECK(home.exists("gateway.lock") == false);

    for (const std::vector<std::string>& help : {std::vector<std::string>{HGW_CTL_PATH, "--help"},
                                                 std::vector<std::string>{HGW_CTL_PATH, "pidfile", "check", "--help"}}) {
        RunResult r = run(help, opts);
        INFO(r.output);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.output, Catch::Contains("pidfile"));
    }
}
