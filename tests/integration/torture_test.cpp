// Concurrency torture: many processes (not threads) race to acquire one home,
// round after round, from a clean state, from the stale record a SIGKILLed
// winner left, from stale and corrupt records planted by hand, and sometimes
// against the Hermes-faithful stub. Every round must have exactly one winner,
// and the files on disk must name it.
//
// Each round: the contenders are spawned and block reading GO; closing GO's
// write end fires the start gun for all of them at once. Losers exit; the
// winner announces itself on WON once its record is published, then holds
// until HOLD's write end is closed (it releases) or it is SIGKILLed (it leaves
// a stale record for the next round).
//
// HGW_TORTURE_SEED and HGW_TORTURE_ROUNDS override the random schedule's seed
// and the number of rounds, to replay a failure.

#include "core/pidfile.h"
#include "process/pidfd.h"
#include "process/process_info.h"
#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace hgw;
using namespace hgw::test;

namespace {

constexpr int kContenders = 8; // per round, the stub included when it races
constexpr int kDefaultRounds = 300;
constexpr int kLostExit = 10;  // race_acquirer: "another contender won"

// ------------------------------------------------------------ the schedule

enum class Start {
    Clean,          // no gateway.pid, gateway.lock left by earlier rounds
    NoLockFile,     // neither file: contenders also race to create gateway.lock
    KilledWinner,   // the record of the previous round's SIGKILLed winner
    PlantedStale,   // a stale record written by hand
    PlantedCorrupt, // bytes that are not a record
};

const char* name_of(Start s)
{
    switch (s) {
    case Start::Clean: return "clean";
    case Start::NoLockFile: return "no-lock-file";
    case Start::KilledWinner: return "killed-winner";
    case Start::PlantedStale: return "planted-stale";
    case Start::PlantedCorrupt: return "planted-corrupt";
    }
    return "?";
}

enum class StubRace {
    None,
    SameInstant, // the stub is spawned as the gun fires
    AtLock,      // the gun fires when the stub opens gateway.lock
};

struct Plan {
    Start start = Start::Clean;
    StubRace stub = StubRace::None;
    bool kill_winner = false;
    unsigned variant = 0; // which stale or corrupt record to plant
};

std::string describe(const Plan& p)
{
    std::ostringstream s;
    s << "start " << name_of(p.start) << " (variant " << p.variant << "), stub "
      << (p.stub == StubRace::None ? "none" : p.stub == StubRace::SameInstant ? "same-instant" : "at-lock")
      << ", end " << (p.kill_winner ? "SIGKILL" : "release");
    return s.str();
}

struct Tally {
    int rounds = 0;
    int starts[5] = {};
    int kills = 0;
    int releases = 0;
    int stub_rounds = 0;
    int stub_wins = 0;
    int stub_losses = 0;
    int stale_cleaned_for_stub = 0;
};

unsigned env_number(const char* name, unsigned fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : fallback;
}

// ------------------------------------------------------------ processes

struct Contender {
    Child child;
    UniqueFd pidfd;   // our own, to poll all contenders at once
    bool stub = false;
    std::optional<int> status; // set once reaped
};

std::string status_text(int status)
{
    if (WIFEXITED(status))
        return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return "killed by signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

Contender track(Child child, bool stub)
{
    // Not reaped yet, so the PID still names this child.
    UniqueFd pidfd(hgw::pidfd_open(child.pid()));
    REQUIRE(pidfd);
    return Contender{std::move(child), std::move(pidfd), stub, std::nullopt};
}

Contender spawn_acquirer(const TempHome& home, int go_fd, int hold_fd, int won_fd)
{
    SpawnOptions opts;
    opts.capture_output = true;
    return track(Child::spawn({HGW_RACE_HELPER_PATH, home.dir().string(), std::to_string(go_fd),
                               std::to_string(hold_fd), "--won-fd", std::to_string(won_fd), "hermes",
                               "gateway", "run"},
                              opts),
                 false);
}

Contender spawn_stub(const TempHome& home, const NotifyListener& notify)
{
    SpawnOptions opts;
    opts.capture_output = true;
    opts.env = {{"HERMES_HOME", home.dir().string()}, {"NOTIFY_SOCKET", notify.path()}};
    return track(Child::spawn({source_path("tests/stub/hermes"), "gateway", "run"}, opts), true);
}

// A PID that has just died, with the start time it had: what a SIGKILLed
// gateway leaves behind. PIDs are handed out in increasing order until
// they wrap at pid_max, so it cannot come back within the round.
std::pair<pid_t, std::uint64_t> dead_process()
{
    Child c = Child::spawn({"/bin/true"});
    REQUIRE(c.wait_exited_unreaped());
    auto start = read_start_time(c.pid()); // a zombie still has its stat
    REQUIRE(start);
    pid_t pid = c.pid();
    REQUIRE(c.wait());
    return {pid, *start};
}

// ------------------------------------------------------------ pipes

// The ends the contenders use must be inherited across exec, so the pipe is
// made without O_CLOEXEC. The end we keep gets FD_CLOEXEC: a contender that
// inherited GO's write end would never see the gun's end-of-file.
struct Pipe {
    UniqueFd ours;
    UniqueFd theirs;
};

Pipe make_pipe(bool we_write)
{
    int fds[2] = {-1, -1};
    REQUIRE(::pipe2(fds, 0) == 0);
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    Pipe p = we_write ? Pipe{std::move(write_end), std::move(read_end)}
                      : Pipe{std::move(read_end), std::move(write_end)};
    REQUIRE(::fcntl(p.ours.get(), F_SETFD, FD_CLOEXEC) == 0);
    return p;
}

// Appends what arrives on `fd` to `buffer` until it holds a full line or the
// writers are gone. False on timeout.
bool read_line(int fd, std::string& buffer, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        char buf[256];
        ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return true; // end of file: no more lines will come
        buffer.append(buf, static_cast<std::size_t>(got));
    }
    return true;
}

// Everything that arrives on `fd` until end-of-file (every writer gone).
std::string read_to_eof(int fd)
{
    std::string out;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(kTimeout.count()));
        if (n < 0 && errno == EINTR)
            continue;
        REQUIRE(n > 0);
        char buf[256];
        ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return out;
        out.append(buf, static_cast<std::size_t>(got));
    }
}

