#pragma once
// A real etcd cluster for tests: N members (default 3) on loopback, in a
// temporary directory, on free ports; each member can be stopped, killed
// and started again (it rejoins from its data directory), and the raft
// leader can be asked for. Every process it starts is ended by its pidfd
// and dies with the test if the test dies first; the directory goes with it.

#include "support/child_process.h"
#include "support/temp_home.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hgw::test {

struct EtcdClusterOptions {
    std::size_t members = 3;
    // IPv4 addresses each member's client port listens on. A process in a
    // network namespace (support/netns_host.h) reaches the cluster through
    // its link's root-side address: list it here (or "0.0.0.0", but then the
    // cluster is reachable over every link, the internet link included).
    std::vector<std::string> listen_addresses = {"127.0.0.1"};
    // The host in the client URLs the members advertise (what a client that
    // syncs its endpoints from the member list connects to).
    std::string advertise_address = "127.0.0.1";
    std::chrono::milliseconds heartbeat = std::chrono::milliseconds(100);
    std::chrono::milliseconds election_timeout = std::chrono::milliseconds(1000);
    // Until every member answers GET /health with "true".
    std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
    std::filesystem::path parent = {}; // where the directory goes; default: the temporary directory
    std::string etcd = "/usr/bin/etcd";
    std::string etcdctl = "/usr/bin/etcdctl";
};

class EtcdCluster {
public:
    // Starts every member and waits until each is healthy; throws
    // std::runtime_error with the members' last log lines if it cannot.
    explicit EtcdCluster(EtcdClusterOptions options = {});
    ~EtcdCluster(); // SIGKILLs every member still running, removes the directory
    EtcdCluster(const EtcdCluster&) = delete;
    EtcdCluster& operator=(const EtcdCluster&) = delete;

    [[nodiscard]] std::size_t size() const { return members_.size(); }
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_.dir(); }
    [[nodiscard]] const EtcdClusterOptions& options() const { return options_; }

    // "http://ADDRESS:PORT0,http://ADDRESS:PORT1,...", every member's client
    // URL with `address` as the host: 127.0.0.1 from the root namespace, a
    // host's NetnsHost::root_address(Link::cluster) from inside it (which
    // must be one of options().listen_addresses).
    [[nodiscard]] std::string client_urls(const std::string& address = "127.0.0.1") const;
    [[nodiscard]] std::string client_url(std::size_t i, const std::string& address = "127.0.0.1") const;
    [[nodiscard]] std::uint16_t client_port(std::size_t i) const;
    [[nodiscard]] std::uint16_t peer_port(std::size_t i) const;
    // The member's raft ID as etcd prints it (decimal), learnt at start.
    [[nodiscard]] const std::string& member_id(std::size_t i) const;
    [[nodiscard]] pid_t pid(std::size_t i) const; // 0 while stopped
    [[nodiscard]] bool running(std::size_t i) const;

    // SIGTERM (a leader hands leadership over first) and wait until it exited.
    void stop(std::size_t i);
    // SIGKILL and wait until it exited: a crash.
    void kill(std::size_t i);
    // Starts a stopped member again on its data directory and ports: it
    // rejoins the cluster. Does not wait; see wait_healthy().
    void start(std::size_t i);

    // One GET /health: true when the member answers {"health":"true"}.
    [[nodiscard]] bool healthy(std::size_t i) const;
    // Retries healthy() every 100 ms; throws with the member's log on timeout.
    void wait_healthy(std::size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

    // The raft leader, asked once of every running member (the JSON
    // gateway's /v3/maintenance/status): nothing while no leader is known,
    // while the answers disagree or when the leader is not running.
    [[nodiscard]] std::optional<std::size_t> leader() const;
    // Retries leader() every 100 ms until there is one; throws on timeout.
    [[nodiscard]] std::size_t wait_leader(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

    // etcdctl with --endpoints set (to client_urls(address)) and `args`
    // after it, for Child::spawn, run() or NetnsHost::run().
    [[nodiscard]] std::vector<std::string> etcdctl(const std::vector<std::string>& args,
                                                   const std::string& address = "127.0.0.1") const;
    // The member's log (its stderr), and its last `lines` lines.
    [[nodiscard]] std::filesystem::path log_path(std::size_t i) const;
    [[nodiscard]] std::string log_tail(std::size_t i, std::size_t lines = 20) const;

private:
    struct Member {
        std::string name;
        std::uint16_t client_port = 0;
        std::uint16_t peer_port = 0;
        std::string id;
        std::optional<Child> process;
    };
    enum class Start { healthy, address_in_use };

    Start start_all();
    [[nodiscard]] std::vector<std::string> command(std::size_t i) const;
    [[nodiscard]] std::string initial_cluster() const;
    void end(std::size_t i, int sig);
    [[nodiscard]] const Member& at(std::size_t i) const;
    Member& at(std::size_t i);
    [[nodiscard]] std::string logs() const;

    EtcdClusterOptions options_;
    TempHome dir_;
    std::string token_;
    std::vector<Member> members_;
};

} // namespace hgw::test
