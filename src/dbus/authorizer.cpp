#include "dbus/authorizer.h"

#include "dbus/bus_errors.h"
#include "dbus/types.h"

#include <sdbus-c++/Error.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace hgw::bus {

namespace {

// sysconf's suggestion for the getpw*_r/getgr*_r buffers, or a safe default.
std::size_t initial_buffer_size(int name)
{
    long n = ::sysconf(name);
    return n > 0 ? static_cast<std::size_t>(n) : 16384;
}

std::optional<std::string> group_name(gid_t gid)
{
    std::vector<char> buf(initial_buffer_size(_SC_GETGR_R_SIZE_MAX));
    for (;;) {
        group grp {};
        group* found = nullptr;
        int rc = ::getgrgid_r(gid, &grp, buf.data(), buf.size(), &found);
        if (rc == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0 || found == nullptr)
            return std::nullopt;
        return std::string(found->gr_name);
    }
}

// The passwd entry's name and primary group, if the uid has one.
std::optional<std::pair<std::string, gid_t>> passwd_entry(uid_t uid)
{
    std::vector<char> buf(initial_buffer_size(_SC_GETPW_R_SIZE_MAX));
    for (;;) {
        passwd pw {};
        passwd* found = nullptr;
        int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
        if (rc == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0 || found == nullptr)
            return std::nullopt;
        return std::make_pair(std::string(found->pw_name), found->pw_gid);
    }
}

// "a", "a and b", "a, b and c".
std::string join_and(const std::vector<std::string>& parts)
{
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0)
            out += (i + 1 == parts.size()) ? " and " : ", ";
        out += parts[i];
    }
    return out;
}

} // namespace

AccessPolicy make_access_policy(std::optional<gid_t> allowed_group, uid_t daemon_uid)
{
    AccessPolicy p;
    p.daemon_uid = daemon_uid;
    p.allowed_group = allowed_group;
    if (allowed_group) {
        auto name = group_name(*allowed_group);
        p.group_label = name ? *name + " (gid " + std::to_string(*allowed_group) + ")"
                             : std::to_string(*allowed_group);
    }
    return p;
}

bool may_change(const AccessPolicy& policy, const Caller& caller)
{
    if (caller.uid == 0 || caller.uid == policy.daemon_uid)
        return true;
    if (!policy.allowed_group)
        return false;
    return std::find(caller.groups.begin(), caller.groups.end(), *policy.allowed_group) != caller.groups.end();
}

std::string denial_message(const AccessPolicy& policy, uid_t uid, std::string_view method)
{
    std::vector<std::string> who = {"root"};
    if (policy.daemon_uid != 0)
        who.push_back("uid " + std::to_string(policy.daemon_uid));
    if (policy.allowed_group)
        who.push_back("group " + (policy.group_label.empty() ? std::to_string(*policy.allowed_group)
                                                             : policy.group_label));
    return "uid " + std::to_string(uid) + " may not call " + std::string(method) + ": only " + join_and(who) +
           " may change the gateway";
}

std::vector<gid_t> groups_of_user(uid_t uid)
{
    auto entry = passwd_entry(uid);
    if (!entry)
        return {};
    const auto& [name, primary] = *entry;
    std::vector<gid_t> groups(32);
    for (;;) {
        int n = static_cast<int>(groups.size());
        if (::getgrouplist(name.c_str(), primary, groups.data(), &n) >= 0) {
            groups.resize(static_cast<std::size_t>(n));
            return groups;
        }
        // Too small: n now holds the size needed.
        groups.resize(static_cast<std::size_t>(std::max(n, static_cast<int>(groups.size()) * 2)));
    }
}

Authorizer::Authorizer(sdbus::IConnection& connection, AccessPolicy policy)
    : policy_(std::move(policy))
    , bus_daemon_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus"))
{
}

Caller Authorizer::identify(const std::string& sender) const
{
    VariantMap creds;
    bus_daemon_->callMethod("GetConnectionCredentials")
        .onInterface("org.freedesktop.DBus")
        .withArguments(sender)
        .storeResultsTo(creds);

    auto uid = creds.find("UnixUserID");
    if (uid == creds.end() || !uid->second.containsValueOfType<std::uint32_t>())
        throw sdbus::Error(HGW_BUS_ERROR_ACCESS_DENIED, "the bus does not know the uid of " + sender);
    Caller caller;
    caller.uid = uid->second.get<std::uint32_t>();

    // dbus-daemon and dbus-broker report the groups the caller had when it
    // connected; an older bus may not, then the user database decides.
    auto gids = creds.find("UnixGroupIDs");
    if (gids != creds.end() && gids->second.containsValueOfType<std::vector<std::uint32_t>>()) {
        for (std::uint32_t g : gids->second.get<std::vector<std::uint32_t>>())
            caller.groups.push_back(g);
    } else {
        caller.groups = groups_of_user(caller.uid);
    }
    return caller;
}

void Authorizer::require(const sdbus::Message& call, std::string_view method) const
{
    Caller caller;
    try {
        caller = identify(call.getSender());
    } catch (const sdbus::Error& e) {
        throw sdbus::Error(HGW_BUS_ERROR_ACCESS_DENIED,
                           "cannot identify the caller of " + std::string(method) + ": " + e.getMessage());
    }
    if (!may_change(policy_, caller))
        throw sdbus::Error(HGW_BUS_ERROR_ACCESS_DENIED, denial_message(policy_, caller.uid, method));
}

} // namespace hgw::bus
