#pragma once
// The fake Telegram Bot API (tests/stub/bot_api.py) run for one test: the
// stub gateways long-poll it (hermes --bot-api URL --bot-token T), and it
// records every moment two polls of one token were in flight at once, the
// detector of "two gateways". Its logs go in a directory of its own, removed
// with it; the server is ended by its pidfd and dies with the test.

#include "support/child_process.h"
#include "support/temp_home.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hgw::test {

class BotApi {
public:
    // Listens on `bind` (default: every address, so the namespaces' links
    // reach it) on a port the kernel picks; returns once it listens.
    explicit BotApi(const std::string& bind = "0.0.0.0", const std::filesystem::path& parent = {});
    ~BotApi();
    BotApi(const BotApi&) = delete;
    BotApi& operator=(const BotApi&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    // http://ADDRESS:PORT: a stub gateway's --bot-api (HERMES_STUB_BOT_API);
    // from a host, ADDRESS is its NetnsHost::root_address(Link::internet).
    [[nodiscard]] std::string url(const std::string& address = "127.0.0.1") const;

    // GET /stats: {"in_flight": {token: [poller]}, "polls", "overlaps", "by_poller": {poller: polls}}.
    [[nodiscard]] nlohmann::json stats() const;
    // Every overlap so far, one JSON object each: {"event":"overlap", "token",
    // "mono", "wall", "poller", "peer", "others": [{"poller","peer","since_mono"}]}.
    [[nodiscard]] std::vector<nlohmann::json> overlaps() const;
    // Every poll begun, refused (409) or ended: {"event": "begin"|"conflict"|"end",
    // "token", "mono", "wall", "poller", "peer"[, "how"]}.
    [[nodiscard]] std::vector<nlohmann::json> polls() const;
    // The first poll begun at or after `since` (CLOCK_MONOTONIC seconds, the
    // polls' "mono") by a poller that `which` accepts.
    struct PollBegin {
        std::string poller;
        double mono = 0;
    };
    [[nodiscard]] std::optional<PollBegin> first_begin(double since,
                                                       const std::function<bool(const std::string&)>& which) const;
    [[nodiscard]] std::filesystem::path overlap_log() const { return dir_.dir() / "overlaps.jsonl"; }
    [[nodiscard]] std::filesystem::path poll_log() const { return dir_.dir() / "polls.jsonl"; }

    // Wait for the server's event datagrams (no polling), counted from its
    // start: `count` overlaps in all; `count` polls (arrived, refused ones
    // included) by pollers whose name starts with `poller_prefix` ("host/"
    // or "host/pid"); the end of a poll by one. False on timeout.
    [[nodiscard]] bool wait_overlaps(std::size_t count, std::chrono::milliseconds timeout = kTimeout);
    [[nodiscard]] bool wait_polls(const std::string& poller_prefix, std::size_t count = 1,
                                  std::chrono::milliseconds timeout = kTimeout);
    [[nodiscard]] bool wait_poll_end(const std::string& poller_prefix, std::chrono::milliseconds timeout = kTimeout);

    // The server's own output (errors), for a failure message.
    [[nodiscard]] std::string output() const;

private:
    [[nodiscard]] bool wait_events(const std::string& kind, const std::string& poller_prefix, std::size_t count,
                                   std::chrono::milliseconds timeout);

    std::string bind_;
    TempHome dir_;
    std::unique_ptr<NotifyListener> events_;
    std::optional<Child> server_;
    std::uint16_t port_ = 0;
};

} // namespace hgw::test
