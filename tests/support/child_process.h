#pragma once
// Real child processes for tests: spawn, signal, wait with a timeout (on a
// pidfd, never by polling), run a command and capture its output.

#include "util/unique_fd.h"

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hgw::test {

using namespace std::chrono_literals;

// Generous: tests assert correctness, not speed.
inline constexpr std::chrono::milliseconds kTimeout = 30s;

struct SpawnOptions {
    std::map<std::string, std::string> env; // added to (or overriding) ours
    std::vector<std::string> unset_env;
    std::optional<uid_t> uid;               // setresuid in the child (we must be root)
    bool capture_output = false;            // stdout+stderr into a pipe
    std::string output_file;                // or: stdout+stderr appended to this file
    // setns(CLONE_NEWNET) to this network namespace before the exec (the
    // caller keeps the fd open; support/netns_host.h); -1: ours.
    int netns_fd = -1;
    // SIGKILL when the thread that spawned it exits, a crashed test included:
    // nothing a test started (an etcd member, a namespace's process)
    // outlives it when no destructor runs.
    bool die_with_parent = false;
};

class Child {
public:
    static Child spawn(const std::vector<std::string>& argv, const SpawnOptions& opts = {});
    Child(Child&&) noexcept;
    Child& operator=(Child&&) = delete;
    ~Child(); // SIGKILLs and reaps a child still running

    [[nodiscard]] pid_t pid() const { return pid_; }
    void signal(int sig) const;
    // Exit status as from waitpid (use WIFEXITED etc.), or nothing on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout = kTimeout);
    // Waits until the child has exited but does not reap it (it stays a zombie).
    bool wait_exited_unreaped(std::chrono::milliseconds timeout = kTimeout);
    // All output so far, once the child has exited (needs capture_output).
    std::string output();

private:
    Child() = default;
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    UniqueFd out_;
    std::string buffered_;
    bool reaped_ = true;
};

struct RunResult {
    int exit_code = -1; // -1 if killed by a signal or timed out
    std::string output; // stdout and stderr, interleaved
};

RunResult run(const std::vector<std::string>& argv, const SpawnOptions& opts = {},
              std::chrono::milliseconds timeout = kTimeout);

// A datagram socket speaking the sd_notify protocol, for a child's
// NOTIFY_SOCKET. A thread reads it all along, as systemd does: a sender must
// never block because nobody reads (the socket queue holds ~10 datagrams).
class NotifyListener {
public:
    explicit NotifyListener(const std::string& path);
    ~NotifyListener();
    NotifyListener(const NotifyListener&) = delete;
    NotifyListener& operator=(const NotifyListener&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }
    // Consumes messages in arrival order until one containing `line`.
    // False on timeout.
    bool wait_for(const std::string& line, std::chrono::milliseconds timeout = kTimeout);
    // Every message received so far, consumed or not.
    [[nodiscard]] std::vector<std::string> messages() const;
    [[nodiscard]] std::size_t size() const;
    // Index of the first message at or after `from` that satisfies `pred`,
    // waiting for it; consumes nothing.
    std::optional<std::size_t> find(const std::function<bool(const std::string&)>& pred, std::size_t from,
                                    std::chrono::milliseconds timeout = kTimeout);
    std::optional<std::size_t> find_text(const std::string& text, std::size_t from,
                                         std::chrono::milliseconds timeout = kTimeout);

private:
    void read_loop();
    std::string path_;
    UniqueFd fd_;
    UniqueFd stop_;
    mutable std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<std::string> messages_;
    std::size_t consumed_ = 0;
    std::thread reader_;
};

// Waits until `fd` (a pidfd: the process exited) is readable; false on timeout.
bool wait_readable(int fd, std::chrono::milliseconds timeout);

// Path of a file in the source tree, e.g. source_path("tests/stub/hermes").
std::string source_path(const std::string& relative);

// The whole of a file in the source tree; throws std::runtime_error if it
// cannot be read.
std::string read_source(const std::string& relative);

// The path of a system program (in /usr/bin, /bin, /usr/sbin or /sbin),
// empty if it is not installed.
std::string find_program(const std::string& name);

} // namespace hgw::test
