#include "cli/bus/gateway_client.h"

#include "cli/output.h"
#include "util/bus_names.h"

#include <poll.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace hgw::cli {

namespace {

constexpr const char* kDriverName = "org.freedesktop.DBus";
constexpr const char* kDriverPath = "/org/freedesktop/DBus";
constexpr const char* kPropertiesInterface = "org.freedesktop.DBus.Properties";

std::int64_t realtime_usec()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

std::string errno_text(int r)
{
    return std::strerror(r < 0 ? -r : r);
}

// sd-bus reports failures as -errno; these are bugs or exhausted resources.
void check(int r, const char* what)
{
    if (r < 0)
        throw std::runtime_error(std::string(what) + ": " + errno_text(r));
}

BusCallError call_error(const sd_bus_error& e, int r)
{
    if (sd_bus_error_is_set(&e))
        return {e.name, e.message ? e.message : ""};
    return {"org.freedesktop.DBus.Error.Failed", errno_text(r)};
}

// The error an answer carries, if it is one.
std::optional<BusCallError> error_of(sd_bus_message* m)
{
    if (!sd_bus_message_is_method_error(m, nullptr))
        return std::nullopt;
    const sd_bus_error* e = sd_bus_message_get_error(m);
    return call_error(*e, -EIO);
}

BusPtr open_bus(const BusTarget& target)
{
    sd_bus* raw = nullptr;
    int r = 0;
    switch (target.kind) {
    case BusKind::System: r = sd_bus_open_system(&raw); break;
    case BusKind::User: r = sd_bus_open_user(&raw); break;
    case BusKind::Address:
        r = sd_bus_new(&raw);
        if (r >= 0) {
            BusPtr bus(raw);
            if ((r = sd_bus_set_address(raw, target.address.c_str())) >= 0 &&
                (r = sd_bus_set_bus_client(raw, 1)) >= 0 && (r = sd_bus_start(raw)) >= 0)
                return bus;
            raw = nullptr; // freed with `bus`
        }
        break;
    }
    if (r < 0)
        throw BusUnavailable("cannot connect to " + describe_bus(target) + ": Failed to open bus (" + errno_text(r) + ")");
    return BusPtr(raw);
}

// Runs a handler from sd-bus: an exception must not unwind into C.
template <typename F>
int from_sd_bus(const char* what, F body) noexcept
{
    try {
        body();
    } catch (const std::exception& e) {
        print_error("hermes-gatewayctl: while handling " + std::string(what) + ": " + e.what() + "\n");
    } catch (...) {
        print_error("hermes-gatewayctl: while handling " + std::string(what) + ": unknown error\n");
    }
    return 0; // other handlers may want the message too
}

std::uint64_t monotonic_usec()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

} // namespace

void throw_if_error(sd_bus_message* answer)
{
    if (auto e = error_of(answer))
        throw *e;
}

GatewayClient::GatewayClient(const BusTarget& target) : target_(target), bus_(open_bus(target)) {}

void GatewayClient::subscribe(EventHandler on_event)
{
    on_event_ = std::move(on_event);
    sd_bus* bus = bus_.get();
    const char* name = target_.bus_name.c_str();
    // Floating slots (nullptr): they live as long as the bus, which we own.
    check(sd_bus_match_signal_async(bus, nullptr, name, HGW_BUS_PATH, HGW_BUS_INTERFACE, nullptr,
                                    on_manager_signal, on_match_installed, this),
          "subscribe to the daemon's signals");
    check(sd_bus_match_signal_async(bus, nullptr, name, HGW_BUS_PATH, kPropertiesInterface, "PropertiesChanged",
                                    on_properties_changed, on_match_installed, this),
          "subscribe to the daemon's properties");
    const std::string rule = "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" +
                             target_.bus_name + "'";
    check(sd_bus_add_match_async(bus, nullptr, rule.c_str(), on_name_owner_changed, on_match_installed, this),
          "subscribe to the daemon's name");
    check(sd_bus_call_method_async(bus, nullptr, kDriverName, kDriverPath, kDriverName, "GetNameOwner",
                                   on_owner_reply, this, "s", name),
          "ask for the daemon's name");
    unanswered_ = 4;
}

void GatewayClient::settle(std::chrono::microseconds timeout)
{
    const Clock::time_point deadline = Clock::now() + timeout;
    if (run_until([this] { return unanswered_ == 0; }, deadline) != WaitEnd::Done)
        throw BusCallError("org.freedesktop.DBus.Error.NoReply", "the bus did not answer our subscriptions");
    if (refused_)
        throw *refused_;
}

