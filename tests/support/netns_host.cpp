#include "support/netns_host.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

namespace hgw::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kHosts = 254; // N in 10.213.N.0/24

// A new network namespace, held by the returned fd only. The unshare runs
// in a thread of its own, which ends right after: the test's threads stay
// where they were.
UniqueFd new_network_namespace()
{
    int fd = -1;
    int error = 0;
    std::thread([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            error = errno;
            return;
        }
        fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            error = errno;
    }).join();
    if (fd < 0)
        throw std::runtime_error(std::string("NetnsHost: cannot make a network namespace: ") +
                                 std::strerror(error) + " (unshare(CLONE_NEWNET) needs CAP_SYS_ADMIN: run as root)");
    return UniqueFd(fd);
}

std::string joined(const std::vector<std::string>& args)
{
    std::string out;
    for (const auto& a : args)
        out += (out.empty() ? "" : " ") + a;
    return out;
}

// The namespace-side name of each link's veth end.
const char* inner_name(Link link) { return link == Link::cluster ? "cluster" : "internet"; }

} // namespace

std::string ip_command()
{
    for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
        if (::access(path, X_OK) == 0)
            return path;
    throw std::runtime_error("NetnsHost: no `ip` command (install iproute2)");
}

NetnsHost::NetnsHost(std::string name) : name_(std::move(name)), netns_(new_network_namespace())
{
    // Not die_with_parent: it is there for when the test dies.
    SpawnOptions so;
    so.netns_fd = netns_.get();
    reaper_.emplace(Child::spawn({source_path("tests/scripts/netns_reaper.py"), std::to_string(::getpid())}, so));
    allocate();
    try {
        configure();
    } catch (...) {
        // The destructor will not run: give the interface names back now.
        for (Link l : {Link::cluster, Link::internet})
            hgw::test::run({ip_command(), "link", "del", interface(l)});
        throw;
    }
}

NetnsHost::~NetnsHost()
{
    // Deleting one end deletes the pair, and at once: the names are free
    // for the next host, which the namespace's own (deferred) teardown
    // would not promise.
    try {
        for (Link l : {Link::cluster, Link::internet})
            hgw::test::run({ip_command(), "link", "del", interface(l)});
    } catch (...) {
        // A destructor must not throw; the namespace's end removes them anyway.
    }
}

std::string NetnsHost::ip(const std::vector<std::string>& args, bool in_namespace) const
{
    std::vector<std::string> argv = {ip_command()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = in_namespace ? run(argv) : hgw::test::run(argv);
    if (r.exit_code != 0)
        throw std::runtime_error("NetnsHost " + name_ + ": `ip " + joined(args) + "`" +
                                 (in_namespace ? " in the namespace" : "") + " failed: " + r.output);
    return r.output;
}

void NetnsHost::allocate()
{
    // From inside the namespace, so that the namespace's end is born there
    // and only the root-side name can clash: `netns <pid>` puts the peer in
    // our (the test process's) namespace, and "File exists" means another
    // host, of this test or another, has that N.
    const std::string root_ns = std::to_string(::getpid());
    std::mt19937 random(std::random_device{}());
    const unsigned start = std::uniform_int_distribution<unsigned>(0, kHosts - 1)(random);
    for (unsigned k = 0; k < kHosts; ++k) {
        index_ = 1 + (start + k) % kHosts;
        std::vector<std::string> add = {ip_command(), "link", "add", inner_name(Link::cluster), "type", "veth",
                                        "peer", "name", interface(Link::cluster), "netns", root_ns};
        RunResult r = run(add);
        if (r.exit_code != 0 && r.output.find("File exists") != std::string::npos)
            continue;
        if (r.exit_code != 0)
            throw std::runtime_error("NetnsHost " + name_ + ": cannot make a veth pair (`" + joined(add) +
                                     "`): " + r.output + " (needs CAP_NET_ADMIN: run as root)");
        add[3] = inner_name(Link::internet);
        add[8] = interface(Link::internet);
        r = run(add);
        if (r.exit_code == 0)
            return;
        hgw::test::run({ip_command(), "link", "del", interface(Link::cluster)});
        if (r.output.find("File exists") == std::string::npos)
            throw std::runtime_error("NetnsHost " + name_ + ": cannot make a veth pair (`" + joined(add) +
                                     "`): " + r.output);
    }
    throw std::runtime_error("NetnsHost " + name_ + ": all " + std::to_string(kHosts) +
                             " interface names hgwc1..hgwc254 are taken");
}

void NetnsHost::configure()
{
    ip({"link", "set", "lo", "up"}, true);
    for (Link l : {Link::cluster, Link::internet}) {
        ip({"addr", "add", root_address(l) + "/30", "dev", interface(l)}, false);
        ip({"link", "set", interface(l), "up"}, false);
        ip({"addr", "add", host_address(l) + "/30", "dev", inner_name(l)}, true);
        ip({"link", "set", inner_name(l), "up"}, true);
    }
    for (Link l : {Link::cluster, Link::internet})
        link_up(l); // waits until both ends are up
}

std::string NetnsHost::netns_path() const
{
    return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(netns_.get());
}

std::string NetnsHost::root_address(Link link) const
{
    return "10.213." + std::to_string(index_) + (link == Link::cluster ? ".1" : ".5");
}

std::string NetnsHost::host_address(Link link) const
{
    return "10.213." + std::to_string(index_) + (link == Link::cluster ? ".2" : ".6");
}

std::string NetnsHost::interface(Link link) const
{
    return (link == Link::cluster ? "hgwc" : "hgwi") + std::to_string(index_);
}

SpawnOptions NetnsHost::spawn_options(SpawnOptions base) const
{
    base.netns_fd = netns_.get();
    base.die_with_parent = true;
    return base;
}

Child NetnsHost::spawn(const std::vector<std::string>& argv, SpawnOptions opts) const
{
    return Child::spawn(argv, spawn_options(std::move(opts)));
}

RunResult NetnsHost::run(const std::vector<std::string>& argv, SpawnOptions opts,
                         std::chrono::milliseconds timeout) const
{
    return hgw::test::run(argv, spawn_options(std::move(opts)), timeout);
}

bool NetnsHost::is_up(Link link) const
{
    // operstate UP on both ends: the root side is administratively up and
    // the namespace side has its carrier.
    auto up = [](const std::string& shown) { return shown.find(" state UP ") != std::string::npos; };
    return up(ip({"-o", "link", "show", "dev", interface(link)}, false)) &&
           up(ip({"-o", "link", "show", "dev", inner_name(link)}, true));
}

void NetnsHost::link_down(Link link)
{
    ip({"link", "set", interface(link), "down"}, false);
    if (is_up(link))
        throw std::runtime_error("NetnsHost " + name_ + ": " + interface(link) + " is still up after `ip link set down`");
}

void NetnsHost::link_up(Link link)
{
    // An address resolution begun during the partition may still be due to
    // fail, and would fail the first connection after it with "No route to
    // host": forgotten on both ends, it starts afresh.
    ip({"neigh", "flush", "dev", interface(link)}, false);
    ip({"neigh", "flush", "dev", inner_name(link)}, true);
    ip({"link", "set", interface(link), "up"}, false);
    // The carrier reaches the other end through the kernel's link watch:
    // asked again until it has, as there is nothing to wait on.
    const auto deadline = Clock::now() + kTimeout;
    while (!is_up(link)) {
        if (Clock::now() > deadline)
            throw std::runtime_error("NetnsHost " + name_ + ": " + interface(link) + " not up on both ends within " +
                                     std::to_string(kTimeout.count()) + " ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

} // namespace hgw::test
