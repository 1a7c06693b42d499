#pragma once
// Who may call the methods that change the gateway (Replace, Restart,
// Start, Stop, CleanPidFile): root, the daemon's own uid, and members of the
// configured group. Reads are open to everyone.
//
// The caller's identity comes from the bus daemon (GetConnectionCredentials:
// UnixUserID and UnixGroupIDs), which recorded it from the kernel
// (SO_PEERCRED, SO_PEERGROUPS) when the caller connected. sdbus-c++'s
// Message::getCredsUid() and getCredsSupplementaryGids() are not used: with
// dbus-daemon, sd-bus fills them in from /proc/<pid>/status at the time of
// the call, which names whatever process has that PID by then (the caller
// may have exited and its PID been reused) and fails outright once the
// caller is gone.

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw::bus {

struct AccessPolicy {
    uid_t daemon_uid = 0;
    std::optional<gid_t> allowed_group;
    std::string group_label; // for messages: "hermes (gid 1001)", or "1001" without a name; empty without a group
};

// The identity of the process that sent a call.
struct Caller {
    uid_t uid = 0;
    std::vector<gid_t> groups; // every group it had: primary and supplementary
};

// The policy for this daemon; looks up the group's name for messages.
AccessPolicy make_access_policy(std::optional<gid_t> allowed_group, uid_t daemon_uid);

// The decision itself: root, the daemon's uid, or a member of the allowed group.
bool may_change(const AccessPolicy& policy, const Caller& caller);

// "uid N may not call X: only root, uid M and group G may change the gateway".
std::string denial_message(const AccessPolicy& policy, uid_t uid, std::string_view method);

// A user's groups from the user database (getgrouplist on its passwd entry),
// including its primary group; empty when the uid has no passwd entry. Used
// only when the bus does not report the caller's groups.
std::vector<gid_t> groups_of_user(uid_t uid);

class Authorizer {
public:
    // Asks the bus daemon of `connection` about callers. The connection must
    // outlive the Authorizer.
    Authorizer(sdbus::IConnection& connection, AccessPolicy policy);

    // Throws sdbus::Error(HGW_BUS_ERROR_ACCESS_DENIED) unless the sender of
    // `call` may call `method`. Makes a blocking call to the bus daemon, as
    // sd-bus's own credential look-ups do: call it on the bus's thread,
    // inside the method handler.
    void require(const sdbus::Message& call, std::string_view method) const;

    // The identity of the connection with this unique name. Throws sdbus::Error.
    [[nodiscard]] Caller identify(const std::string& sender) const;

    [[nodiscard]] const AccessPolicy& policy() const { return policy_; }

private:
    AccessPolicy policy_;
    std::unique_ptr<sdbus::IProxy> bus_daemon_;
};

} // namespace hgw::bus
