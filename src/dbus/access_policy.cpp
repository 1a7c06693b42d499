#include "dbus/access_policy.h"

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
        p.group_name = group_name(*allowed_group);
        p.group_label = p.group_name ? *p.group_name + " (gid " + std::to_string(*allowed_group) + ")"
                                     : std::to_string(*allowed_group);
    }
    return p;
}

bool always_allowed(const AccessPolicy& policy, uid_t uid)
{
    return uid == 0 || uid == policy.daemon_uid;
}

bool may_change(const AccessPolicy& policy, const Caller& caller)
{
    if (always_allowed(policy, caller.uid))
        return true;
    if (!policy.allowed_group)
        return false;
    return std::find(caller.groups.begin(), caller.groups.end(), *policy.allowed_group) != caller.groups.end();
}

std::string who_may_change(const AccessPolicy& policy)
{
    std::vector<std::string> who = {"root"};
    if (policy.daemon_uid != 0)
        who.push_back("uid " + std::to_string(policy.daemon_uid));
    if (policy.allowed_group)
        who.push_back("group " + (policy.group_label.empty() ? std::to_string(*policy.allowed_group)
                                                             : policy.group_label));
    return join_and(who);
}

std::string denial_message(const AccessPolicy& policy, uid_t uid, std::string_view method)
{
    return "uid " + std::to_string(uid) + " may not call " + std::string(method) + ": only " +
           who_may_change(policy) + " may change the gateway";
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

} // namespace hgw::bus