MessagePtr GatewayClient::new_call(const char* member)
{
    sd_bus_message* raw = nullptr;
    check(sd_bus_message_new_method_call(bus_.get(), &raw, target_.bus_name.c_str(), HGW_BUS_PATH,
                                         HGW_BUS_INTERFACE, member),
          "make a method call");
    MessagePtr m(raw);
    // A daemon that does not run is not started by D-Bus activation: no
    // command, a status read least of all, brings back a gateway that an
    // admin stopped.
    check(sd_bus_message_set_auto_start(m.get(), 0), "sd_bus_message_set_auto_start");
    return m;
}

Json GatewayClient::get_status(std::chrono::microseconds timeout)
{
    MessagePtr call = new_call(HGW_BUS_METHOD_GET_STATUS);
    BusErrorHolder error;
    sd_bus_message* raw = nullptr;
    int r = sd_bus_call(bus_.get(), call.get(), static_cast<std::uint64_t>(timeout.count()), error.get(), &raw);
    MessagePtr reply(raw);
    if (r < 0)
        throw call_error(*error, r);
    return read_dict(reply.get());
}

std::unique_ptr<PendingReply> GatewayClient::call_async(const char* method, const CallOptions& options,
                                                         std::chrono::microseconds timeout)
{
    MessagePtr call = new_call(method);
    sd_bus_message* m = call.get();
    // In key order, as the client always sent them.
    check(sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}"), "build the options");
    if (options.if_generation)
        check(sd_bus_message_append(m, "{sv}", "if_generation", "t", *options.if_generation), "build the options");
    if (!options.reason.empty())
        check(sd_bus_message_append(m, "{sv}", "reason", "s", options.reason.c_str()), "build the options");
    if (options.timeout_usec)
        check(sd_bus_message_append(m, "{sv}", "timeout_usec", "t", *options.timeout_usec), "build the options");
    if (!options.to.empty())
        check(sd_bus_message_append(m, "{sv}", HGW_BUS_OPTION_HANDOVER_TO, "s", options.to.c_str()), "build the options");
    check(sd_bus_message_close_container(m), "build the options");

    auto pending = std::make_unique<PendingReply>();
    sd_bus_slot* slot = nullptr;
    auto on_reply = [](sd_bus_message* reply, void* userdata, sd_bus_error*) -> int {
        static_cast<PendingReply*>(userdata)->reply.reset(sd_bus_message_ref(reply));
        return 0;
    };
    check(sd_bus_call_async(bus_.get(), &slot, m, on_reply, pending.get(), static_cast<std::uint64_t>(timeout.count())),
          "send the call");
    pending->slot.reset(slot);
    return pending;
}

WaitEnd GatewayClient::run_until(const std::function<bool()>& done, std::optional<Clock::time_point> deadline,
                                 int other_fd)
{
    sd_bus* bus = bus_.get();
    for (;;) {
        if (done())
            return WaitEnd::Done;
        int r = sd_bus_process(bus, nullptr);
        if (r < 0) {
            // sd-bus answered every pending call with an error first.
            if (done())
                return WaitEnd::Done;
            throw std::runtime_error("lost the connection to " + describe_bus(target_) + ": " + errno_text(r));
        }
        if (r > 0)
            continue; // there may be more queued

        // Nothing queued: wait for the bus, its own timeouts (a call's),
        // the other fd, or our deadline.
        std::uint64_t until = UINT64_MAX;
        check(sd_bus_get_timeout(bus, &until), "sd_bus_get_timeout");
        const std::uint64_t now = monotonic_usec();
        if (deadline) {
            auto left = std::chrono::duration_cast<std::chrono::microseconds>(*deadline - Clock::now()).count();
            if (left <= 0)
                return WaitEnd::Deadline;
            until = std::min(until, now + static_cast<std::uint64_t>(left));
        }
        timespec wait{};
        timespec* wait_ptr = nullptr;
        if (until != UINT64_MAX) {
            std::uint64_t left = until > now ? until - now : 0;
            wait.tv_sec = static_cast<time_t>(left / 1'000'000);
            wait.tv_nsec = static_cast<long>(left % 1'000'000 * 1000);
            wait_ptr = &wait;
        }
        int events = sd_bus_get_events(bus);
        check(events, "sd_bus_get_events");
        pollfd fds[2] = {{sd_bus_get_fd(bus), static_cast<short>(events), 0}, {other_fd, POLLIN, 0}};
        int n = ppoll(fds, other_fd >= 0 ? 2 : 1, wait_ptr, nullptr);
        if (n < 0 && errno != EINTR)
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        if (n > 0 && other_fd >= 0 && (fds[1].revents & POLLIN))
            return WaitEnd::OtherFd;
    }
}

