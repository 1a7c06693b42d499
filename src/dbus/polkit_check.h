#pragma once
// One conversation with polkit: CheckAuthorization for the sender of a call,
// asynchronously, on the daemon's own bus connection.
//
// The subject is the caller's unique bus name ("system-bus-name"), never a
// pid or uid we looked up: polkit resolves the name's identity and session
// itself, from the bus daemon, so a caller that exits and whose pid is
// reused cannot be mistaken for another process.
//
// Whether polkit is there at all is the bus's answer to the call itself:
// ServiceUnknown means that nobody owns org.freedesktop.PolicyKit1 and no
// activation file names it (a private or session bus, or a system without
// polkitd), so the daemon's own rule decides; a polkit that is installed
// but fails (cannot be activated, errs, does not answer in time) is a
// failure, and the caller is denied.

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace hgw::bus::polkit {

using Details = std::map<std::string, std::string>;
// (sa{sv}): the subject's kind and its properties.
using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;

struct Request {
    std::string sender;    // the caller's unique bus name
    std::string action_id; // HGW_POLKIT_ACTION_*
    Details details;       // for rules (action.lookup) and agents
    bool allow_interaction = false; // the call allowed interactive authorization
};

enum class Verdict {
    Authorized,
    // polkit wants the caller to authenticate: without interaction allowed,
    // or with it but no authentication agent for the caller.
    Challenge,
    NotAuthorized,
    Absent, // no polkit on this bus: the daemon's own rule decides
    Failed, // polkit is there but did not decide (`error` says why)
};

struct Answer {
    Verdict verdict = Verdict::Failed;
    bool dismissed = false; // NotAuthorized: the user dismissed the agent's dialog
    std::string error;      // Failed: what went wrong
};

// How long polkit may take: a rules verdict comes at once; with
// interaction, a person may be typing a password into an agent.
inline constexpr std::chrono::seconds kCheckTimeout{20};
inline constexpr std::chrono::minutes kInteractiveCheckTimeout{5};

// The pure parts of the conversation, apart for tests.
Subject subject_for(const std::string& sender);
std::uint32_t flags_for(const Request& request); // AllowUserInteraction (1) or 0
std::chrono::microseconds timeout_for(const Request& request);
// The reply (bba{ss}): is_authorized, is_challenge, details.
Answer interpret_reply(bool is_authorized, bool is_challenge, const Details& details);
// An error reply, or sd-bus's own timeout (NoReply).
Answer interpret_error(const std::string& name, const std::string& message, std::chrono::microseconds timeout);

class Checker {
public:
    using Done = std::function<void(const Answer&)>;

    // Talks to polkit over `connection`, which must outlive the Checker and
    // be dispatched on the thread that calls check().
    explicit Checker(sdbus::IConnection& connection);

    // Asks polkit; `done` runs once, later, from the bus's dispatch, unless
    // the Checker is destroyed first (then never). Throws sdbus::Error if
    // the call cannot be sent (a broken connection).
    void check(const Request& request, Done done);

private:
    void cancel(const std::string& cancellation_id) noexcept;

    std::unique_ptr<sdbus::IProxy> authority_;
    std::uint64_t next_id_ = 0;
};

} // namespace hgw::bus::polkit
