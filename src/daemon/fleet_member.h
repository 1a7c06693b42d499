#pragma once
// Fleet mode on the daemon's loop: this host runs the gateway only while it
// leads the fleet's election (fleet/campaign.h, on its own thread), and
// stops it before its lease can lapse (fleet/fence.h): every renewal's send
// time moves a timer on this loop; if the timer fires first, the gateway is
// stopped ("fenced") whatever the campaign's thread is doing.
//
// Roles: standalone (no fleet), follower (another host leads, or none is
// known yet), leader (ours runs), fenced (we led, and stopped our gateway
// because our lease could lapse; we stand again when etcd answers).

#include "daemon/config.h"
#include "daemon/event_loop.h"
#include "daemon/supervisor.h"
#include "fleet/campaign.h"
#include "util/unique_fd.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace hgw::daemon {

enum class FleetRole { Standalone, Follower, Leader, Fenced };
std::string_view to_string(FleetRole role);

struct FleetStatus {
    FleetRole role = FleetRole::Standalone;
    std::string leader;              // the leader's key value: host and daemon; empty if unknown
    std::uint64_t fence_at_usec = 0; // CLOCK_MONOTONIC: our stop begins then unless renewed; 0: none
    bool operator==(const FleetStatus&) const = default;
};

// The fence rule this configuration asks for; throws hgw::Error (saying
// what to change) when it cannot keep its promise under `watchdog`.
fleet::FenceRule fence_rule_for(const Config& config, std::optional<microseconds> watchdog);

class FleetMember {
public:
    using Changed = std::function<void(const FleetStatus&)>;

    // Starts the campaign. The supervisor starts no gateway until this host
    // leads. `loop` and `supervisor` must outlive the member.
    FleetMember(EventLoop& loop, Supervisor& supervisor, const Config& config, fleet::FenceRule rule,
                Changed changed);
    ~FleetMember(); // revokes our lease if our gateway is stopped
    FleetMember(const FleetMember&) = delete;
    FleetMember& operator=(const FleetMember&) = delete;

    [[nodiscard]] const FleetStatus& status() const { return status_; }
    // Why this host may not run a gateway now; nothing when it leads.
    [[nodiscard]] std::optional<std::string> start_refusal() const;
    // Planned handover: stop our gateway, then resign, so that the next
    // host in line starts at once. With `to`, the first follower of that
    // host is made next first (the others ahead of it make way); if that
    // cannot be done, the call fails and our gateway runs on.
    void handover(const std::string& to, Completion done);

private:
    void drain_queue();
    void on_event(const fleet::CampaignEvent& e);
    void lead(std::uint64_t sent_usec);
    void renewed(std::uint64_t sent_usec);
    void fence(const std::string& why);
    void stop_orphan();
    void start_gateway();
    void handover_ready(const std::string& next);
    void handover_refused(const std::string& why);
    void stop_and_resign(Completion done);
    void set(FleetRole role, std::string leader, std::uint64_t fence_at);

    EventLoop& loop_;
    Supervisor& supervisor_;
    fleet::FenceRule rule_;
    Changed changed_;
    FleetStatus status_;
    EventSource fence_timer_;
    bool handing_over_ = false;
    Completion handover_done_; // a handover --to, waiting for its host to be next
    bool stopping_ = false; // a fence's stop, or an orphan's, is under way

    // The campaign's thread hands events over through this queue and wakes
    // the loop with the eventfd.
    std::mutex mutex_;
    std::deque<fleet::CampaignEvent> queue_;
    UniqueFd wake_fd_;
    EventSource wake_source_;
    std::unique_ptr<fleet::Campaign> campaign_; // last: its thread goes first
};

} // namespace hgw::daemon