// ---- handlers, called by sd_bus_process on this thread

int GatewayClient::on_match_installed(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* self = static_cast<GatewayClient*>(userdata);
    --self->unanswered_;
    if (auto e = error_of(m); e && !self->refused_)
        self->refused_ = *e;
    return 0;
}

int GatewayClient::on_owner_reply(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* self = static_cast<GatewayClient*>(userdata);
    return from_sd_bus("GetNameOwner", [&] {
        --self->unanswered_;
        if (auto e = error_of(m)) {
            if (e->name() != "org.freedesktop.DBus.Error.NameHasNoOwner" && !self->refused_)
                self->refused_ = *e;
            self->owner_.clear();
            return;
        }
        const char* owner = nullptr;
        if (sd_bus_message_read(m, "s", &owner) >= 0)
            self->owner_ = owner;
    });
}

int GatewayClient::on_manager_signal(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* self = static_cast<GatewayClient*>(userdata);
    const std::string member = sd_bus_message_get_member(m) ? sd_bus_message_get_member(m) : "";
    return from_sd_bus(member.c_str(), [&] {
        const char *s1 = nullptr, *s2 = nullptr, *s3 = nullptr;
        std::uint32_t u1 = 0, u2 = 0;
        std::uint64_t t = 0;
        std::int32_t i = 0;
        Json args;
        // A signal whose arguments do not match the interface is not ours to print.
        if (member == HGW_BUS_SIGNAL_STATE_CHANGED) {
            if (sd_bus_message_read(m, "sss", &s1, &s2, &s3) < 0)
                return;
            args = {{"old_state", s1}, {"new_state", s2}, {"reason", s3}};
        } else if (member == HGW_BUS_SIGNAL_REPLACED) {
            if (sd_bus_message_read(m, "uuts", &u1, &u2, &t, &s1) < 0)
                return;
            args = {{"old_pid", u1}, {"new_pid", u2}, {"generation", t}, {"reason", s1}};
        } else if (member == HGW_BUS_SIGNAL_GATEWAY_EXITED) {
            if (sd_bus_message_read(m, "usi", &u1, &s1, &i) < 0)
                return;
            args = {{"pid", u1}, {"code", s1}, {"status", i}};
        } else if (member == HGW_BUS_SIGNAL_PID_FILE_REPAIRED) {
            if (sd_bus_message_read(m, "su", &s1, &u1) < 0)
                return;
            args = {{"verdict", s1}, {"stale_pid", u1}};
        } else {
            return;
        }
        self->deliver(BusEvent{realtime_usec(), member, std::move(args)}, sd_bus_message_get_sender(m));
    });
}

int GatewayClient::on_properties_changed(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* self = static_cast<GatewayClient*>(userdata);
    return from_sd_bus("PropertiesChanged", [&] {
        const char* interface = nullptr;
        if (sd_bus_message_read(m, "s", &interface) < 0 || std::strcmp(interface, HGW_BUS_INTERFACE) != 0)
            return;
        Json changed = read_dict(m);
        Json invalidated = read_string_array(m);
        self->deliver(BusEvent{realtime_usec(), "PropertiesChanged",
                               {{"changed", std::move(changed)}, {"invalidated", std::move(invalidated)}}},
                      sd_bus_message_get_sender(m));
    });
}

int GatewayClient::on_name_owner_changed(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* self = static_cast<GatewayClient*>(userdata);
    return from_sd_bus("NameOwnerChanged", [&] {
        const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || self->target_.bus_name != name)
            return; // malformed, or not about our name
        self->owner_ = new_owner;
        BusEvent event{realtime_usec(), *new_owner ? "DaemonAppeared" : "DaemonVanished", {}};
        event.args["owner"] = *new_owner ? new_owner : old_owner;
        self->deliver(std::move(event), nullptr);
    });
}

void GatewayClient::deliver(BusEvent event, const char* sender)
{
    // Another daemon (another profile) serves the same path and interface
    // under another name: drop what does not come from our name's owner.
    if (sender && owner_ != sender)
        return;
    if (on_event_)
        on_event_(event);
}

} // namespace hgw::cli
