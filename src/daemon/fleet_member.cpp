#include "daemon/fleet_member.h"

#include "daemon/log.h"
#include "fleet/member.h"
#include "util/duration.h"
#include "util/errors.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <fstream>
#include <utility>

namespace hgw::daemon {

namespace {

// SIGKILL to gone: the kernel's part, once the stop timeout ran out.
constexpr microseconds kKillMargin = 1s;

std::string hostname()
{
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0')
        return "unknown-host";
    return buf;
}

using fleet::describe_member;

std::string read_password(const std::string& file)
{
    std::ifstream in(file);
    if (!in)
        throw Error("cannot read the etcd password file " + file, "check --fleet-password-file and its permissions");
    std::string password;
    std::getline(in, password);
    return password;
}

} // namespace

std::string_view to_string(FleetRole role)
{
    switch (role) {
    case FleetRole::Standalone: return "standalone";
    case FleetRole::Follower: return "follower";
    case FleetRole::Leader: return "leader";
    case FleetRole::Fenced: return "fenced";
    }
    return "standalone";
}

fleet::FenceRule fence_rule_for(const Config& config, std::optional<microseconds> watchdog)
{
    fleet::FenceRule rule;
    rule.ttl = config.fleet.ttl;
    rule.clock_rate_error = config.fleet.clock_rate_error;
    rule.stop_budget = config.stop_timeout + kKillMargin;
    rule.request_timeout = std::min<microseconds>(1s, rule.ttl / 10);
    if (auto problem = fleet::fence_problem(rule, watchdog))
        throw Error("fleet mode: " + *problem, "see docs/fleet.md for how the lease, the stop and the watchdog relate");
    return rule;
}

FleetMember::FleetMember(EventLoop& loop, Supervisor& supervisor, const Config& config, fleet::FenceRule rule,
                         Changed changed)
    : loop_(loop), supervisor_(supervisor), rule_(rule), changed_(std::move(changed)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    if (!wake_fd_)
        throw_errno("eventfd for the fleet campaign");
    status_.role = FleetRole::Follower;
    supervisor_.set_start_gate([this] { return start_refusal(); });
    wake_source_ = loop_.add_io(wake_fd_.get(), EPOLLIN, [this](std::uint32_t) { drain_queue(); });
    stop_orphan();

    fleet::CampaignOptions o;
    o.etcd.endpoints = config.fleet.endpoints;
    o.etcd.ca_file = config.fleet.ca_file;
    o.etcd.cert_file = config.fleet.cert_file;
    o.etcd.key_file = config.fleet.key_file;
    o.etcd.user = config.fleet.user;
    if (!config.fleet.password_file.empty())
        o.etcd.password = read_password(config.fleet.password_file);
    o.etcd.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(rule_.request_timeout);
    o.prefix = "/hermes-gatewayd/fleet/" + config.fleet.name + "/";
    o.value = fleet::member_value(config.fleet.host.empty() ? hostname() : config.fleet.host, ::getpid());
    o.rule = rule_;
    log::info("fleet " + config.fleet.name + ": standing for election on etcd (lease " +
              format_duration(rule_.ttl) + ", renewed every " +
              format_duration(rule_.renew_every()) + ")");
    campaign_ = std::make_unique<fleet::Campaign>(std::move(o), [this](fleet::CampaignEvent e) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(e));
        }
        const std::uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
    });
}

FleetMember::~FleetMember()
{
    supervisor_.set_start_gate({});
    // Our gateway is stopped (the daemon stops it before it exits): the
    // next host need not wait for our lease to lapse.
    if (supervisor_.snapshot().pid == 0)
        campaign_->release_on_stop();
    campaign_.reset();
}

std::optional<std::string> FleetMember::start_refusal() const
{
    switch (status_.role) {
    case FleetRole::Leader: return std::nullopt;
    case FleetRole::Fenced: return std::string("this host is fenced: it cannot prove its lease on etcd");
    default:
        return "this host does not lead its fleet" +
               (status_.leader.empty() ? std::string(" (no leader known yet)") : "; the leader is " + status_.leader);
    }
}

void FleetMember::drain_queue()
{
    std::uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
    std::deque<fleet::CampaignEvent> events;
    {
        std::lock_guard lock(mutex_);
        events.swap(queue_);
    }
    for (const auto& e : events)
        on_event(e);
}

void FleetMember::on_event(const fleet::CampaignEvent& e)
{
    using Kind = fleet::CampaignEvent::Kind;
    switch (e.kind) {
    case Kind::Leader:
        if (status_.role == FleetRole::Leader)
            renewed(e.sent_usec);
        else
            lead(e.sent_usec);
        break;
    case Kind::Renewed:
        if (status_.role == FleetRole::Leader)
            renewed(e.sent_usec);
        break;
    case Kind::Follower:
        if (status_.role == FleetRole::Leader)
            fence("another host leads now: " + describe_member(e.leader));
        if (status_.role != FleetRole::Fenced || supervisor_.snapshot().pid == 0)
            set(FleetRole::Follower, describe_member(e.leader), 0);
        break;
    case Kind::Unreachable:
        // The lease may live on: the fence timer decides, not this report.
        log::warning("fleet: etcd does not answer: " + e.why);
        break;
    case Kind::Lost:
        if (status_.role == FleetRole::Leader)
            fence("our lease is gone: " + e.why);
        else
            log::warning("fleet: our place in line is gone (" + e.why + "); standing again");
        break;
    case Kind::Resigned:
        log::info("fleet: " + (e.why.empty() ? std::string("resigned") : e.why) +
                  "; standing again at the back of the line");
        if (status_.role != FleetRole::Fenced)
            set(FleetRole::Follower, status_.leader, 0);
        break;
    case Kind::HandoverReady: handover_ready(e.leader); break;
    case Kind::HandoverRefused: handover_refused(e.why); break;
    }
}