// Waits until `name` in the watched directory is opened. False on timeout.
bool wait_opened(int inotify_fd, const std::string& name, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{inotify_fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        alignas(inotify_event) char buf[4096];
        ssize_t got = ::read(inotify_fd, buf, sizeof buf);
        for (ssize_t off = 0; got > 0 && off < got;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
            if ((ev->mask & IN_OPEN) && ev->len > 0 && name == ev->name)
                return true;
            off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
    }
}

// ------------------------------------------------------------ checks

// A contender that exited must have lost the way its kind loses.
void expect_lost(Contender& c)
{
    const int status = *c.status;
    std::string out = c.child.output();
    INFO((c.stub ? "stub" : "race_acquirer") << " pid " << c.child.pid() << " ended with "
                                              << status_text(status) << "; its output:\n" << out);
    REQUIRE(WIFEXITED(status));
    if (c.stub) {
        REQUIRE(WEXITSTATUS(status) == 1);
        REQUIRE(out.find("lock is already held") != std::string::npos);
    } else {
        REQUIRE(WEXITSTATUS(status) == kLostExit);
    }
}

// What the acquirers announced on WON: one "<pid>\n" per claimed win.
struct Announcements {
    int fd = -1;
    std::string text;
    bool open = true; // until end-of-file: every acquirer gone

    [[nodiscard]] std::size_t count() const
    {
        return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    }
    // Reads what is there; call when poll() says the fd is ready.
    void take()
    {
        char buf[256];
        ssize_t got = ::read(fd, buf, sizeof buf);
        if (got > 0)
            text.append(buf, static_cast<std::size_t>(got));
        else if (got == 0 || errno != EINTR)
            open = false;
    }
};

// Reaps contenders as they exit until only one runs, and returns its index.
// Fails on any exit other than a loss, on nobody left (no winner), as soon
// as a second acquirer claims a win, and on more than one still running after
// the timeout (a hang). WON is watched too so that two winners are caught at
// once rather than by the timeout.
std::size_t reap_losers(std::vector<Contender>& cs, Announcements& won)
{
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < cs.size(); ++i)
            if (!cs[i].status) {
                fds.push_back({cs[i].pidfd.get(), POLLIN, 0});
                index.push_back(i);
            }
        if (index.empty())
            FAIL("every contender lost: nobody won the round");
        if (index.size() == 1)
            return index.front();
        if (won.open)
            fds.push_back({won.fd, POLLIN, 0});

        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            std::string pids;
            for (std::size_t i : index)
                pids += " " + std::to_string(cs[i].child.pid());
            FAIL(index.size() << " contenders still run after " << kTimeout.count()
                              << " ms: more than one winner, or a hang; pids" << pids);
        }
        int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR)
            continue;
        REQUIRE(n >= 0);
        for (std::size_t k = 0; k < index.size(); ++k) {
            if (!fds[k].revents)
                continue;
            Contender& c = cs[index[k]];
            c.status = c.child.wait(std::chrono::milliseconds(0));
            REQUIRE(c.status);
            expect_lost(c);
        }
        if (won.open && fds.back().revents) {
            won.take();
            INFO("announced wins:\n" << won.text);
            REQUIRE(won.count() <= 1);
        }
    }
}

