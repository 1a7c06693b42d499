#include "fleet/campaign.h"

#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace hgw::fleet {

namespace {

constexpr std::uint64_t kRetryUsec = 250'000; // after etcd did not answer

std::string lease_key(const std::string& prefix, std::int64_t lease)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, static_cast<std::uint64_t>(lease));
    return prefix + buf;
}

} // namespace

std::uint64_t Campaign::now_usec()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

Campaign::Campaign(CampaignOptions options, Sink sink)
    : options_(std::move(options)), sink_(std::move(sink)), etcd_(options_.etcd)
{
    thread_ = std::thread([this] { run(); });
}

Campaign::~Campaign()
{
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void Campaign::resign()
{
    {
        std::lock_guard lock(mutex_);
        resign_ = true;
    }
    wake_.notify_all();
}

void Campaign::post(CampaignEvent::Kind kind, std::uint64_t sent, std::string leader, std::string why)
{
    sink_(CampaignEvent{kind, sent, std::move(leader), std::move(why)});
}

bool Campaign::wait_until(std::uint64_t monotonic_usec)
{
    std::unique_lock lock(mutex_);
    while (!stop_ && !resign_) {
        const std::uint64_t now = now_usec();
        if (now >= monotonic_usec)
            return true;
        wake_.wait_for(lock, std::chrono::microseconds(monotonic_usec - now));
    }
    return false;
}

void Campaign::run()
{
    while (!stop_) {
        try {
            stand();
        } catch (const std::exception& e) {
            // No lease, or one we gave up on: stand again once etcd answers.
            // (Not only Error: whatever fails here must not end the thread.)
            post(CampaignEvent::Kind::Unreachable, 0, {}, e.what());
            lease_ = 0;
            wait_until(now_usec() + kRetryUsec);
        }
    }
    if (lease_ && release_on_stop_) {
        try {
            etcd_.revoke(lease_);
        } catch (const Error&) {
            // It lapses after its TTL instead.
        }
    }
}

// One lease: grant it, put our key in line, then lead or follow, renewing
// every TTL/3, until the lease is gone, we resign, or we stop.
void Campaign::stand()
{
    const FenceRule& rule = options_.rule;
    std::uint64_t proof = now_usec();
    const auto ttl_s = std::chrono::duration_cast<std::chrono::seconds>(rule.ttl).count();
    lease_ = etcd_.grant(ttl_s).id;
    const std::string key = lease_key(options_.prefix, lease_);
    if (!etcd_.create(key, options_.value, lease_))
        throw EtcdError("our key " + key + " exists already: another daemon uses our lease");
    bool leading = false;
    bool unreachable = false;
    while (!stop_) {
        if (resign_) {
            resign_ = false;
            etcd_.revoke(lease_);
            lease_ = 0;
            post(CampaignEvent::Kind::Resigned);
            return;
        }
        const std::uint64_t due = proof + static_cast<std::uint64_t>(rule.renew_every().count());
        try {
            RangeReply line = etcd_.range_prefix(options_.prefix);
            auto mine = std::find_if(line.kvs.begin(), line.kvs.end(), [&](const KeyValue& kv) { return kv.key == key; });
            if (mine == line.kvs.end()) {
                post(CampaignEvent::Kind::Lost, 0, {}, "our key is gone: the lease expired");
                lease_ = 0;
                return;
            }
            leading = mine == line.kvs.begin();
            if (leading)
                post(CampaignEvent::Kind::Leader, proof);
            else
                post(CampaignEvent::Kind::Follower, 0, line.kvs.front().value);
            unreachable = false;
            const std::uint64_t now = now_usec();
            if (leading) {
                if (!wait_until(due))
                    continue;
            } else if (now < due &&
                       etcd_.wait_deleted(std::prev(mine)->key, line.revision + 1,
                                          std::chrono::milliseconds((due - now) / 1000 + 1), stop_)) {
                continue; // the key ahead is gone: look at the line again
            }
            if (stop_ || now_usec() < due)
                continue;
            const std::uint64_t sent = now_usec();
            if (etcd_.keepalive(lease_) <= 0) {
                post(CampaignEvent::Kind::Lost, 0, {}, "etcd says our lease expired");
                lease_ = 0;
                return;
            }
            proof = sent;
            post(CampaignEvent::Kind::Renewed, sent);
        } catch (const EtcdUnreachable& e) {
            // The lease may still live: keep renewing it until it surely
            // cannot (its TTL on the slowest allowed clock), then start over.
            if (!unreachable)
                post(CampaignEvent::Kind::Unreachable, 0, {}, e.what());
            unreachable = true;
            const auto surely_gone = proof + static_cast<std::uint64_t>(static_cast<double>(rule.ttl.count()) *
                                                                         (1.0 + rule.clock_rate_error));
            if (now_usec() > surely_gone) {
                post(CampaignEvent::Kind::Lost, 0, {}, "etcd unreachable for longer than the lease");
                lease_ = 0;
                return;
            }
            wait_until(std::min(now_usec() + kRetryUsec, surely_gone + 1));
        }
    }
}

} // namespace hgw::fleet
