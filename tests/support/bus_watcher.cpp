#include "support/bus_watcher.h"

#include "support/variant_text.h"
#include "util/bus_names.h"

#include <algorithm>
#include <map>

namespace hgw::test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::optional<std::string> BusEvent::property(const std::string& name) const
{
    for (const auto& [k, v] : properties)
        if (k == name)
            return v;
    return std::nullopt;
}

BusWatcher::BusWatcher(const PrivateBus& bus) : connection_(bus.connect())
{
    auto handler = [this](sdbus::Message& msg) { on_message(msg); };
    slots_.push_back(connection_->addMatch(
        "type='signal',path='" HGW_BUS_PATH "',interface='" HGW_BUS_INTERFACE "'", handler));
    slots_.push_back(connection_->addMatch("type='signal',path='" HGW_BUS_PATH "',"
                                           "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'",
                                           handler));
    slots_.push_back(connection_->addMatch("type='signal',sender='org.freedesktop.DBus',"
                                           "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                                           "arg0='" HGW_BUS_NAME "'",
                                           handler));
    connection_->enterEventLoopAsync();
}

BusWatcher::~BusWatcher()
{
    connection_->leaveEventLoop();
    slots_.clear();
}

std::optional<BusEvent> BusWatcher::next(const std::function<bool(const BusEvent&)>& pred, milliseconds timeout)
{
    std::unique_lock lock(mutex_);
    auto deadline = Clock::now() + timeout;
    for (;;) {
        for (; cursor_ < events_.size(); ++cursor_) {
            if (pred(events_[cursor_]))
                return events_[cursor_++];
        }
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && cursor_ == events_.size())
            return std::nullopt;
    }
}

std::optional<BusEvent> BusWatcher::next_state(const std::string& state, milliseconds timeout)
{
    return next([&](const BusEvent& e) { return e.member == HGW_BUS_SIGNAL_STATE_CHANGED && e.new_state == state; },
                timeout);
}

std::optional<BusEvent> BusWatcher::next_member(const std::string& member, milliseconds timeout)
{
    return next([&](const BusEvent& e) { return e.member == member; }, timeout);
}

std::optional<std::vector<BusEvent>> BusWatcher::wait_any(const std::function<bool(const BusEvent&)>& pred,
                                                          milliseconds timeout)
{
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return std::any_of(events_.begin(), events_.end(), pred); }))
        return std::nullopt;
    return events_;
}

std::size_t BusWatcher::mark()
{
    std::lock_guard lock(mutex_);
    return cursor_;
}

void BusWatcher::skip_all()
{
    std::lock_guard lock(mutex_);
    cursor_ = events_.size();
}

std::vector<BusEvent> BusWatcher::since(std::size_t from)
{
    std::lock_guard lock(mutex_);
    if (from >= events_.size())
        return {};
    return {events_.begin() + static_cast<std::ptrdiff_t>(from), events_.end()};
}

std::size_t BusWatcher::size()
{
    std::lock_guard lock(mutex_);
    return events_.size();
}

std::string BusWatcher::describe(const std::vector<BusEvent>& events)
{
    std::string out;
    for (const auto& e : events) {
        out += "\n  " + e.member + "(";
        for (const auto& a : e.args)
            out += a + "; ";
        for (const auto& [k, v] : e.properties)
            out += k + "=" + v + " ";
        out += ")";
    }
    return out;
}

void BusWatcher::on_message(sdbus::Message& msg)
{
    BusEvent e;
    e.member = msg.getMemberName();
    try {
        if (e.member == HGW_BUS_SIGNAL_STATE_CHANGED) {
            msg >> e.old_state >> e.new_state >> e.reason;
            e.args = {e.old_state, e.new_state, e.reason};
        } else if (e.member == HGW_BUS_SIGNAL_REPLACED) {
            msg >> e.old_pid >> e.new_pid >> e.generation >> e.reason;
            e.args = {std::to_string(e.old_pid), std::to_string(e.new_pid), std::to_string(e.generation), e.reason};
        } else if (e.member == HGW_BUS_SIGNAL_GATEWAY_EXITED) {
            msg >> e.pid >> e.code >> e.status;
            e.args = {std::to_string(e.pid), e.code, std::to_string(e.status)};
        } else if (e.member == HGW_BUS_SIGNAL_PID_FILE_REPAIRED) {
            msg >> e.verdict >> e.stale_pid;
            e.args = {e.verdict, std::to_string(e.stale_pid)};
        } else if (e.member == "PropertiesChanged") {
            std::string iface;
            std::map<std::string, sdbus::Variant> changed;
            std::vector<std::string> invalidated;
            msg >> iface >> changed >> invalidated;
            if (iface != HGW_BUS_INTERFACE)
                return;
            e.args = {iface};
            for (const auto& [k, v] : changed)
                e.properties.emplace_back(k, variant_text(v));
            for (const auto& k : invalidated)
                e.properties.emplace_back(k, "<invalidated>");
        } else if (e.member == "NameOwnerChanged") {
            std::string name, old_owner;
            msg >> name >> old_owner >> e.new_owner;
            e.args = {name, old_owner, e.new_owner};
        } else {
            return;
        }
    } catch (const sdbus::Error&) {
        e.reason = "<malformed>";
    }
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(e));
    }
    cv_.notify_all();
}

} // namespace hgw::test