// The winner holds the lock, and gateway.pid, gateway.lock and validate() all
// name it.
void expect_winner_on_disk(const TempHome& home, pid_t winner)
{
    INFO("winner pid " << winner);
    RecordFile pid_file = read_record_file(home.paths().pid_file);
    REQUIRE(pid_file.status == FileStatus::Record);
    CHECK(pid_file.record->pid == winner);

    RecordFile lock_file = read_record_file(home.paths().lock_file);
    REQUIRE(lock_file.status == FileStatus::Record);
    CHECK(lock_file.record->pid == winner);

    Verdict v = validate(home.paths());
    INFO("verdict: " << v.summary);
    REQUIRE(v.kind == VerdictKind::Live);
    REQUIRE(v.record());
    CHECK(v.record()->pid == winner);
    CHECK(v.lock.held);
    CHECK(v.lock.holders == std::vector<pid_t>{winner});
}

// Names in the home that no round should leave behind: temp files, files
// moved aside, unexpected quarantines.
std::vector<std::string> strays(const TempHome& home)
{
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(home.dir())) {
        auto name = e.path().filename().string();
        if (name != "gateway.pid" && name != "gateway.lock" && name.rfind("notify", 0) != 0)
            out.push_back(name);
    }
    return out;
}

std::optional<FileId> lock_inode(const TempHome& home)
{
    struct stat st {};
    if (::lstat(home.paths().lock_file.c_str(), &st) != 0)
        return std::nullopt;
    return FileId{st.st_dev, st.st_ino};
}

// ------------------------------------------------------------ planting

PidRecord gateway_record(const TempHome& home, pid_t pid, std::optional<std::uint64_t> start)
{
    PidRecord r;
    r.pid = pid;
    r.kind = std::string(kGatewayKind);
    r.argv = std::vector<std::string>{"/usr/bin/hermes", "gateway", "run"};
    r.start_time = start;
    r.hermes_home = canonical_home(home.dir()).string();
    return r;
}

constexpr unsigned kStaleVariants = 7;

// Writes a stale record and returns the reason validate() must give for it.
// Records that name a live process name this test process: it runs, but it
// is not a gateway, or not the one recorded.
StaleReason plant_stale(const TempHome& home, unsigned variant)
{
    const pid_t self = ::getpid();
    const auto self_start = read_start_time(self);
    REQUIRE(self_start);
    auto [dead, dead_start] = dead_process();
    PidRecord r = gateway_record(home, dead, dead_start);
    StaleReason why = StaleReason::ProcessGone;
    switch (variant) {
    case 0: // ours, with boot id: a killed gateway we started
        r.boot_id = current_boot_id();
        break;
    case 1: // as Hermes writes it: no boot id
        break;
    case 2: // legacy bare PID
        home.write("gateway.pid", std::to_string(dead) + "\n");
        return why;
    case 3:
        r.pid = self;
        r.start_time = *self_start + 1;
        why = StaleReason::PidReused;
        break;
    case 4:
        r.pid = self;
        r.start_time = *self_start;
        why = StaleReason::NotGateway;
        break;
    case 5:
        r.pid = self;
        r.start_time = *self_start;
        r.boot_id = "00000000-0000-4000-8000-000000000000";
        why = StaleReason::PreviousBoot;
        break;
    case 6: // another home's gateway
        r.hermes_home = "/nonexistent/other-hermes-home";
        why = StaleReason::OtherHome;
        break;
    default:
        FAIL("no stale variant " << variant);
    }
    home.write("gateway.pid", serialize_record(r));
    return why;
}

