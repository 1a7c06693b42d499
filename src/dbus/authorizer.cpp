#include "dbus/authorizer.h"

#include "dbus/types.h"
#include "util/bus_names.h"

#include <systemd/sd-bus.h>

#include <exception>
#include <utility>

namespace hgw::bus {

namespace {

// sdbus-c++ 1.2 has no accessor for a message's header flags, and keeps its
// sd_bus_message* in a protected member. A derived class may form a pointer
// to that member ([class.protected]) and read it from any Message.
struct MessageAccess : sdbus::Message {
    static sd_bus_message* raw(const sdbus::Message& m)
    {
        return static_cast<sd_bus_message*>(m.*(&MessageAccess::msg_));
    }
};

std::string caller_label(uid_t uid)
{
    return "uid " + std::to_string(uid);
}

sdbus::Error access_denied(const std::string& message)
{
    return sdbus::Error(HGW_BUS_ERROR_ACCESS_DENIED, message);
}

} // namespace

const char* action_id(Action action)
{
    switch (action) {
    case Action::Manage: return HGW_POLKIT_ACTION_MANAGE;
    case Action::CleanPidFile: return HGW_POLKIT_ACTION_CLEAN_PID_FILE;
    }
    return HGW_POLKIT_ACTION_MANAGE;
}

CallInfo call_info(const sdbus::Message& call)
{
    CallInfo info;
    info.sender = call.getSender();
    sd_bus_message* raw = MessageAccess::raw(call);
    info.allow_interaction = raw != nullptr && sd_bus_message_get_allow_interactive_authorization(raw) > 0;
    return info;
}

std::optional<sdbus::Error> decide(const AccessPolicy& policy, const Caller& caller, std::string_view method,
                                   std::string_view action, bool allow_interaction, const polkit::Answer& answer)
{
    const std::string who = caller_label(caller.uid);
    const std::string call = std::string(method);
    const std::string act = "polkit action " + std::string(action);
    switch (answer.verdict) {
    case polkit::Verdict::Authorized:
        return std::nullopt;
    case polkit::Verdict::Absent:
        if (may_change(policy, caller))
            return std::nullopt;
        return access_denied(denial_message(policy, caller.uid, method));
    case polkit::Verdict::Challenge:
        if (!allow_interaction)
            return sdbus::Error(SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                who + " may not call " + call + " without authenticating for " + act +
                                    "; call again allowing interactive authorization, with an authentication "
                                    "agent running (pkttyagent, or the desktop's)");
        // polkit asks an agent itself when interaction is allowed: a
        // challenge coming back means there is none for this caller.
        return access_denied(who + " may not call " + call + ": " + act +
                             " needs authentication, and no authentication agent is there for the caller "
                             "(start one: pkttyagent, or the desktop's)");
    case polkit::Verdict::NotAuthorized:
        return access_denied(who + " may not call " + call + ": " + act + " is not granted" +
                             (answer.dismissed ? " (the authentication was dismissed)" : ""));
    case polkit::Verdict::Failed:
        break;
    }
    return access_denied(who + " may not call " + call + ": polkit did not decide on action " + std::string(action) +
                         ": " + answer.error +
                         "; while polkit fails, only root and uid " + std::to_string(policy.daemon_uid) +
                         " may change the gateway");
}

Authorizer::Authorizer(sdbus::IConnection& connection, AccessPolicy policy, std::string bus_name)
    : policy_(std::move(policy))
    , bus_name_(std::move(bus_name))
    , bus_daemon_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus"))
    , polkit_(connection)
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

void Authorizer::authorize(const sdbus::Message& call, std::string_view method, Action action, Decided decided)
{
    // Decided here (`now`; nothing: allowed) or handed to polkit. `decided`
    // runs outside the try, so that nothing it does is taken for a failure
    // to decide and answered twice.
    std::optional<sdbus::Error> now;
    try {
        CallInfo info = call_info(call);
        Caller caller;
        try {
            caller = identify(info.sender);
        } catch (const sdbus::Error& e) {
            throw access_denied("cannot identify the caller of " + std::string(method) + ": " + e.getMessage());
        }
        if (!always_allowed(policy_, caller.uid)) {
            // A copy: if polkit cannot be asked, ours answers below.
            ask_polkit(info, caller, method, action, decided);
            return;
        }
    } catch (const sdbus::Error& e) {
        now = e.getName() == HGW_BUS_ERROR_ACCESS_DENIED
                  ? e
                  : access_denied("cannot ask polkit whether " + std::string(method) + " may be called: " +
                                  e.getName() + ": " + e.getMessage());
    } catch (const std::exception& e) {
        now = access_denied("cannot authorize the caller of " + std::string(method) + ": " + e.what());
    }
    decided(now);
}

void Authorizer::ask_polkit(const CallInfo& info, const Caller& caller, std::string_view method, Action action,
                            Decided decided)
{
    polkit::Request request;
    request.sender = info.sender;
    request.action_id = action_id(action);
    request.allow_interaction = info.allow_interaction;
    request.details = {{"bus_name", bus_name_}, {"method", std::string(method)}};
    if (policy_.group_name)
        request.details.emplace("allowed_group", *policy_.group_name);
    polkit_.check(request, [policy = policy_, caller, method = std::string(method), request,
                            decided = std::move(decided)](const polkit::Answer& answer) {
        decided(decide(policy, caller, method, request.action_id, request.allow_interaction, answer));
    });
}

} // namespace hgw::bus
