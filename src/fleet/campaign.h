#pragma once
// The election, on its own thread: etcd's standard recipe. A lease, a key
// under the fleet's prefix created with it; the key with the lowest create
// revision leads; a follower watches the key just ahead of its own. The
// lease is renewed every TTL/3, and each renewal's send time (CLOCK_MONOTONIC)
// is reported, for the daemon's loop to fence by (fence.h).
//
// The thread only talks to etcd and reports; the daemon's loop decides what
// runs. Reports come through `sink` from the campaign's thread.
//
// A handover to a named host changes who is next, never who leads: the
// leader puts a record (under the prefix, with its own lease, so it goes
// with it) naming the target's key; the followers ahead of the target give
// their place up and stand again at the back, and the leader waits until
// the target is next before it is told to resign. Who leads is still
// decided only by the keys' order and the leases.

#include "fleet/etcd_client.h"
#include "fleet/fence.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hgw::fleet {

struct CampaignEvent {
    enum class Kind {
        Leader,      // our key is first; sent_usec proves our lease
        Follower,    // another key is first; leader names it
        Renewed,     // a renewal sent at sent_usec was granted
        Unreachable, // etcd did not answer; our lease may still live
        Lost,        // our lease is gone (expired, or etcd forgot it)
        Resigned,    // we revoked our lease on request, or to make way; why says which
        HandoverReady,   // the host asked for is next after us: stop, then resign()
        HandoverRefused, // it is not in line behind us, or not next in time; we still lead
    };
    Kind kind;
    std::uint64_t sent_usec = 0;
    std::string leader; // the leading key's value
    std::string why;
};

struct CampaignOptions {
    EtcdOptions etcd;
    std::string prefix; // "/hermes-gatewayd/fleet/<name>/"
    std::string value;  // who we are, stored in our key (JSON)
    FenceRule rule;
};

class Campaign {
public:
    using Sink = std::function<void(CampaignEvent)>;

    Campaign(CampaignOptions options, Sink sink);
    ~Campaign(); // stops the thread; revokes our lease if release_on_stop()
    Campaign(const Campaign&) = delete;
    Campaign& operator=(const Campaign&) = delete;

    // Give up the lead (or our place in line): revoke the lease, then stand
    // again at the back of the line. Call only once our gateway is dead.
    void resign();
    // On destruction, revoke the lease (a clean shutdown with our gateway
    // stopped): the next host need not wait for the TTL.
    void release_on_stop() { release_on_stop_ = true; }
    // Make the first follower whose key names `host` the next in line
    // after us; answered by HandoverReady or HandoverRefused, once.
    void prepare_handover(std::string host);

    static std::uint64_t now_usec(); // CLOCK_MONOTONIC

private:
    // The keys in line (oldest first), and the handover record if any.
    struct Line {
        std::int64_t revision = 0;
        std::vector<KeyValue> keys;
        std::optional<KeyValue> record;
    };
    struct Handover {
        std::string host;
        std::string target; // its key
        std::uint64_t deadline_usec = 0;
    };

    void run();
    void stand();                  // one lease's life
    Line read_line();
    // Each waits until the next renewal is due, or something worth a look.
    void lead(const Line& line, std::uint64_t due);
    void follow(const Line& line, std::vector<KeyValue>::const_iterator mine, std::uint64_t due);
    bool makes_way(const Line& line, std::vector<KeyValue>::const_iterator mine) const;
    void start_handover(const Line& line);
    void advance_handover(const Line& line);
    void refuse_handover(const std::string& why);
    void give_up_lease(const std::string& why);
    void abandon_lease();
    void revoke_abandoned();
    bool wait_until(std::uint64_t monotonic_usec); // false when stopped, asked to resign or to hand over
    void post(CampaignEvent::Kind kind, std::uint64_t sent = 0, std::string leader = {}, std::string why = {});

    CampaignOptions options_;
    Sink sink_;
    EtcdClient etcd_;
    std::string record_key_; // the handover record: prefix + "handover"
    std::int64_t lease_ = 0;
    bool led_ = false;            // we led under lease_ (a gateway may have run)
    std::int64_t abandoned_ = 0;  // a lease we never led under and stopped renewing
    std::string key_;                  // ours in line
    std::optional<Handover> handover_; // under way, we lead
    std::atomic<bool> stop_{false};
    std::atomic<bool> resign_{false};
    std::atomic<bool> release_on_stop_{false};
    std::optional<std::string> requested_; // prepare_handover's host, not yet taken up
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
};

} // namespace hgw::fleet