const std::vector<std::string>& corrupt_samples()
{
    static const std::vector<std::string> samples = {
        "",
        "{\"pid\": 42",                             // truncated, as a non-atomic writer leaves it
        "not a record\n",
        "{\"pid\": \"4242\"}",                      // pid as a string
        "{\"pid\": 4242, \"kind\": \"other-daemon\"}",
        std::string("\x00\xff\xfe binary\n", 11),
    };
    return samples;
}

// Prepares the start state the plan asks for. Returns the corrupt bytes
// planted, if any, to find them again in quarantine.
std::optional<std::string> prepare(const TempHome& home, const Plan& plan, Tally& tally)
{
    const auto& paths = home.paths();
    ++tally.starts[static_cast<int>(plan.start)];
    switch (plan.start) {
    case Start::Clean:
    case Start::KilledWinner:
        break;
    case Start::NoLockFile:
        std::filesystem::remove(paths.lock_file); // nobody holds it between rounds
        break;
    case Start::PlantedStale: {
        StaleReason why = plant_stale(home, plan.variant % kStaleVariants);
        Verdict v = validate(paths);
        INFO("planted: " << home.read("gateway.pid") << "; verdict: " << v.summary);
        REQUIRE(v.kind == VerdictKind::Stale);
        REQUIRE(v.reason == why);
        break;
    }
    case Start::PlantedCorrupt: {
        const auto& bytes = corrupt_samples()[plan.variant % corrupt_samples().size()];
        home.write("gateway.pid", bytes);
        Verdict v = validate(paths);
        INFO("verdict: " << v.summary);
        REQUIRE(v.kind == VerdictKind::Corrupt);
        return bytes;
    }
    }
    return std::nullopt;
}

