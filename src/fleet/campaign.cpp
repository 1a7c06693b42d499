#include "fleet/campaign.h"

#include "fleet/member.h"
#include "util/duration.h"

#include <nlohmann/json.hpp>

#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace hgw::fleet {

namespace {

constexpr std::uint64_t kRetryUsec = 250'000; // after etcd did not answer
// How long the followers ahead of a handover's target have to make way:
// each needs one watch event and three requests (revoke, grant, create).
constexpr std::uint64_t kMakeWayUsec = 5'000'000;

using Keys = std::vector<KeyValue>;

std::string lease_key(const std::string& prefix, std::int64_t lease)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, static_cast<std::uint64_t>(lease));
    return prefix + buf;
}

Keys::const_iterator find_key(const Keys& keys, const std::string& key)
{
    return std::find_if(keys.begin(), keys.end(), [&](const KeyValue& kv) { return kv.key == key; });
}

// "b (daemon pid 12), c (daemon pid 13)": the keys from `first` on.
std::string describe_keys(Keys::const_iterator first, Keys::const_iterator last)
{
    std::string out;
    for (auto it = first; it != last; ++it)
        out += (out.empty() ? "" : ", ") + describe_member(it->value);
    return out.empty() ? "none" : out;
}

std::string record_value(const std::string& target_key)
{
    return nlohmann::json{{"to", target_key}}.dump();
}

// The key a handover record names; empty when it is not one.
std::string record_target(const std::string& value)
{
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("to") || !j.at("to").is_string())
        return {};
    return j.at("to").get<std::string>();
}

std::chrono::milliseconds ms_until(std::uint64_t from_usec, std::uint64_t to_usec)
{
    return std::chrono::milliseconds((to_usec - from_usec) / 1000 + 1);
}

} // namespace

std::uint64_t Campaign::now_usec()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

Campaign::Campaign(CampaignOptions options, Sink sink)
    : options_(std::move(options)), sink_(std::move(sink)), etcd_(options_.etcd),
      record_key_(options_.prefix + "handover")
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

