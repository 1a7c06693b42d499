#pragma once
// Who may call the methods that change the gateway (Replace, Restart,
// Start, Stop: the polkit action HGW_POLKIT_ACTION_MANAGE; CleanPidFile:
// HGW_POLKIT_ACTION_CLEAN_PID_FILE). Reads are open to everyone.
//
//  1. Root and the daemon's own uid are allowed at once, without asking
//     polkit (as systemd allows root): the administrator and the update
//     hook are never locked out, even while polkit fails.
//  2. Anyone else: polkit decides (polkit_check.h), honouring the call's
//     allow-interactive-authorization flag.
//  3. On a bus without polkit (a private or session bus, or no polkitd
//     installed): the daemon's own rule (access_policy.h), i.e. members of
//     the allowed group.
// A polkit that is there but does not decide denies (fails closed).
//
// The caller's identity comes from the bus daemon (GetConnectionCredentials:
// UnixUserID and UnixGroupIDs), which recorded it from the kernel
// (SO_PEERCRED, SO_PEERGROUPS) when the caller connected. sdbus-c++'s
// Message::getCredsUid() and getCredsSupplementaryGids() are not used: with
// dbus-daemon, sd-bus fills them in from /proc/<pid>/status at the time of
// the call, which names whatever process has that PID by then (the caller
// may have exited and its PID been reused) and fails outright once the
// caller is gone. polkit is told the caller's bus name, for the same reason.

#include "dbus/access_policy.h"
#include "dbus/polkit_check.h"

#include <sdbus-c++/Error.h>
#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hgw::bus {

enum class Action { Manage, CleanPidFile };

// HGW_POLKIT_ACTION_*.
const char* action_id(Action action);

// What authorization needs to know of a call; read while its handler runs.
struct CallInfo {
    std::string sender;             // unique bus name
    bool allow_interaction = false; // the ALLOW_INTERACTIVE_AUTHORIZATION header flag
};
CallInfo call_info(const sdbus::Message& call);

// What polkit's answer means for `caller`: nothing (allowed), or the error
// to answer the call with. Names the method and, when polkit decided, the
// action.
std::optional<sdbus::Error> decide(const AccessPolicy& policy, const Caller& caller, std::string_view method,
                                   std::string_view action, bool allow_interaction, const polkit::Answer& answer);

class Authorizer {
public:
    // nullopt: allowed; else the error to answer the call with.
    using Decided = std::function<void(const std::optional<sdbus::Error>& denial)>;

    // Asks the bus daemon of `connection` about callers, and polkit on that
    // bus. The connection must outlive the Authorizer. `bus_name` (ours)
    // is passed to polkit as the detail "bus_name", the allowed group's
    // name as "allowed_group".
    Authorizer(sdbus::IConnection& connection, AccessPolicy policy, std::string bus_name);

    // Decides whether the sender of `call` may call `method`, which needs
    // `action`, and tells `decided` exactly once: at once (root, our uid,
    // an unknown caller) or later from the bus's dispatch (polkit's
    // answer); never if the Authorizer is destroyed before polkit answers.
    // Call it on the bus's thread, inside the method handler. `decided`
    // must not throw.
    void authorize(const sdbus::Message& call, std::string_view method, Action action, Decided decided);

    // The identity of the connection with this unique name. Throws sdbus::Error.
    // A blocking call to the bus daemon, as sd-bus's own credential look-ups.
    [[nodiscard]] Caller identify(const std::string& sender) const;

    [[nodiscard]] const AccessPolicy& policy() const { return policy_; }

private:
    // Hands the decision to polkit. Throws sdbus::Error if it cannot be asked.
    void ask_polkit(const CallInfo& info, const Caller& caller, std::string_view method, Action action,
                    Decided decided);

    AccessPolicy policy_;
    std::string bus_name_;
    std::unique_ptr<sdbus::IProxy> bus_daemon_;
    polkit::Checker polkit_;
};

} // namespace hgw::bus