// The winner quarantined the corrupt record: moved aside under its own PID,
// bytes intact. Removes it so that later rounds start without it.
void expect_quarantined(const TempHome& home, const std::string& bytes, pid_t winner)
{
    auto found = strays(home);
    INFO("files beside gateway.pid: " << found.size());
    REQUIRE(found.size() == 1);
    const std::string& name = found.front();
    INFO("quarantine file " << name);
    CHECK(name.rfind("gateway.pid.corrupt-", 0) == 0);
    const std::string suffix = "-" + std::to_string(winner);
    CHECK(name.size() > suffix.size());
    CHECK(name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
    CHECK(home.read(name) == bytes);
    std::filesystem::remove(home.dir() / name);
}

// ------------------------------------------------------------ one round

// Starts the stub among the waiting acquirers and fires the gun.
Contender start_stub_and_fire(const TempHome& home, const Plan& plan, const NotifyListener& notify,
                              UniqueFd& go)
{
    if (plan.stub == StubRace::SameInstant) {
        Contender stub = spawn_stub(home, notify);
        go.reset();
        return stub;
    }
    // Python needs tens of milliseconds to start, which would decide the race
    // before it begins. Firing when the stub opens gateway.lock leaves both
    // sides microseconds from their flock().
    UniqueFd watch(::inotify_init1(IN_CLOEXEC));
    REQUIRE(watch);
    REQUIRE(::inotify_add_watch(watch.get(), home.dir().c_str(), IN_OPEN) >= 0);
    Contender stub = spawn_stub(home, notify);
    bool opened = wait_opened(watch.get(), "gateway.lock", kTimeout);
    go.reset();
    if (!opened) {
        stub.child.signal(SIGKILL);
        stub.child.wait();
        FAIL("the stub never opened gateway.lock; its output:\n" << stub.child.output());
    }
    return stub;
}

// Ends the round the way the plan says and checks what is left on disk.
// Returns whether a stale record was left.
bool end_round(const TempHome& home, Contender& winner, UniqueFd& hold, const Plan& plan)
{
    const pid_t pid = winner.child.pid();
    if (plan.kill_winner) {
        winner.child.signal(SIGKILL);
        auto status = winner.child.wait();
        REQUIRE(status);
        REQUIRE(WIFSIGNALED(*status));
        Verdict v = validate(home.paths());
        INFO("after SIGKILL of " << pid << ": " << v.summary);
        REQUIRE(v.kind == VerdictKind::Stale);
        CHECK(v.reason == StaleReason::ProcessGone);
        REQUIRE(v.record());
        CHECK(v.record()->pid == pid);
        CHECK_FALSE(v.lock.held);
        return true;
    }
    if (winner.stub)
        winner.child.signal(SIGTERM); // the stub's clean shutdown
    else
        hold.reset();                 // the acquirer's cue to release
    auto status = winner.child.wait();
    REQUIRE(status);
    INFO("winner " << pid << " ended with " << status_text(*status) << "; its output:\n" << winner.child.output());
    REQUIRE(WIFEXITED(*status));
    REQUIRE(WEXITSTATUS(*status) == 0);
    CHECK_FALSE(home.exists("gateway.pid"));
    CHECK(home.exists("gateway.lock")); // never unlinked
    Verdict v = validate(home.paths());
    CHECK(v.kind == VerdictKind::None);
    CHECK_FALSE(v.lock.held);
    return false;
}

// Runs one round; returns whether it left a stale record behind.
bool run_round(const TempHome& home, const Plan& plan, Tally& tally)
{
    auto corrupt = prepare(home, plan, tally);

    Pipe go = make_pipe(true), hold = make_pipe(true), won = make_pipe(false);
    const int acquirers = plan.stub == StubRace::None ? kContenders : kContenders - 1;
    std::vector<Contender> cs;
    cs.reserve(kContenders);
    for (int i = 0; i < acquirers; ++i)
        cs.push_back(spawn_acquirer(home, go.theirs.get(), hold.theirs.get(), won.theirs.get()));
    // Only the contenders may hold these ends, or end-of-file never comes.
    go.theirs.reset();
    hold.theirs.reset();
    won.theirs.reset();

    std::optional<NotifyListener> notify;
    if (plan.stub != StubRace::None) {
        notify.emplace((home.dir() / "notify.sock").string());
        cs.push_back(start_stub_and_fire(home, plan, *notify, go.ours));
    } else {
        go.ours.reset(); // the start gun
    }

    Announcements won_news;
    won_news.fd = won.ours.get();
    Contender& winner = cs[reap_losers(cs, won_news)];
    const pid_t pid = winner.child.pid();
    INFO("winner: " << (winner.stub ? "stub" : "race_acquirer") << " pid " << pid);
    if (winner.stub) {
        REQUIRE(notify->wait_for("STATUS=Gateway running (pid " + std::to_string(pid) + ")"));
        ++tally.stub_wins;
    } else {
        REQUIRE(read_line(won_news.fd, won_news.text, kTimeout));
        REQUIRE(won_news.text == std::to_string(pid) + "\n");
        if (plan.stub != StubRace::None)
            ++tally.stub_losses;
    }
    REQUIRE_FALSE(winner.child.wait_exited_unreaped(std::chrono::milliseconds(0)));
    expect_winner_on_disk(home, pid);
    if (corrupt)
        expect_quarantined(home, *corrupt, pid);

    bool stale = end_round(home, winner, hold.ours, plan);
    ++(plan.kill_winner ? tally.kills : tally.releases);

    // Every acquirer is gone now: nobody but the winner ever claimed a win.
    CHECK(won_news.text + read_to_eof(won_news.fd) == (winner.stub ? "" : std::to_string(pid) + "\n"));
    CHECK(strays(home).empty());
    return stale;
}

Plan plan_round(std::mt19937& rng, bool stale_now, int stub_rounds_so_far)
{
    Plan p;
    p.kill_winner = rng() % 2 == 0;
    p.variant = static_cast<unsigned>(rng());
    if (rng() % 6 == 0) // alternate the two ways the stub races
        p.stub = stub_rounds_so_far % 2 == 0 ? StubRace::AtLock : StubRace::SameInstant;
    if (stale_now) {
        p.start = Start::KilledWinner;
        return p;
    }
    if (p.stub != StubRace::None)
        return p; // the stub starts from a clean state (see the test case)
    switch (rng() % 12) {
    case 0:
    case 1: p.start = Start::PlantedStale; break;
    case 2:
    case 3: p.start = Start::PlantedCorrupt; break;
    case 4: p.start = Start::NoLockFile; break;
    default: p.start = Start::Clean; break;
    }
    return p;
}

} // namespace

