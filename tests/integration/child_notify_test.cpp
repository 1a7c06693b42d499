// The gateway's sd_notify socket with real processes: messages from the
// accepted PID arrive, messages from anyone else, truncated ones and passed
// fds do not.

#include "daemon/child_notify.h"
#include "daemon/event_loop.h"
#include "daemon/systemd_notifier.h"
#include "support/child_process.h"
#include "support/scoped_env.h"
#include "support/temp_home.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

using namespace hgw;
using namespace hgw::daemon;
using namespace hgw::test;

namespace {

struct Received {
    pid_t sender;
    NotifyMessage msg;
};

// A notify socket on its own loop that records what reaches its handler.
class Harness {
public:
    explicit Harness(std::string address = {})
        : socket_(loop_, std::move(address), [this](pid_t sender, const NotifyMessage& msg) {
              received.push_back({sender, msg});
              if (done_ && done_())
                  loop_.exit(0);
          })
    {
    }

    // Runs the loop until `done` holds after a message, or kTimeout passes.
    bool run_until(std::function<bool()> done)
    {
        done_ = std::move(done);
        EventSource timeout = loop_.add_timer(kTimeout, [this] { loop_.exit(1); });
        return loop_.run() == 0;
    }

    ChildNotifySocket& socket() { return socket_; }
    std::vector<Received> received;

private:
    EventLoop loop_;
    ChildNotifySocket socket_;
    std::function<bool()> done_;
};

// A process that sends each of `messages` to `address` (NOTIFY_SOCKET
// syntax) and exits. It first waits for a byte on `wait_fd` when that is not
// -1, and passes `fds` along with its first message.
struct SenderOptions {
    int wait_fd = -1;
    std::vector<int> fds;
};

Child spawn_sender(const std::string& address, const std::vector<std::string>& messages,
                   const SenderOptions& opts = {})
{
    static const char* script = R"(
import array, os, socket, sys
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
wait_fd = int(sys.argv[1])
fds = [int(x) for x in sys.argv[2].split(",") if x]
if wait_fd >= 0:
    os.read(wait_fd, 1)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
for i, msg in enumerate(sys.argv[3:]):
    if i == 0 and fds:
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
        s.sendmsg([msg.encode()], rights, 0, addr)
    else:
        s.sendto(msg.encode(), addr)
)";
    std::string fd_list;
    for (int fd : opts.fds)
        fd_list += std::to_string(fd) + ",";
    std::vector<std::string> argv = {"/usr/bin/python3", "-c", script, std::to_string(opts.wait_fd), fd_list};
    argv.insert(argv.end(), messages.begin(), messages.end());
    SpawnOptions spawn;
    spawn.env = {{"NOTIFY_SOCKET", address}};
    return Child::spawn(argv, spawn);
}

// Waits until a sender has sent everything (exited 0): its datagrams are
// then queued ahead of anything sent later.
void require_sent(Child& sender)
{
    auto status = sender.wait();
    REQUIRE(status);
    REQUIRE(WIFEXITED(*status));
    REQUIRE(WEXITSTATUS(*status) == 0);
}

void send_and_wait(const std::string& address, const std::vector<std::string>& messages)
{
    Child sender = spawn_sender(address, messages);
    require_sent(sender);
}

// A pipe whose end `inherited` (0 read, 1 write) survives exec; the other
// end is close-on-exec.
std::array<UniqueFd, 2> pipe_passing(int inherited)
{
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(::fcntl(p[inherited], F_SETFD, 0) == 0);
    return {UniqueFd(p[0]), UniqueFd(p[1])};
}

bool has(const Received& r, const std::string& key, const std::string& value)
{
    auto it = r.msg.find(key);
    return it != r.msg.end() && it->second == value;
}

// Binds a socket at `path` and closes it: the file a crashed daemon leaves.
void leave_stale_socket(const std::string& path)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM, 0));
    REQUIRE(fd);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
}


} // namespace

TEST_CASE("parse_notify_message splits KEY=VALUE lines", "[notify]")
{
    NotifyMessage m = parse_notify_message("READY=1\nSTATUS=Connected: telegram, discord\nMAINPID=42");
    CHECK(m == NotifyMessage{{"READY", "1"}, {"STATUS", "Connected: telegram, discord"}, {"MAINPID", "42"}});

    // Lines without '=' or with an empty key are ignored; '=' in values kept;
    // a repeated key keeps its last value; an empty value is a value.
    m = parse_notify_message("garbage\n=nokey\nSTATUS=a=b\n\nWATCHDOG=1\nWATCHDOG=trigger\nERRNO=\n");
    CHECK(m == NotifyMessage{{"STATUS", "a=b"}, {"WATCHDOG", "trigger"}, {"ERRNO", ""}});

    CHECK(parse_notify_message("").empty());
    CHECK(parse_notify_message("\n\n").empty());
}

