#include "dbus/bus_session.h"

#include "daemon/log.h"
#include "dbus/bus_pump.h"
#include "dbus/manager_object.h"
#include "util/duration.h"

#include <sdbus-c++/sdbus-c++.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <utility>

namespace hgw::bus {

namespace {

using std::chrono::microseconds;

// org.freedesktop.DBus.RequestName: flags and replies.
constexpr std::uint32_t kNameFlagDoNotQueue = 4;
constexpr std::uint32_t kNameReplyPrimaryOwner = 1;
constexpr std::uint32_t kNameReplyInQueue = 2;
constexpr std::uint32_t kNameReplyExists = 3;
constexpr std::uint32_t kNameReplyAlreadyOwner = 4;

constexpr std::chrono::seconds kBusCallTimeout{25};
// While an attempt keeps failing, say so again at most this often.
constexpr std::uint64_t kRepeatWarningUsec = 60'000'000;

// The address sd-bus will use for this configuration, as it resolves it.
std::string address_of(const daemon::Config& c)
{
    auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
    };
    switch (c.bus) {
    case daemon::BusKind::Address: return c.bus_address;
    case daemon::BusKind::System: {
        std::string a = env("DBUS_SYSTEM_BUS_ADDRESS");
        return a.empty() ? "unix:path=/run/dbus/system_bus_socket" : a;
    }
    case daemon::BusKind::User: {
        std::string a = env("DBUS_SESSION_BUS_ADDRESS");
        if (!a.empty())
            return a;
        std::string runtime = env("XDG_RUNTIME_DIR");
        return runtime.empty() ? "" : "unix:path=" + runtime + "/bus";
    }
    }
    return "";
}

// For an address that is one plain unix socket ("unix:path=/x[,guid=...]"),
// its path; else empty.
std::string single_unix_path(const std::string& address)
{
    const std::string prefix = "unix:path=";
    if (address.rfind(prefix, 0) != 0 || address.find(';') != std::string::npos)
        return "";
    std::string path = address.substr(prefix.size());
    if (auto comma = path.find(','); comma != std::string::npos)
        path.erase(comma);
    if (path.find('%') != std::string::npos) // escaped: leave it to sd-bus
        return "";
    return path;
}

// Throws unless something listens on the unix socket at `path`. sdbus-c++
// 1.2 leaks the sd_bus of every connection it fails to open; while the bus
// is down, the daemon asks this instead, every attempt, and leaks nothing.
void require_listener(const std::string& path)
{
    sockaddr_un sa{};
    if (path.size() >= sizeof sa.sun_path)
        return; // sd-bus will say what it thinks of it
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    int err = errno;
    ::close(fd);
    if (r < 0 && err != EINPROGRESS && err != EAGAIN && err != EINTR)
        throw std::runtime_error(path + ": " + std::strerror(err));
}

BusSession::Connector connector_for(const daemon::Config& c)
{
    BusSession::Connector open;
    switch (c.bus) {
    case daemon::BusKind::System: open = [] { return sdbus::createSystemBusConnection(); }; break;
    case daemon::BusKind::User: open = [] { return sdbus::createSessionBusConnection(); }; break;
    case daemon::BusKind::Address:
        open = [address = c.bus_address] { return sdbus::createSessionBusConnectionWithAddress(address); };
        break;
    }
    return [open, path = single_unix_path(address_of(c))] {
        if (!path.empty())
            require_listener(path);
        return open();
    };
}

std::string label_for(const daemon::Config& c)
{
    switch (c.bus) {
    case daemon::BusKind::System: return "the system bus";
    case daemon::BusKind::User: return "the user bus";
    case daemon::BusKind::Address: return "the bus at " + c.bus_address;
    }
    return "the bus";
}

std::string describe_current_exception()
{
    try {
        throw;
    } catch (const sdbus::Error& e) {
        return e.getName() + ": " + e.getMessage();
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown error";
    }
}

// The first failure in a row, and then one a minute.
bool time_to_warn(unsigned failures, std::uint64_t& last_usec)
{
    std::uint64_t now = daemon::EventLoop::now_usec();
    if (failures <= 1 || now - last_usec >= kRepeatWarningUsec) {
        last_usec = now;
        return true;
    }
    return false;
}

} // namespace

microseconds Backoff::next()
{
    microseconds d = next_;
    next_ = std::min(next_ * 2, kMax);
    ++failures_;
    return d;
}

BusSession::BusSession(daemon::EventLoop& loop, const daemon::Config& config, daemon::Supervisor& supervisor)
    : BusSession(loop, config, supervisor, connector_for(config))
{
}

BusSession::BusSession(daemon::EventLoop& loop, const daemon::Config& config, daemon::Supervisor& supervisor,
                       Connector connector)
    : loop_(loop), supervisor_(supervisor), bus_name_(config.bus_name()), bus_label_(label_for(config)),
      connector_(std::move(connector))
{
    connect();
}

BusSession::~BusSession()
{
    retry_.reset();
    drop_.reset();
    drop_connection();
}

bool BusSession::connected() const { return connection_ && object_ && pump_ && pump_->alive(); }

void BusSession::set_fleet(daemon::FleetMember* fleet)
{
    fleet_ = fleet;
    if (object_)
        object_->set_fleet(fleet);
}

