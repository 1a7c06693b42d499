#pragma once
// The election, on its own thread: etcd's standard recipe. A lease, a key
// under the fleet's prefix created with it; the key with the lowest create
// revision leads; a follower watches the key just ahead of its own. The
// lease is renewed every TTL/3, and each renewal's send time (CLOCK_MONOTONIC)
// is reported, for the daemon's loop to fence by (fence.h).
//
// The thread only talks to etcd and reports; the daemon's loop decides what
// runs. Reports come through `sink` from the campaign's thread.

#include "fleet/etcd_client.h"
#include "fleet/fence.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace hgw::fleet {

struct CampaignEvent {
    enum class Kind {
        Leader,      // our key is first; sent_usec proves our lease
        Follower,    // another key is first; leader names it
        Renewed,     // a renewal sent at sent_usec was granted
        Unreachable, // etcd did not answer; our lease may still live
        Lost,        // our lease is gone (expired, or etcd forgot it)
        Resigned,    // we revoked our lease on request
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

    static std::uint64_t now_usec(); // CLOCK_MONOTONIC

private:
    void run();
    void stand();                  // one lease's life
    bool wait_until(std::uint64_t monotonic_usec); // false when stopped or asked to resign
    void post(CampaignEvent::Kind kind, std::uint64_t sent = 0, std::string leader = {}, std::string why = {});

    CampaignOptions options_;
    Sink sink_;
    EtcdClient etcd_;
    std::int64_t lease_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> resign_{false};
    std::atomic<bool> release_on_stop_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;
};

} // namespace hgw::fleet
