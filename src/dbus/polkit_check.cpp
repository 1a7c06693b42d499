#include "dbus/polkit_check.h"

#include "daemon/log.h"
#include "util/duration.h"

#include <sdbus-c++/Error.h>
#include <systemd/sd-bus-protocol.h>

#include <unistd.h>

#include <exception>
#include <tuple>
#include <utility>

namespace hgw::bus::polkit {

namespace {

// polkit's names (polkit's D-Bus API, not ours).
constexpr const char* kService = "org.freedesktop.PolicyKit1";
constexpr const char* kPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr const char* kInterface = "org.freedesktop.PolicyKit1.Authority";
constexpr std::uint32_t kAllowUserInteraction = 1;

using Reply = sdbus::Struct<bool, bool, Details>;

} // namespace

Subject subject_for(const std::string& sender)
{
    return Subject(std::make_tuple(std::string("system-bus-name"),
                                   std::map<std::string, sdbus::Variant>{{"name", sdbus::Variant(sender)}}));
}

std::uint32_t flags_for(const Request& request)
{
    return request.allow_interaction ? kAllowUserInteraction : 0;
}

std::chrono::microseconds timeout_for(const Request& request)
{
    return request.allow_interaction ? std::chrono::microseconds(kInteractiveCheckTimeout)
                                     : std::chrono::microseconds(kCheckTimeout);
}

Answer interpret_reply(bool is_authorized, bool is_challenge, const Details& details)
{
    Answer a;
    if (is_authorized) {
        a.verdict = Verdict::Authorized;
    } else if (is_challenge) {
        a.verdict = Verdict::Challenge;
    } else {
        a.verdict = Verdict::NotAuthorized;
        auto d = details.find("polkit.dismissed");
        a.dismissed = d != details.end() && d->second == "true";
    }
    return a;
}

Answer interpret_error(const std::string& name, const std::string& message, std::chrono::microseconds timeout)
{
    Answer a;
    if (name == SD_BUS_ERROR_SERVICE_UNKNOWN) {
        a.verdict = Verdict::Absent;
        return a;
    }
    a.verdict = Verdict::Failed;
    // Messages end a sentence ("Unit polkit.service is masked."); ours go on.
    std::string text = message;
    while (!text.empty() && (text.back() == '.' || text.back() == ' '))
        text.pop_back();
    if (name == SD_BUS_ERROR_NO_REPLY)
        a.error = "no answer from polkit within " + format_duration(timeout) + " (" + name + ": " + text + ")";
    else
        a.error = name + ": " + text;
    return a;
}

Checker::Checker(sdbus::IConnection& connection)
    : authority_(sdbus::createProxy(connection, kService, kPath))
{
}

void Checker::check(const Request& request, Done done)
{
    // Unique among this connection's checks, as polkit requires; it lets a
    // check that timed out be cancelled (an agent's dialog then closes).
    std::string cancellation_id = "hermes-gatewayd-" + std::to_string(::getpid()) + "-" + std::to_string(++next_id_);
    const std::chrono::microseconds timeout = timeout_for(request);
    authority_->callMethodAsync("CheckAuthorization")
        .onInterface(kInterface)
        .withTimeout(timeout)
        .withArguments(subject_for(request.sender), request.action_id, request.details, flags_for(request),
                       cancellation_id)
        .uponReplyInvoke([this, done = std::move(done), cancellation_id, timeout](const sdbus::Error* error,
                                                                                  const Reply& reply) {
            // Runs from the bus's dispatch: nothing may escape into sdbus-c++.
            try {
                if (error != nullptr) {
                    Answer a = interpret_error(error->getName(), error->getMessage(), timeout);
                    if (error->getName() == SD_BUS_ERROR_NO_REPLY)
                        cancel(cancellation_id);
                    done(a);
                    return;
                }
                done(interpret_reply(std::get<0>(reply), std::get<1>(reply), std::get<2>(reply)));
            } catch (const std::exception& e) {
                daemon::log::warning(std::string("polkit: cannot handle the answer: ") + e.what());
            } catch (...) {
                daemon::log::warning("polkit: cannot handle the answer");
            }
        });
}

void Checker::cancel(const std::string& cancellation_id) noexcept
{
    try {
        auto call = authority_->createMethodCall(kInterface, "CancelCheckAuthorization");
        call << cancellation_id;
        call.dontExpectReply();
        authority_->callMethod(call);
    } catch (const std::exception& e) {
        daemon::log::debug(std::string("polkit: cannot cancel a check: ") + e.what());
    }
}

} // namespace hgw::bus::polkit