void BusSession::fleet_changed(const daemon::FleetStatus& now)
{
    if (object_)
        object_->fleet_changed(now);
}

void BusSession::notify()
{
    if (!listener_)
        return;
    try {
        listener_(connected(), owns_name_);
    } catch (...) {
        daemon::log::warning("bus session listener: " + describe_current_exception());
    }
}

void BusSession::connect()
{
    retry_.reset();
    try {
        std::shared_ptr<sdbus::IConnection> connection(connector_());
        ++epoch_;
        connection_ = std::move(connection);
        // The object first, so that no call finds it missing once the name is ours.
        object_ = std::make_unique<ManagerObject>(connection_, loop_, supervisor_);
        object_->set_fleet(fleet_);
        pump_ = std::make_unique<BusPump>(loop_, *connection_, [this](const std::string& why) { lost(why); });
        driver_ = sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    } catch (...) {
        std::string why = describe_current_exception();
        drop_connection();
        microseconds delay = connect_backoff_.next();
        if (time_to_warn(connect_backoff_.failures(), last_connect_warning_usec_))
            daemon::log::warning("cannot connect to " + bus_label_ + ": " + why + "; trying again in " +
                                 format_duration(delay) + " (the gateway is supervised meanwhile)");
        retry_ = loop_.add_timer(delay, [this] { connect(); });
        return;
    }
    ++connections_;
    if (connections_ > 1)
        daemon::log::info("connected to " + bus_label_ + " again");
    notify();
    request_name();
}

void BusSession::request_name()
{
    retry_.reset();
    if (!driver_)
        return;
    const std::uint64_t epoch = epoch_;
    try {
        driver_->callMethodAsync("RequestName")
            .onInterface("org.freedesktop.DBus")
            .withTimeout(kBusCallTimeout)
            .withArguments(bus_name_, kNameFlagDoNotQueue)
            .uponReplyInvoke([this, epoch](const sdbus::Error* error, std::uint32_t reply) {
                on_name_reply(epoch, error, reply);
            });
    } catch (...) {
        // The connection is probably gone; the pump will say so. If not, ask again.
        name_refused(describe_current_exception());
    }
}

void BusSession::on_name_reply(std::uint64_t epoch, const sdbus::Error* error, std::uint32_t reply) noexcept
{
    try {
        if (epoch != epoch_ || !connected())
            return; // a connection given up since
        if (error != nullptr) {
            name_refused(error->getName() + ": " + error->getMessage());
            return;
        }
        if (reply == kNameReplyPrimaryOwner || reply == kNameReplyAlreadyOwner) {
            bool again = name_backoff_.failures() > 0;
            owns_name_ = true;
            name_backoff_ = Backoff();
            connect_backoff_ = Backoff();
            if (connections_ > 1 || again)
                daemon::log::info("serving " + bus_name_ + " on " + bus_label_ + " again");
            notify();
            return;
        }
        name_refused(reply == kNameReplyExists || reply == kNameReplyInQueue
                         ? "it is owned by another connection (File exists)"
                         : "RequestName answered " + std::to_string(reply));
    } catch (...) {
        daemon::log::warning("bus name " + bus_name_ + ": " + describe_current_exception());
    }
}

void BusSession::name_refused(const std::string& why)
{
    if (!connected())
        return;
    microseconds delay = name_backoff_.next();
    if (time_to_warn(name_backoff_.failures(), last_name_warning_usec_)) {
        std::string text = "cannot own the bus name " + bus_name_ + " on " + bus_label_ + ": " + why +
                           "; asking again in " + format_duration(delay) +
                           " (the object stays registered; the gateway is supervised meanwhile)";
        daemon::log::warning(text);
        // Who owns it, for the log: asked without waiting, said when known.
        try {
            driver_->callMethodAsync("GetConnectionUnixProcessID")
                .onInterface("org.freedesktop.DBus")
                .withTimeout(kBusCallTimeout)
                .withArguments(bus_name_)
                .uponReplyInvoke([name = bus_name_](const sdbus::Error* error, std::uint32_t pid) {
                    if (error == nullptr) {
                        try {
                            daemon::log::warning("the bus name " + name + " is owned by pid " + std::to_string(pid));
                        } catch (...) {
                        }
                    }
                });
        } catch (...) {
            // Only for the log.
        }
    }
    retry_ = loop_.add_timer(delay, [this] { request_name(); });
}

void BusSession::lost(const std::string& why)
{
    // Inside the pump's callback: drop the connection from the next iteration.
    owns_name_ = false;
    retry_.reset();
    lost_why_ = why;
    drop_ = loop_.add_defer([this] {
        drop_connection();
        microseconds delay = connect_backoff_.next();
        daemon::log::warning("lost the connection to " + bus_label_ + " (" + lost_why_ + "); the gateway keeps " +
                             "running; connecting again in " + format_duration(delay));
        retry_ = loop_.add_timer(delay, [this] { connect(); });
    });
    notify();
}

void BusSession::drop_connection() noexcept
{
    owns_name_ = false;
    // The proxy (its pending calls), the pump (its event sources) and the
    // object go now. The connection goes with its last holder: an
    // unanswered call the supervisor still holds keeps it (closed, unused)
    // until that call is completed or dropped.
    driver_.reset();
    pump_.reset();
    object_.reset();
    connection_.reset();
}

} // namespace hgw::bus
