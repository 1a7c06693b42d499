#include "cli/bus_connection.h"

#include "cli/no_auto_start.h"
#include "gateway1_proxy.h"

#include <cctype>
#include <ctime>
#include <future>
#include <iostream>

namespace hgw::cli {

namespace {

std::int64_t realtime_usec()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

std::unique_ptr<sdbus::IConnection> open_bus(const BusTarget& target)
{
    try {
        switch (target.kind) {
        case BusKind::System: return sdbus::createSystemBusConnection();
        case BusKind::User: return sdbus::createSessionBusConnection();
        case BusKind::Address: return sdbus::createSessionBusConnectionWithAddress(target.address);
        }
    } catch (const sdbus::Error& e) {
        throw BusUnavailable("cannot connect to " + describe_bus(target) + ": " + e.getMessage());
    }
    throw BusUnavailable("unknown bus kind");
}

} // namespace


std::string describe_bus(const BusTarget& target)
{
    switch (target.kind) {
    case BusKind::System: return "the system bus";
    case BusKind::User: return "the user bus";
    case BusKind::Address: return "the bus at " + target.address;
    }
    return "the bus";
}

nlohmann::ordered_json variant_to_json(const sdbus::Variant& v)
{
    using Dict = std::map<std::string, sdbus::Variant>;
    const std::string type = v.peekValueType();
    if (type == "s" || type == "o" || type == "g") return v.get<std::string>();
    if (type == "b") return v.get<bool>();
    if (type == "y") return v.get<std::uint8_t>();
    if (type == "n") return v.get<std::int16_t>();
    if (type == "q") return v.get<std::uint16_t>();
    if (type == "i") return v.get<std::int32_t>();
    if (type == "u") return v.get<std::uint32_t>();
    if (type == "x") return v.get<std::int64_t>();
    if (type == "t") return v.get<std::uint64_t>();
    if (type == "d") return v.get<double>();
    if (type == "as") return v.get<std::vector<std::string>>();
    if (type == "(si)") {
        auto s = v.get<sdbus::Struct<std::string, std::int32_t>>();
        return nlohmann::ordered_json::array({std::get<0>(s), std::get<1>(s)});
    }
    if (type == "a{sv}") {
        nlohmann::ordered_json j = nlohmann::ordered_json::object();
        for (const auto& [key, value] : v.get<Dict>())
            j[key] = variant_to_json(value);
        return j;
    }
    if (type == "v") return variant_to_json(v.get<sdbus::Variant>());
    // Not part of the interface today: keep the field, say what it was.
    return "<value of D-Bus type " + type + ">";
}

// The generated proxy, with its signals turned into BusEvents.
class GatewayClient::Proxy final
    : public sdbus::ProxyInterfaces<org::hermes::Gateway1::Manager_proxy, sdbus::Properties_proxy> {
public:
    Proxy(GatewayClient& client, sdbus::IConnection& connection, const std::string& name, bool subscribe)
        : ProxyInterfaces(connection, name, kGatewayObjectPath), client_(client)
    {
        // The handlers are declared by the base classes; registering them
        // adds the match rules, which only a subscriber needs.
        if (subscribe)
            registerProxy();
    }
    ~Proxy() { unregisterProxy(); }
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;

    // Calls a Manager method without D-Bus activation: a daemon that does
    // not run is not started (the bus answers ServiceUnknown), so that no
    // command, a status read least of all, brings back a gateway that an
    // admin stopped.
    template <typename... Args>
    sdbus::MethodReply call(const std::string& method, std::chrono::microseconds timeout, const Args&... args)
    {
        auto call = getProxy().createMethodCall(kGatewayInterface, method);
        forbid_auto_start(call);
        ((call << args), ...);
        return getProxy().callMethod(call, timeout);
    }

private:
    void emit(const char* name, nlohmann::ordered_json args)
    {
        const auto* msg = getProxy().getCurrentlyProcessedMessage();
        client_.deliver(BusEvent{realtime_usec(), name, std::move(args)}, msg ? msg->getSender() : std::string());
    }

    void onStateChanged(const std::string& old_state, const std::string& new_state, const std::string& reason) override
    {
        emit("StateChanged", {{"old_state", old_state}, {"new_state", new_state}, {"reason", reason}});
    }
    void onReplaced(const uint32_t& old_pid, const uint32_t& new_pid, const uint64_t& generation,
                    const std::string& reason) override
    {
        emit("Replaced", {{"old_pid", old_pid}, {"new_pid", new_pid}, {"generation", generation}, {"reason", reason}});
    }
    void onGatewayExited(const uint32_t& pid, const std::string& code, const int32_t& status) override
    {
        emit("GatewayExited", {{"pid", pid}, {"code", code}, {"status", status}});
    }
    void onPidFileRepaired(const std::string& verdict, const uint32_t& stale_pid) override
    {
        emit("PidFileRepaired", {{"verdict", verdict}, {"stale_pid", stale_pid}});
    }
    void onPropertiesChanged(const std::string& interface_name, const std::map<std::string, sdbus::Variant>& changed,
                             const std::vector<std::string>& invalidated) override
    {
        if (interface_name != kGatewayInterface)
            return;
        nlohmann::ordered_json values = nlohmann::ordered_json::object();
        for (const auto& [key, value] : changed)
            values[key] = variant_to_json(value);
        emit("PropertiesChanged", {{"changed", values}, {"invalidated", invalidated}});
    }

    GatewayClient& client_;
};

GatewayClient::GatewayClient(const BusTarget& target, EventHandler on_event)
    : target_(target), on_event_(std::move(on_event)), connection_(open_bus(target))
{
    const bool subscribe = static_cast<bool>(on_event_);
    // Subscribe before reading the owner, so no change falls between the two.
    if (subscribe) {
        std::string rule = "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                           "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" +
                           target_.bus_name + "'";
        owner_match_ = connection_->addMatch(rule, [this](sdbus::Message& msg) { on_name_owner_changed(msg); });
    }
    proxy_ = std::make_unique<Proxy>(*this, *connection_, target_.bus_name, subscribe);
    query_owner();
}

GatewayClient::~GatewayClient()
{
    // Stop the bus thread first: it may be inside one of our handlers.
    if (loop_running_)
        connection_->leaveEventLoop();
}

void GatewayClient::start()
{
    connection_->enterEventLoopAsync();
    loop_running_ = true;
    // sdbus-c++ 1.2 makes a call from another thread on that thread, with
    // sd_bus_call, for as long as the bus thread has not entered its loop
    // (Connection::tryCallMethodSynchronously). Signals that arrive during
    // such a call are queued and reach our handlers only after it returned,
    // too late for a command that stops printing at the reply. So wait until
    // the bus thread runs (it handled a reply); from then on every call's
    // reply comes through it, after the signals sent before that reply.
    // The promise is shared with the handler: the bus thread may still be
    // inside set_value() when this thread wakes up and returns.
    auto running = std::make_shared<std::promise<void>>();
    auto ran = running->get_future();
    driver_ = sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    driver_->callMethodAsync("GetId").onInterface("org.freedesktop.DBus").uponReplyInvoke(
        [running](const sdbus::Error*, const std::string&) { running->set_value(); });
    ran.wait(); // an error reply (after the call's timeout at worst) is handled there too
}

bool GatewayClient::daemon_present() const
{
    std::lock_guard lock(owner_mutex_);
    return !owner_.empty();
}

void GatewayClient::query_owner()
{
    auto bus = sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    std::string owner;
    try {
        bus->callMethod("GetNameOwner").onInterface("org.freedesktop.DBus").withArguments(target_.bus_name).storeResultsTo(owner);
    } catch (const sdbus::Error& e) {
        if (e.getName() != "org.freedesktop.DBus.Error.NameHasNoOwner")
            throw;
    }
    std::lock_guard lock(owner_mutex_);
    owner_ = owner;
}

void GatewayClient::on_name_owner_changed(sdbus::Message& msg)
{
    std::string name, old_owner, new_owner;
    try {
        msg >> name >> old_owner >> new_owner;
    } catch (const sdbus::Error&) {
        return; // malformed: not from the bus driver
    }
    if (name != target_.bus_name)
        return;
    {
        std::lock_guard lock(owner_mutex_);
        owner_ = new_owner;
    }
    BusEvent event{realtime_usec(), new_owner.empty() ? "DaemonVanished" : "DaemonAppeared", {}};
    event.args["owner"] = new_owner.empty() ? old_owner : new_owner;
    deliver(std::move(event), {});
}

void GatewayClient::deliver(BusEvent event, const std::string& sender)
{
    // Another daemon (another profile) serves the same path and interface
    // under another name: drop what does not come from our name's owner.
    if (!sender.empty()) {
        std::lock_guard lock(owner_mutex_);
        if (sender != owner_)
            return;
    }
    // An exception must not unwind into sd-bus (it would terminate us).
    try {
        if (on_event_)
            on_event_(event);
    } catch (const std::exception& e) {
        std::cerr << "hermes-gatewayctl: while handling " << event.name << ": " << e.what() << "\n";
    }
}

std::map<std::string, sdbus::Variant> GatewayClient::get_status(std::chrono::microseconds timeout)
{
    auto reply = proxy_->call("GetStatus", timeout);
    std::map<std::string, sdbus::Variant> status;
    reply >> status;
    return status;
}

std::tuple<std::uint32_t, std::uint64_t> GatewayClient::call_start_like(const std::string& method,
                                                                        const std::map<std::string, sdbus::Variant>& options,
                                                                        std::chrono::microseconds timeout)
{
    if (method != "Replace" && method != "Restart" && method != "Start")
        throw std::invalid_argument("not a start-like method: " + method);
    auto reply = proxy_->call(method, timeout, options);
    std::uint32_t pid = 0;
    std::uint64_t generation = 0;
    reply >> pid >> generation;
    return {pid, generation};
}

void GatewayClient::stop(const std::map<std::string, sdbus::Variant>& options, std::chrono::microseconds timeout)
{
    proxy_->call("Stop", timeout, options);
}

} // namespace hgw::cli
