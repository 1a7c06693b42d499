#pragma once
// The daemon's life on the bus: one connection at a time, the Manager object
// on it, the pump that runs it on our loop, and the bus name. Losing the bus
// (dbus-daemon restarted, the socket hung up) never ends the daemon: the
// session drops that connection and connects again with back-off, while the
// supervisor keeps the gateway running. A name someone else owns ("File
// exists": a dead daemon's connection the bus has not let go of yet, or any
// other owner) is asked for again with back-off; the object stays
// registered meanwhile.
//
// Every step runs on the loop; none of it blocks the loop for long (opening
// a connection waits for the socket's handshake to be written; the name is
// asked for asynchronously).

#include "daemon/config.h"
#include "daemon/event_loop.h"
#include "daemon/fleet_member.h"
#include "daemon/supervisor.h"

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace hgw::bus {

class BusPump;
class ManagerObject;

// 100 ms, doubling to 10 s; back to the start after a success.
class Backoff {
public:
    static constexpr std::chrono::microseconds kFirst{100'000};
    static constexpr std::chrono::microseconds kMax{10'000'000};
    // The delay before the next attempt; each call doubles the next one.
    std::chrono::microseconds next();
    void reset() { next_ = kFirst; }
    [[nodiscard]] unsigned failures() const { return failures_; }

private:
    std::chrono::microseconds next_ = kFirst;
    unsigned failures_ = 0;
};

class BusSession {
public:
    // Opens a new connection to the bus; throws on failure.
    using Connector = std::function<std::unique_ptr<sdbus::IConnection>()>;
    // Told whenever connected() or owns_name() changes.
    using Listener = std::function<void(bool connected, bool owns_name)>;

    // Connects to the bus `config` names (a failure is logged and retried
    // from the loop), registers the Manager object and asks for
    // config.bus_name(). `loop`, `config` and `supervisor` must outlive it.
    BusSession(daemon::EventLoop& loop, const daemon::Config& config, daemon::Supervisor& supervisor);
    BusSession(daemon::EventLoop& loop, const daemon::Config& config, daemon::Supervisor& supervisor,
               Connector connector);
    // Unregisters the object and closes the connection. (A connection that
    // an unanswered call still holds closes when the supervisor lets go of
    // that call.)
    ~BusSession();
    BusSession(const BusSession&) = delete;
    BusSession& operator=(const BusSession&) = delete;

    // A live connection with the Manager object on it.
    [[nodiscard]] bool connected() const;
    // ... and the bus name is ours: calls reach us.
    [[nodiscard]] bool owns_name() const { return owns_name_; }
    // Connections opened so far (1 after a first successful connect).
    [[nodiscard]] unsigned connections() const { return connections_; }

    void set_listener(Listener listener) { listener_ = std::move(listener); }

    // Fleet mode: what the Fleet* properties report (see ManagerObject).
    void set_fleet(daemon::FleetMember* fleet);
    void fleet_changed(const daemon::FleetStatus& now);

private:
    void connect();
    void request_name();
    void on_name_reply(std::uint64_t epoch, const sdbus::Error* error, std::uint32_t reply) noexcept;
    void name_refused(const std::string& why);
    void lost(const std::string& why);
    void drop_connection() noexcept;
    void notify();

    daemon::EventLoop& loop_;
    daemon::Supervisor& supervisor_;
    daemon::FleetMember* fleet_ = nullptr;
    std::string bus_name_;
    std::string bus_label_; // "the system bus", "the bus at ADDR": for the log
    Connector connector_;
    Listener listener_;

    // Declared so that they go in this order: the proxy, the pump and the
    // object before the connection they use.
    std::shared_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<ManagerObject> object_;
    std::unique_ptr<BusPump> pump_;
    std::unique_ptr<sdbus::IProxy> driver_; // org.freedesktop.DBus, for RequestName

    std::uint64_t epoch_ = 0; // which connection a name reply belongs to
    bool owns_name_ = false;
    unsigned connections_ = 0;
    Backoff connect_backoff_;
    Backoff name_backoff_;
    std::uint64_t last_name_warning_usec_ = 0;
    std::uint64_t last_connect_warning_usec_ = 0;
    daemon::EventSource retry_;     // the next connect or name request
    daemon::EventSource drop_;      // drops a lost connection, outside the pump's callback
    std::string lost_why_;
};

} // namespace hgw::bus
