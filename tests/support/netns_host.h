#pragma once
// A "host" for fleet tests: a network namespace of its own, joined to the
// test's (root) namespace by two veth pairs, so that a partition is a link
// going down:
//
//   Link::cluster   10.213.N.1 (root side) <-> 10.213.N.2 (namespace side)
//                   the way to etcd (EtcdClusterOptions::listen_addresses)
//   Link::internet  10.213.N.5 (root side) <-> 10.213.N.6 (namespace side)
//                   the way to everything else, e.g. the fake Bot API
//
// N (1-254) is the first number whose root-side interface name (hgwcN,
// hgwiN) is free; creating that interface is the allocation, so tests
// running at once never share one. Loopback is up inside.
//
// The namespace is held by a file descriptor of this object, not by a
// holder process or a /run/netns mount: it disappears, with its veth pairs,
// once that fd is closed and no process runs in it any more. If the test
// crashes, what it spawned here dies with it (SpawnOptions::die_with_parent),
// and a reaper in the namespace (tests/scripts/netns_reaper.py), which sees
// the test exit, kills what is left, such as a gateway whose daemon died:
// the host goes down as a whole.
// Needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root); otherwise the constructor
// throws saying which step failed.
//
// A process in the namespace still reaches the test's D-Bus bus: a
// unix:path= socket (PrivateBus) is a file, the same in every network
// namespace. Only abstract sockets (unix:abstract=) are per namespace.

#include "support/child_process.h"
#include "util/unique_fd.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace hgw::test {

enum class Link { cluster, internet };

class NetnsHost {
public:
    // `name` is for messages (and for the test to name its gateways).
    explicit NetnsHost(std::string name);
    ~NetnsHost(); // deletes the veth pairs and closes the namespace
    NetnsHost(const NetnsHost&) = delete;
    NetnsHost& operator=(const NetnsHost&) = delete;

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] unsigned index() const { return index_; } // N in 10.213.N.0/24
    [[nodiscard]] int netns_fd() const { return netns_.get(); }
    // /proc/<test pid>/fd/<fd>: for `nsenter --net=PATH CMD` while this object lives.
    [[nodiscard]] std::string netns_path() const;

    // What a process in the namespace connects to, to reach the root
    // namespace over `link` (listen there: etcd, the fake Bot API).
    [[nodiscard]] std::string root_address(Link link) const;
    // The namespace's own address on `link`.
    [[nodiscard]] std::string host_address(Link link) const;
    // The root-side interface of `link` (hgwcN or hgwiN).
    [[nodiscard]] std::string interface(Link link) const;

    // `base` with netns_fd and die_with_parent set: a process spawned with
    // it runs in this namespace (setns before exec, no nsenter in between,
    // so Child::pid() is the process itself).
    [[nodiscard]] SpawnOptions spawn_options(SpawnOptions base = {}) const;
    [[nodiscard]] Child spawn(const std::vector<std::string>& argv, SpawnOptions opts = {}) const;
    [[nodiscard]] RunResult run(const std::vector<std::string>& argv, SpawnOptions opts = {},
                                std::chrono::milliseconds timeout = kTimeout) const;

    // The partition: the root-side end goes down, the namespace's end loses
    // its carrier. Packets vanish: established connections stall, new ones
    // time out or, once address resolution gives up (about 3 s), fail with
    // "No route to host"; nothing is refused at once. Addresses stay, so
    // servers bound to them go on listening.
    void link_down(Link link = Link::cluster);
    // Heals it and returns once both ends are up again, their neighbour
    // (ARP) entries flushed: a connection made then gets through.
    void link_up(Link link = Link::cluster);
    [[nodiscard]] bool is_up(Link link) const;

private:
    std::string ip(const std::vector<std::string>& args, bool in_namespace) const;
    void allocate();
    void configure();

    std::string name_;
    UniqueFd netns_;
    std::optional<Child> reaper_; // SIGKILLed, so doing nothing, when the host ends normally
    unsigned index_ = 0;
};

// The path of `ip` (iproute2), or an exception saying it is not installed.
std::string ip_command();

} // namespace hgw::test