TEST_CASE("the stub gateway's READY=1 arrives from its accepted PID", "[notify][process]")
{
    TempHome home;
    Harness h; // an abstract address of our own
    const std::string& address = h.socket().address();
    CHECK(address.rfind("@hermes-gatewayd/" + std::to_string(::getpid()) + "/", 0) == 0);

    SpawnOptions opts;
    opts.env = {{"HERMES_HOME", home.dir().string()}, {"NOTIFY_SOCKET", address}};
    Child gw = Child::spawn({source_path("tests/stub/hermes"), "gateway", "run"}, opts);
    // Set before the loop reads anything: the check is made at read time.
    h.socket().accept_from(gw.pid());

    bool ready = h.run_until([&] { return has(h.received.back(), "READY", "1"); });
    REQUIRE(ready);
    for (const Received& r : h.received)
        CHECK(r.sender == gw.pid());

    gw.signal(SIGTERM);
    CHECK(gw.wait());
}

TEST_CASE("messages from any other process are dropped", "[notify][process]")
{
    Harness h;
    const std::string& address = h.socket().address();

    // Nothing is accepted before accept_from: this one is queued, then dropped.
    send_and_wait(address, {"READY=1\nSTATUS=before any accept"});

    // The accepted process waits on a pipe, so that an intruder can send
    // READY=1 first.
    auto gate = pipe_passing(0);
    Child accepted = spawn_sender(address, {"STATUS=from the accepted pid"}, {gate[0].get(), {}});
    gate[0].reset();
    h.socket().accept_from(accepted.pid());
    send_and_wait(address, {"READY=1\nMAINPID=1\nSTATUS=intruder"});

    // Datagrams are read in order: when the accepted one arrives, both
    // earlier ones have been judged.
    REQUIRE(::write(gate[1].get(), "x", 1) == 1);
    require_sent(accepted);
    REQUIRE(h.run_until([] { return true; }));
    REQUIRE(h.received.size() == 1);
    CHECK(h.received[0].sender == accepted.pid());
    CHECK(h.received[0].msg == NotifyMessage{{"STATUS", "from the accepted pid"}});
}

TEST_CASE("a datagram too large for the buffer is dropped whole", "[notify][process]")
{
    Harness h;
    auto gate = pipe_passing(0);
    const std::string huge = "STATUS=" + std::string(70 * 1024, 'x');
    Child sender = spawn_sender(h.socket().address(), {huge, "READY=1"}, {gate[0].get(), {}});
    gate[0].reset();
    h.socket().accept_from(sender.pid());
    REQUIRE(::write(gate[1].get(), "x", 1) == 1);
    require_sent(sender);

    REQUIRE(h.run_until([&] { return has(h.received.back(), "READY", "1"); }));
    // Not a truncated prefix of the huge message: nothing of it at all.
    REQUIRE(h.received.size() == 1);
    CHECK(h.received[0].msg.count("STATUS") == 0);
}

TEST_CASE("fds passed with a message are closed, the message still counts", "[notify][process]")
{
    Harness h;
    // The sender passes the pipe's only write end once it has exited: the
    // read end sees EOF only if we close the copy we received.
    auto pipe = pipe_passing(1);
    const int write_end = pipe[1].get();
    Child sender = spawn_sender(h.socket().address(), {"READY=1"}, {-1, {write_end}});
    h.socket().accept_from(sender.pid());
    require_sent(sender);
    pipe[1].reset();

    REQUIRE(h.run_until([&] { return has(h.received.back(), "READY", "1"); }));
    pollfd p{pipe[0].get(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, static_cast<int>(kTimeout.count())) == 1);
    CHECK((p.revents & POLLHUP) != 0);
    char byte = 0;
    CHECK(::read(pipe[0].get(), &byte, 1) == 0);
}