void Campaign::prepare_handover(std::string host)
{
    {
        std::lock_guard lock(mutex_);
        requested_ = std::move(host);
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
    while (!stop_ && !resign_ && !requested_) {
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
            abandon_lease();
            refuse_handover(std::string("etcd failed us: ") + e.what());
            wait_until(now_usec() + kRetryUsec);
        }
        refuse_handover("this host lost its place in line");
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
// every TTL/3, until the lease is gone, we resign or make way, or we stop.
void Campaign::stand()
{
    const FenceRule& rule = options_.rule;
    std::uint64_t proof = now_usec();
    const auto ttl_s = std::chrono::duration_cast<std::chrono::seconds>(rule.ttl).count();
    revoke_abandoned();
    lease_ = etcd_.grant(ttl_s).id;
    led_ = false;
    key_ = lease_key(options_.prefix, lease_);
    if (!etcd_.create(key_, options_.value, lease_))
        throw EtcdError("our key " + key_ + " exists already: another daemon uses our lease");
    bool unreachable = false;
    while (!stop_) {
        if (resign_) {
            resign_ = false;
            give_up_lease({});
            return;
        }
        const std::uint64_t due = proof + static_cast<std::uint64_t>(rule.renew_every().count());
        try {
            const Line line = read_line();
            auto mine = find_key(line.keys, key_);
            if (mine == line.keys.end()) {
                post(CampaignEvent::Kind::Lost, 0, {}, "our key is gone: the lease expired");
                lease_ = 0;
                return;
            }
            unreachable = false;
            if (mine == line.keys.begin()) {
                led_ = true;
                post(CampaignEvent::Kind::Leader, proof);
                lead(line, due);
            } else {
                post(CampaignEvent::Kind::Follower, 0, line.keys.front().value);
                refuse_handover("this host does not lead its fleet");
                if (makes_way(line, mine)) {
                    give_up_lease("making way for a handover to " +
                                  describe_member(find_key(line.keys, record_target(line.record->value))->value));
                    return;
                }
                follow(line, mine, due);
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
            refuse_handover(std::string("etcd does not answer: ") + e.what());
            const auto surely_gone = proof + static_cast<std::uint64_t>(static_cast<double>(rule.ttl.count()) *
                                                                         (1.0 + rule.clock_rate_error));
            if (now_usec() > surely_gone) {
                post(CampaignEvent::Kind::Lost, 0, {}, "etcd unreachable for longer than the lease");
                abandon_lease();
                return;
            }
            wait_until(std::min(now_usec() + kRetryUsec, surely_gone + 1));
        }
    }
}

Campaign::Line Campaign::read_line()
{
    RangeReply reply = etcd_.range_prefix(options_.prefix);
    Line line;
    line.revision = reply.revision;
    for (KeyValue& kv : reply.kvs) {
        if (kv.key == record_key_)
            line.record = std::move(kv);
        else
            line.keys.push_back(std::move(kv));
    }
    return line;
}

// Leading: until the next renewal is due, wait; while a handover waits for
// the followers to make way, watch for their keys to go instead.
void Campaign::lead(const Line& line, std::uint64_t due)
{
    start_handover(line);
    advance_handover(line);
    if (!handover_) {
        wait_until(due);
        return;
    }
    const std::uint64_t until = std::min(due, handover_->deadline_usec);
    const std::uint64_t now = now_usec();
    if (now < until)
        etcd_.watch_prefix(options_.prefix, line.revision + 1, ms_until(now, until), stop_,
                           [](const WatchEvent& e) { return e.deleted; });
}

// Following: until the next renewal is due, watch for the key ahead of ours
// to go, or for a handover record that may ask us to make way.
void Campaign::follow(const Line& line, Keys::const_iterator mine, std::uint64_t due)
{
    const std::uint64_t now = now_usec();
    if (now >= due)
        return;
    const std::string& ahead = std::prev(mine)->key;
    etcd_.watch_prefix(options_.prefix, line.revision + 1, ms_until(now, due), stop_, [&](const WatchEvent& e) {
        return e.deleted ? e.key == ahead : e.key == record_key_;
    });
}

// The leader's record names a key behind ours: we stand between it and the
// lead, so we go to the back of the line. Only the current leader's record
// counts (it shares the leader's lease).
bool Campaign::makes_way(const Line& line, Keys::const_iterator mine) const
{
    if (!line.record || line.record->lease != line.keys.front().lease)
        return false;
    const std::string target = record_target(line.record->value);
    return std::any_of(std::next(mine), line.keys.cend(), [&](const KeyValue& kv) { return kv.key == target; });
}

// A handover asked for: find its host among our followers and record its
// key for them to see.
void Campaign::start_handover(const Line& line)
{
    std::optional<std::string> host;
    {
        std::lock_guard lock(mutex_);
        host.swap(requested_);
    }
    if (!host)
        return;
    if (handover_) {
        post(CampaignEvent::Kind::HandoverRefused, 0, {}, "a handover to " + handover_->host + " is under way");
        return;
    }
    auto target = std::find_if(std::next(line.keys.begin()), line.keys.end(),
                               [&](const KeyValue& kv) { return member_host(kv.value) == *host; });
    if (target == line.keys.end()) {
        post(CampaignEvent::Kind::HandoverRefused, 0, {},
             "no host named '" + *host + "' is in line behind this one; in line: " +
                 describe_keys(std::next(line.keys.begin()), line.keys.end()));
        return;
    }
    handover_ = Handover{*host, target->key, now_usec() + kMakeWayUsec};
    etcd_.put(record_key_, record_value(target->key), lease_);
}

void Campaign::advance_handover(const Line& line)
{
    if (!handover_)
        return;
    auto target = find_key(line.keys, handover_->target);
    std::string failure;
    if (target == line.keys.end()) {
        failure = handover_->host + " left the line";
    } else if (target == std::next(line.keys.begin())) {
        post(CampaignEvent::Kind::HandoverReady, 0, target->value);
        handover_.reset();
        return;
    } else if (now_usec() >= handover_->deadline_usec) {
        failure = handover_->host + " did not get next in line within " +
                  format_duration(std::chrono::microseconds(kMakeWayUsec)) +
                  "; still ahead of it: " + describe_keys(std::next(line.keys.begin()), target);
    } else {
        return;
    }
    refuse_handover(failure);
    etcd_.remove(record_key_); // the followers still ahead of it need not move any more
}

// Answers a handover asked for or under way, if any, with a refusal.
void Campaign::refuse_handover(const std::string& why)
{
    std::optional<std::string> host;
    {
        std::lock_guard lock(mutex_);
        host.swap(requested_);
    }
    if (!host && !handover_)
        return;
    handover_.reset();
    post(CampaignEvent::Kind::HandoverRefused, 0, {}, why);
}

// We stop renewing our lease without a word to etcd (it did not answer).
// It may live on there: etcd extends every lease when it elects a new
// leader, so after a lost quorum our key would hold its place in line for
// another TTL. One we never led under ran no gateway, so it is ended as
// soon as etcd answers again; one we led under is left to lapse, because
// only the lapse proves our gateway stopped.
void Campaign::abandon_lease()
{
    if (lease_ && !led_)
        abandoned_ = lease_;
    lease_ = 0;
}

void Campaign::revoke_abandoned()
{
    if (!abandoned_)
        return;
    try {
        etcd_.revoke(abandoned_);
    } catch (const EtcdUnreachable&) {
        throw; // tried again before the next grant
    } catch (const Error&) {
        // Gone already, or refused: it lapses after its TTL.
    }
    abandoned_ = 0;
}

void Campaign::give_up_lease(const std::string& why)
{
    etcd_.revoke(lease_);
    lease_ = 0;
    post(CampaignEvent::Kind::Resigned, 0, {}, why);
}

} // namespace hgw::fleet