TEST_CASE("contending processes: exactly one wins each of hundreds of rounds, "
          "from clean, stale and corrupt states, also against the stub",
          "[torture][process]")
{
    const unsigned seed = env_number("HGW_TORTURE_SEED", std::random_device{}());
    const int rounds = static_cast<int>(env_number("HGW_TORTURE_ROUNDS", kDefaultRounds));
    INFO("seed " << seed << " (replay with HGW_TORTURE_SEED=" << seed << ")");
    std::mt19937 rng(seed);

    TempHome home;
    Tally tally;
    bool stale = false;
    std::optional<FileId> lock_id;
    const auto t0 = std::chrono::steady_clock::now();

    for (int r = 0; r < rounds; ++r) {
        Plan plan = plan_round(rng, stale, tally.stub_rounds);
        if (plan.stub != StubRace::None) {
            ++tally.stub_rounds;
            // The stub, like Hermes, cannot start over a stale gateway.pid
            // ("PID file race lost"): such a round could have no winner by
            // design. Clean first, as the daemon does before starting Hermes.
            if (stale) {
                CleanOutcome c = clean(home.paths());
                INFO("clean: " << c.message);
                REQUIRE(c.action == CleanOutcome::Action::Removed);
                ++tally.stale_cleaned_for_stub;
                plan.start = Start::Clean;
            }
        }
        if (plan.start == Start::NoLockFile)
            lock_id.reset();
        INFO("round " << r << ": " << describe(plan));

        const int stub_wins_before = tally.stub_wins;
        stale = run_round(home, plan, tally);
        ++tally.rounds;

        // A winner of ours puts a fresh lock file at gateway.lock, in one
        // step, in place of a free one (core/home_lock.h); that the winner
        // holds the file at the name, expect_winner_on_disk checked. The stub
        // takes gateway.lock as Hermes does, in place: when it won, no one
        // unlinked or replaced the file, losers of ours included.
        auto id = lock_inode(home);
        REQUIRE(id);
        if (lock_id && tally.stub_wins > stub_wins_before)
            CHECK(*lock_id == *id);
        lock_id = id;
    }

    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ostringstream summary;
    summary << "torture: " << tally.rounds << " rounds x " << kContenders << " processes in " << seconds
            << " s (seed " << seed << "); starts:";
    for (int s = 0; s < 5; ++s)
        summary << " " << name_of(static_cast<Start>(s)) << "=" << tally.starts[s];
    summary << "; winners released=" << tally.releases << " killed=" << tally.kills << "; stub rounds="
            << tally.stub_rounds << " (stub won " << tally.stub_wins << ", lost " << tally.stub_losses
            << ", stale cleaned first " << tally.stale_cleaned_for_stub << ")";
    std::cout << summary.str() << std::endl;

    // The schedule must really have exercised every path, or the test proves
    // less than it claims.
    if (rounds >= kDefaultRounds) {
        for (int s = 0; s < 5; ++s)
            CHECK(tally.starts[s] > 0);
        CHECK(tally.kills > 0);
        CHECK(tally.releases > 0);
        CHECK(tally.stub_wins > 0);
        CHECK(tally.stub_losses > 0);
    }
}