TEST_CASE("a path socket replaces a stale socket file but never a live socket or another file",
          "[notify][process]")
{
    TempHome dir;
    const std::string path = (dir.dir() / "notify.sock").string();
    leave_stale_socket(path);
    {
        Harness h(path);
        CHECK(h.socket().address() == path);
        // Any uid may reach it; the credential check decides who is heard.
        CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
              std::filesystem::perms(0666));

        // A second daemon on the same path must not steal it.
        EventLoop other;
        CHECK_THROWS_AS(ChildNotifySocket(other, path, [](pid_t, const NotifyMessage&) {}), Error);

        // Still ours: a message to the path arrives.
        auto gate = pipe_passing(0);
        Child sender = spawn_sender(path, {"READY=1"}, {gate[0].get(), {}});
        gate[0].reset();
        h.socket().accept_from(sender.pid());
        REQUIRE(::write(gate[1].get(), "x", 1) == 1);
        REQUIRE(h.run_until([&] { return has(h.received.back(), "READY", "1"); }));
        CHECK(h.received.back().sender == sender.pid());
    }
    CHECK_FALSE(std::filesystem::exists(path)); // removed with the socket

    dir.write("not-a-socket", "precious");
    EventLoop loop;
    auto noop = [](pid_t, const NotifyMessage&) {};
    CHECK_THROWS_AS(ChildNotifySocket(loop, (dir.dir() / "not-a-socket").string(), noop), Error);
    CHECK(dir.read("not-a-socket") == "precious");

    CHECK_THROWS_AS(ChildNotifySocket(loop, "/" + std::string(200, 'x'), noop), Error);
    CHECK_THROWS_AS(ChildNotifySocket(loop, "@", noop), Error);
}

TEST_CASE("SystemdNotifier speaks sd_notify to $NOTIFY_SOCKET and keeps the environment", "[notify][systemd]")
{
    // Our own ChildNotifySocket plays systemd: it checks the sender is us.
    Harness h;
    h.socket().accept_from(::getpid());
    ScopedEnv socket("NOTIFY_SOCKET", h.socket().address());
    ScopedEnv usec("WATCHDOG_USEC", "4000000");
    ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid()));

    SystemdNotifier n;
    CHECK(n.enabled());
    CHECK(n.watchdog_interval() == std::optional<std::chrono::microseconds>(4s));

    const std::uint64_t before = EventLoop::now_usec();
    n.ready("up\nINJECTED=1");
    n.reloading("replacing");
    n.stopping("bye");
    n.watchdog();
    n.extend_timeout(5s);
    const std::uint64_t after = EventLoop::now_usec();
    REQUIRE(h.run_until([&] { return h.received.size() == 5; }));

    CHECK(h.received[0].msg == NotifyMessage{{"READY", "1"}, {"STATUS", "up INJECTED=1"}});
    CHECK(h.received[1].msg.at("RELOADING") == "1");
    CHECK(h.received[1].msg.at("STATUS") == "replacing");
    std::uint64_t mono = std::stoull(h.received[1].msg.at("MONOTONIC_USEC"));
    CHECK(mono >= before);
    CHECK(mono <= after);
    CHECK(h.received[2].msg == NotifyMessage{{"STOPPING", "1"}, {"STATUS", "bye"}});
    CHECK(h.received[3].msg == NotifyMessage{{"WATCHDOG", "1"}});
    CHECK(h.received[4].msg == NotifyMessage{{"EXTEND_TIMEOUT_USEC", "5000000"}});

    // sd_notify(0, ...): the variables stay for whoever reads them next.
    CHECK(std::getenv("NOTIFY_SOCKET") != nullptr);
    CHECK(std::getenv("WATCHDOG_USEC") != nullptr);
}

TEST_CASE("SystemdNotifier: no socket, no messages, another process's watchdog is not ours", "[notify][systemd]")
{
    {
        ScopedEnv socket("NOTIFY_SOCKET", std::nullopt);
        ScopedEnv usec("WATCHDOG_USEC", "4000000");
        ScopedEnv pid("WATCHDOG_PID", "1");
        SystemdNotifier n;
        CHECK_FALSE(n.enabled());
        CHECK_FALSE(n.watchdog_interval());
        n.ready("nobody listens"); // must be harmless
    }
    // A disabled notifier sends nothing: the enabled one's message is the
    // first and only one to arrive.
    Harness h;
    h.socket().accept_from(::getpid());
    ScopedEnv socket("NOTIFY_SOCKET", std::nullopt);
    SystemdNotifier disabled;
    disabled.ready("silent");
    ScopedEnv set("NOTIFY_SOCKET", h.socket().address());
    SystemdNotifier enabled;
    enabled.status("marker");
    REQUIRE(h.run_until([] { return true; }));
    REQUIRE(h.received.size() == 1);
    CHECK(h.received[0].msg == NotifyMessage{{"STATUS", "marker"}});
}
