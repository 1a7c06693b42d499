#pragma once
// The signal recorder of the tests: every signal the daemon sends, recorded
// in order by a connection of its own with its own bus thread. The match
// rules name no sender: each test has a bus of its own, and a daemon started
// later (or again) is heard too. They are installed (synchronously) before
// the constructor returns, so whatever the daemon does afterwards is recorded.

#include "support/child_process.h"
#include "support/private_bus.h"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hgw::test {

// One signal: its member, its arguments as text, and the same typed.
struct BusEvent {
    std::string member;
    // Every argument as text, in order (PropertiesChanged: the interface
    // only; its values are in `properties`).
    std::vector<std::string> args;
    // StateChanged
    std::string old_state, new_state;
    std::string reason; // StateChanged, Replaced
    // Replaced
    std::uint32_t old_pid = 0, new_pid = 0;
    std::uint64_t generation = 0;
    // GatewayExited
    std::uint32_t pid = 0;
    std::string code;
    std::int32_t status = 0;
    // PidFileRepaired
    std::string verdict;
    std::uint32_t stale_pid = 0;
    // PropertiesChanged of the Manager: the values as text (variant_text),
    // in the order they came; an invalidated one as "<invalidated>"
    std::vector<std::pair<std::string, std::string>> properties;
    // NameOwnerChanged of the default bus name
    std::string new_owner;

    [[nodiscard]] std::optional<std::string> property(const std::string& name) const;
};

class BusWatcher {
public:
    explicit BusWatcher(const PrivateBus& bus);
    ~BusWatcher();
    BusWatcher(const BusWatcher&) = delete;
    BusWatcher& operator=(const BusWatcher&) = delete;

    // The first event after the cursor that `pred` accepts; the cursor moves
    // past it. Nothing if none came within `timeout`.
    std::optional<BusEvent> next(const std::function<bool(const BusEvent&)>& pred,
                                 std::chrono::milliseconds timeout = kTimeout);
    std::optional<BusEvent> next_state(const std::string& state, std::chrono::milliseconds timeout = kTimeout);
    std::optional<BusEvent> next_member(const std::string& member, std::chrono::milliseconds timeout = kTimeout);

    // Waits, cursor or not, until any event recorded so far satisfies
    // `pred`; then every event recorded so far. Nothing on timeout.
    std::optional<std::vector<BusEvent>> wait_any(const std::function<bool(const BusEvent&)>& pred,
                                                  std::chrono::milliseconds timeout = kTimeout);

    // Where the cursor is; events from here on are "new".
    std::size_t mark();
    void skip_all();
    // Everything received from index `from` on, cursor or not.
    std::vector<BusEvent> since(std::size_t from);
    std::vector<BusEvent> all() { return since(0); }
    std::size_t size();

    // The events, one a line, for a failure message.
    static std::string describe(const std::vector<BusEvent>& events);

private:
    void on_message(sdbus::Message& msg);

    std::unique_ptr<sdbus::IConnection> connection_;
    std::vector<sdbus::Slot> slots_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<BusEvent> events_;
    std::size_t cursor_ = 0;
};

} // namespace hgw::test