// Our key is first, proven by a renewal sent at `sent_usec`.
void FleetMember::lead(std::uint64_t sent_usec)
{
    const std::uint64_t fence_at = rule_.fence_at(sent_usec);
    if (fence_at <= EventLoop::now_usec())
        return; // too old a proof to start on: the next renewal will do
    if (handing_over_)
        return;
    set(FleetRole::Leader, "this host", fence_at);
    fence_timer_ = loop_.add_timer_at(fence_at, [this] {
        fence("no renewal of our lease came back in time; stopping the gateway before the lease can lapse");
    });
    if (!stopping_)
        start_gateway();
}

// A follower runs no gateway, not even one a previous daemon of this home
// left running (a standalone daemon killed before fleet mode was set up).
void FleetMember::stop_orphan()
{
    stopping_ = true;
    supervisor_.stop_orphan([this](const OpResult& r) {
        stopping_ = false;
        if (!r.ok())
            log::warning("fleet: " + r.message);
        if (status_.role == FleetRole::Leader)
            start_gateway(); // elected while the orphan stopped
    });
}

void FleetMember::start_gateway()
{
    log::info("fleet: this host leads; starting the gateway");
    supervisor_.start(OpOptions{"fleet: this host leads", {}, {}}, [](const OpResult& r) {
        if (!r.ok())
            log::error("fleet: the gateway did not start: " + r.message);
    });
}

void FleetMember::renewed(std::uint64_t sent_usec)
{
    const std::uint64_t fence_at = rule_.fence_at(sent_usec);
    if (fence_at <= status_.fence_at_usec)
        return;
    status_.fence_at_usec = fence_at;
    fence_timer_ = loop_.add_timer_at(fence_at, [this] {
        fence("no renewal of our lease came back in time; stopping the gateway before the lease can lapse");
    });
    if (changed_)
        changed_(status_);
}

void FleetMember::fence(const std::string& why)
{
    fence_timer_.reset();
    log::warning("fleet: fenced: " + why);
    set(FleetRole::Fenced, {}, 0);
    stopping_ = true;
    supervisor_.stop(OpOptions{"fleet: fenced", {}, {}}, [this](const OpResult& r) {
        stopping_ = false;
        if (!r.ok())
            log::error("fleet: stopping the fenced gateway: " + r.message);
        // Elected again (a fresh proof) while it stopped: start again.
        if (status_.role == FleetRole::Leader)
            start_gateway();
    });
}

void FleetMember::handover(const std::string& to, Completion done)
{
    if (status_.role != FleetRole::Leader) {
        done(OpResult{OpError::NotRunning, "this host does not lead its fleet; nothing to hand over", 0, 0});
        return;
    }
    if (handing_over_ || handover_done_) {
        done(OpResult{OpError::Busy, "a handover is under way already", 0, 0});
        return;
    }
    if (to.empty()) {
        stop_and_resign(std::move(done));
        return;
    }
    // Our gateway runs on until the named host is next in line.
    log::info("fleet: handing over to " + to + " once it is next in line");
    handover_done_ = std::move(done);
    campaign_->prepare_handover(to);
}

void FleetMember::handover_ready(const std::string& next)
{
    Completion done = std::exchange(handover_done_, nullptr);
    if (!done)
        return;
    if (status_.role != FleetRole::Leader) {
        done(OpResult{OpError::NotRunning, "this host stopped leading before " + describe_member(next) +
                                               " was next in line; nothing to hand over", 0, 0});
        return;
    }
    log::info("fleet: " + describe_member(next) + " is next in line; handing over");
    stop_and_resign(std::move(done));
}

void FleetMember::handover_refused(const std::string& why)
{
    Completion done = std::exchange(handover_done_, nullptr);
    if (!done)
        return;
    log::warning("fleet: handover refused: " + why);
    done(OpResult{OpError::CannotStart, "handover refused: " + why + "; the gateway here was left running", 0, 0});
}

void FleetMember::stop_and_resign(Completion done)
{
    handing_over_ = true;
    fence_timer_.reset();
    set(FleetRole::Follower, {}, 0);
    supervisor_.stop(OpOptions{"fleet: handover", {}, {}}, [this, done = std::move(done)](const OpResult& r) {
        handing_over_ = false;
        if (r.ok())
            campaign_->resign(); // only now: our gateway is gone
        done(r.ok() ? OpResult{OpError::None, "handed over", 0, 0} : r);
    });
}

void FleetMember::set(FleetRole role, std::string leader, std::uint64_t fence_at)
{
    FleetStatus next{role, std::move(leader), fence_at};
    if (next == status_)
        return;
    if (next.role != status_.role)
        log::info("fleet: " + std::string(to_string(status_.role)) + " -> " + std::string(to_string(next.role)) +
                  (next.leader.empty() || next.role == FleetRole::Leader ? "" : "; leader " + next.leader));
    status_ = std::move(next);
    if (changed_)
        changed_(status_);
}

} // namespace hgw::daemon
