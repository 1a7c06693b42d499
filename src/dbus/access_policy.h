#pragma once
// The daemon's own rule for the methods that change the gateway (Replace,
// Restart, Start, Stop, CleanPidFile): root, the daemon's own uid, and
// members of the configured group. It decides alone on a bus without polkit
// (a private or session bus); with polkit, root and the daemon's uid are
// still allowed by it without asking (see authorizer.h). Pure: no bus.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw::bus {

struct AccessPolicy {
    uid_t daemon_uid = 0;
    std::optional<gid_t> allowed_group;
    std::optional<std::string> group_name; // the allowed group's name, if it has one
    std::string group_label; // for messages: "hermes (gid 1001)", or "1001" without a name; empty without a group
};

// The identity of the process that sent a call.
struct Caller {
    uid_t uid = 0;
    std::vector<gid_t> groups; // every group it had: primary and supplementary
};

// The policy for this daemon; looks up the group's name for messages.
AccessPolicy make_access_policy(std::optional<gid_t> allowed_group, uid_t daemon_uid);

// Root and the daemon's own uid: allowed whatever polkit says or whether
// it answers, so that the administrator is never locked out.
bool always_allowed(const AccessPolicy& policy, uid_t uid);

// The decision itself: root, the daemon's uid, or a member of the allowed group.
bool may_change(const AccessPolicy& policy, const Caller& caller);

// "root, uid M and group G": who may change the gateway under this rule.
std::string who_may_change(const AccessPolicy& policy);

// "uid N may not call X: only root, uid M and group G may change the gateway".
std::string denial_message(const AccessPolicy& policy, uid_t uid, std::string_view method);

// A user's groups from the user database (getgrouplist on its passwd entry),
// including its primary group; empty when the uid has no passwd entry. Used
// only when the bus does not report the caller's groups.
std::vector<gid_t> groups_of_user(uid_t uid);

} // namespace hgw::bus
