#include "dbus/manager_object.h"

#include "core/pidfile.h"
#include "core/validation.h"
#include "dbus/bus_errors.h"
#include "dbus/evidence.h"
#include "dbus/options.h"
#include "daemon/log.h"
#include "util/bus_names.h"


#include <unistd.h>

#include <exception>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hgw::bus {

namespace {

using daemon::OpResult;

std::uint32_t as_u32(pid_t pid)
{
    return pid > 0 ? static_cast<std::uint32_t>(pid) : 0;
}

// The answer to one async method call. The supervisor's Completion is a
// std::function, so it must be copyable, and sdbus::Result is move-only:
// the copies share this object. It answers exactly once, whatever calls
// it; if every copy of the completion is dropped unanswered (the supervisor
// went away), it answers Failed rather than leave the caller to time out.
//
// It holds the connection the call came on: the Result's message points into
// that Connection, which must not be destroyed before the Result is, even if
// the bus has been lost and the session has moved on to a new connection.
template <typename... Out>
class PendingReply {
public:
    PendingReply(std::shared_ptr<sdbus::IConnection> connection, sdbus::Result<Out...>&& result, std::string method)
        : connection_(std::move(connection)), result_(std::move(result)), method_(std::move(method)) {}
    PendingReply(const PendingReply&) = delete;
    PendingReply& operator=(const PendingReply&) = delete;
    ~PendingReply()
    {
        if (!answered_)
            fail(sdbus::Error(HGW_BUS_ERROR_FAILED, method_ + " was abandoned before it completed"));
    }

    void complete(const OpResult& r)
    {
        if (!r.ok()) {
            fail(to_bus_error(r));
            return;
        }
        if constexpr (sizeof...(Out) == 0)
            succeed();
        else
            succeed(as_u32(r.pid), r.generation);
    }

    template <typename... Args>
    void succeed(Args&&... args)
    {
        answer([&] { result_.returnResults(std::forward<Args>(args)...); });
    }

    void fail(const sdbus::Error& e)
    {
        answer([&] { result_.returnError(e); });
    }

private:
    // Sending can fail (the caller left, the bus is gone); that must not
    // reach the supervisor, which called us.
    template <typename Send>
    void answer(Send&& send) noexcept
    {
        if (answered_)
            return;
        answered_ = true;
        try {
            send();
        } catch (const std::exception& e) {
            daemon::log::warning("D-Bus: cannot answer " + method_ + ": " + e.what());
        } catch (...) {
            daemon::log::warning("D-Bus: cannot answer " + method_);
        }
    }

    std::shared_ptr<sdbus::IConnection> connection_; // first: destroyed after result_
    sdbus::Result<Out...> result_;
    std::string method_;
    bool answered_ = false;
};

template <typename... Out>
using ReplyPtr = std::shared_ptr<PendingReply<Out...>>;

// The supervisor's completion for an operation answered through `reply`.
template <typename... Out>
daemon::Completion completion_for(const ReplyPtr<Out...>& reply)
{
    return daemon::Completion([reply](const OpResult& r) { reply->complete(r); });
}

// Signals are sent from supervisor callbacks: a failure to send is logged,
// never thrown back into the supervisor.
template <typename Emit>
void emit_safely(const char* what, Emit&& emit) noexcept
{
    try {
        emit();
    } catch (const std::exception& e) {
        daemon::log::warning("D-Bus: cannot emit " + std::string(what) + ": " + e.what());
    } catch (...) {
        daemon::log::warning("D-Bus: cannot emit " + std::string(what));
    }
}

} // namespace

VariantMap status_map(const daemon::Snapshot& s, const HomePaths& paths, pid_t daemon_pid)
{
    VariantMap m;
    m["state"] = std::string(daemon::to_string(s.state));
    m["phase"] = std::string(daemon::to_string(s.phase));
    m["job"] = std::string(daemon::to_string(s.job));
    m["pid"] = as_u32(s.pid);
    m["generation"] = s.generation;
    m["ready"] = s.ready;
    m["restarts"] = s.restarts;
    m["last_exit_kind"] = s.last_exit.kind;
    m["last_exit_status"] = static_cast<std::int32_t>(s.last_exit.status);
    m["started_at_usec"] = s.started_at_usec;
    m["status_text"] = s.status_text;
    m["failure_reason"] = s.failure_reason;
    m["blocked_reason"] = s.blocked_reason;
    m["foreign_pid"] = as_u32(s.foreign_pid);
    m["pid_file"] = paths.pid_file.string();
    m["home"] = paths.home.string();
    m["command"] = s.command;
    m["daemon_pid"] = as_u32(daemon_pid);
    return m;
}

namespace {

// One property that changes: how to tell and what to send.
struct PropertyDef {
    const char* name;
    bool (*differs)(const daemon::Snapshot&, const daemon::Snapshot&);
    sdbus::Variant (*value)(const daemon::Snapshot&);
};

sdbus::Struct<std::string, std::int32_t> last_exit_struct(const daemon::ExitInfo& exit)
{
    return sdbus::Struct<std::string, std::int32_t>(std::make_tuple(exit.kind, static_cast<std::int32_t>(exit.status)));
}

// In the XML's order. PidFile is constant.
const PropertyDef kProperties[] = {
    {HGW_BUS_PROPERTY_STATE, [](const auto& a, const auto& b) { return a.state != b.state; },
     [](const auto& s) { return sdbus::Variant(std::string(daemon::to_string(s.state))); }},
    {HGW_BUS_PROPERTY_PHASE, [](const auto& a, const auto& b) { return a.phase != b.phase; },
     [](const auto& s) { return sdbus::Variant(std::string(daemon::to_string(s.phase))); }},
    {HGW_BUS_PROPERTY_JOB, [](const auto& a, const auto& b) { return a.job != b.job; },
     [](const auto& s) { return sdbus::Variant(std::string(daemon::to_string(s.job))); }},
    {HGW_BUS_PROPERTY_GATEWAY_PID, [](const auto& a, const auto& b) { return a.pid != b.pid; },
     [](const auto& s) { return sdbus::Variant(as_u32(s.pid)); }},
    {HGW_BUS_PROPERTY_GENERATION, [](const auto& a, const auto& b) { return a.generation != b.generation; },
     [](const auto& s) { return sdbus::Variant(s.generation); }},
    {HGW_BUS_PROPERTY_STARTED_AT, [](const auto& a, const auto& b) { return a.started_at_usec != b.started_at_usec; },
     [](const auto& s) { return sdbus::Variant(s.started_at_usec); }},
    {HGW_BUS_PROPERTY_READY, [](const auto& a, const auto& b) { return a.ready != b.ready; },
     [](const auto& s) { return sdbus::Variant(s.ready); }},
    {HGW_BUS_PROPERTY_RESTARTS, [](const auto& a, const auto& b) { return a.restarts != b.restarts; },
     [](const auto& s) { return sdbus::Variant(s.restarts); }},
    {HGW_BUS_PROPERTY_LAST_EXIT,
     [](const auto& a, const auto& b) {
         return a.last_exit.kind != b.last_exit.kind || a.last_exit.status != b.last_exit.status;
     },
     [](const auto& s) { return sdbus::Variant(last_exit_struct(s.last_exit)); }},
    {HGW_BUS_PROPERTY_COMMAND, [](const auto& a, const auto& b) { return a.command != b.command; },
     [](const auto& s) { return sdbus::Variant(s.command); }},
};

} // namespace

std::vector<std::string> changed_properties(const daemon::Snapshot& before, const daemon::Snapshot& after)
{
    std::vector<std::string> names;
    for (const auto& p : kProperties)
        if (p.differs(before, after))
            names.emplace_back(p.name);
    return names;
}

ManagerObject::ManagerObject(std::shared_ptr<sdbus::IConnection> connection, daemon::EventLoop& loop,
                             daemon::Supervisor& supervisor)
    : AdaptorInterfaces(*connection, HGW_BUS_PATH)
    , connection_(std::move(connection))
    , loop_(loop)
    , supervisor_(supervisor)
    , authorizer_(*connection_, make_access_policy(supervisor.config().allowed_group, ::geteuid()),
                  supervisor.config().bus_name())
    , announced_(supervisor.snapshot())
    , known_(announced_)
{
    // Created enabled (one-shot): the first iteration diffs against the
    // snapshot just taken, which sends nothing unless something moved.
    publish_ = loop_.add_defer([this] { publish(); }, /*first=*/true);
    registerAdaptor();
    supervisor_.add_observer(this);
}

ManagerObject::~ManagerObject()
{
    supervisor_.remove_observer(this);
    publish_.reset();
    unregisterAdaptor();
}

// Authorizes the caller for `action`, at once or when polkit answers, then
// runs `begin(reply)`. Whatever fails (access denied, bad options, a
// supervisor error) is answered through the reply: the handler itself never
// throws, so the call is answered once. `begin` runs only while this object
// lives: the Authorizer, a member, drops polkit's pending answers with it.
template <typename... Out, typename Begin>
void ManagerObject::run_authorized(const char* method, Action action, sdbus::Result<Out...>&& result, Begin begin)
{
    auto reply = std::make_shared<PendingReply<Out...>>(connection_, std::move(result), method);
    const sdbus::Message* call = getObject().getCurrentlyProcessedMessage();
    if (call == nullptr) {
        reply->fail(sdbus::Error(HGW_BUS_ERROR_FAILED, std::string(method) + ": no method call is being processed"));
        return;
    }
    authorizer_.authorize(*call, method, action,
                          [reply, method, begin = std::move(begin)](const std::optional<sdbus::Error>& denial) {
                              if (denial) {
                                  reply->fail(*denial);
                                  return;
                              }
                              try {
                                  begin(reply);
                              } catch (...) {
                                  reply->fail(current_exception_as_bus_error(method));
                              }
                          });
}

// ---- Methods ----

VariantMap ManagerObject::GetStatus()
{
    return guard_handler(HGW_BUS_METHOD_GET_STATUS, [&] {
        // Built once per change, not once per call: its 18 variants cost
        // more than the round trip itself.
        daemon::Snapshot now = supervisor_.snapshot();
        if (!status_of_ || *status_of_ != now) {
            status_cache_ = status_map(now, supervisor_.paths(), ::getpid());
            status_of_ = std::move(now);
        }
        if (!fleet_)
            return status_cache_;
        VariantMap with_fleet = status_cache_;
        const daemon::FleetStatus& f = fleet_->status();
        with_fleet.emplace("fleet_role", sdbus::Variant(std::string(daemon::to_string(f.role))));
        with_fleet.emplace("fleet_leader", sdbus::Variant(f.leader));
        with_fleet.emplace("fleet_deadline_usec", sdbus::Variant(f.fence_at_usec));
        return with_fleet;
    });
}

void ManagerObject::Replace(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options)
{
    run_authorized(HGW_BUS_METHOD_REPLACE, Action::Manage, std::move(result), [this, options](const auto& reply) {
        supervisor_.replace(parse_op_options(options), /*restart_if_stopped=*/false, completion_for(reply));
    });
}

void ManagerObject::Restart(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options)
{
    run_authorized(HGW_BUS_METHOD_RESTART, Action::Manage, std::move(result), [this, options](const auto& reply) {
        supervisor_.replace(parse_op_options(options), /*restart_if_stopped=*/true, completion_for(reply));
    });
}

void ManagerObject::Start(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options)
{
    run_authorized(HGW_BUS_METHOD_START, Action::Manage, std::move(result), [this, options](const auto& reply) {
        supervisor_.start(parse_op_options(options), completion_for(reply));
    });
}

void ManagerObject::Stop(sdbus::Result<>&& result, VariantMap options)
{
    run_authorized(HGW_BUS_METHOD_STOP, Action::Manage, std::move(result), [this, options](const auto& reply) {
        supervisor_.stop(parse_op_options(options), completion_for(reply));
    });
}

void ManagerObject::FleetHandover(sdbus::Result<>&& result, VariantMap options)
{
    run_authorized(HGW_BUS_METHOD_FLEET_HANDOVER, Action::Manage, std::move(result), [this, options](const auto& reply) {
        const HandoverOptions parsed = parse_handover_options(options);
        daemon::Completion done = completion_for(reply);
        if (!fleet_) {
            done(daemon::OpResult{daemon::OpError::NotRunning, "this daemon runs no fleet (no --fleet-endpoints)", 0, 0});
            return;
        }
        fleet_->handover(parsed.to, std::move(done));
    });
}

std::tuple<std::string, VariantMap> ManagerObject::ValidatePidFile()
{
    return guard_handler(HGW_BUS_METHOD_VALIDATE_PID_FILE, [&] {
        Verdict v = validate(supervisor_.paths());
        return std::make_tuple(std::string(to_string(v.kind)), verdict_evidence(v));
    });
}

void ManagerObject::CleanPidFile(sdbus::Result<bool, std::string>&& result)
{
    run_authorized(HGW_BUS_METHOD_CLEAN_PID_FILE, Action::CleanPidFile, std::move(result), [this](const auto& reply) {
        // clean() takes gateway.lock for a moment; a gateway we are
        // starting right then would find it held and exit. Only clean
        // while no operation of ours is under way.
        daemon::Snapshot now = supervisor_.snapshot();
        if (now.job != daemon::Job::None || now.phase == daemon::Phase::Starting ||
            now.phase == daemon::Phase::Recovering)
            throw sdbus::Error(HGW_BUS_ERROR_BUSY, "the gateway is " + std::string(daemon::to_string(now.state)) +
                                                       "; clean the PID file once that is over");

        CleanOutcome outcome = clean(supervisor_.paths());
        using CleanAction = CleanOutcome::Action;
        bool removed = outcome.action == CleanAction::Removed || outcome.action == CleanAction::Quarantined;
        std::string verdict(to_string(outcome.verdict.kind));
        if (removed) {
            const auto& record = outcome.verdict.record();
            pid_t stale = record ? record->pid : 0;
            emit_safely(HGW_BUS_SIGNAL_PID_FILE_REPAIRED, [&] { emitPidFileRepaired(verdict, as_u32(stale)); });
        }
        reply->succeed(removed, verdict);
    });
}

// ---- Properties ----

std::string ManagerObject::State()
{
    return guard_handler(HGW_BUS_PROPERTY_STATE,
                         [&] { return std::string(daemon::to_string(supervisor_.snapshot().state)); });
}

std::string ManagerObject::Phase()
{
    return guard_handler(HGW_BUS_PROPERTY_PHASE,
                         [&] { return std::string(daemon::to_string(supervisor_.snapshot().phase)); });
}

std::string ManagerObject::Job()
{
    return guard_handler(HGW_BUS_PROPERTY_JOB,
                         [&] { return std::string(daemon::to_string(supervisor_.snapshot().job)); });
}

std::uint32_t ManagerObject::GatewayPID()
{
    return guard_handler(HGW_BUS_PROPERTY_GATEWAY_PID, [&] { return as_u32(supervisor_.snapshot().pid); });
}

std::uint64_t ManagerObject::Generation()
{
    return guard_handler(HGW_BUS_PROPERTY_GENERATION, [&] { return supervisor_.snapshot().generation; });
}

std::uint64_t ManagerObject::StartedAt()
{
    return guard_handler(HGW_BUS_PROPERTY_STARTED_AT, [&] { return supervisor_.snapshot().started_at_usec; });
}

bool ManagerObject::Ready()
{
    return guard_handler(HGW_BUS_PROPERTY_READY, [&] { return supervisor_.snapshot().ready; });
}

std::uint32_t ManagerObject::Restarts()
{
    return guard_handler(HGW_BUS_PROPERTY_RESTARTS, [&] { return supervisor_.snapshot().restarts; });
}

sdbus::Struct<std::string, std::int32_t> ManagerObject::LastExit()
{
    return guard_handler(HGW_BUS_PROPERTY_LAST_EXIT, [&] {
        return last_exit_struct(supervisor_.snapshot().last_exit);
    });
}

std::string ManagerObject::PidFile()
{
    return guard_handler(HGW_BUS_PROPERTY_PID_FILE, [&] { return supervisor_.paths().pid_file.string(); });
}

std::vector<std::string> ManagerObject::Command()
{
    return guard_handler(HGW_BUS_PROPERTY_COMMAND, [&] { return supervisor_.snapshot().command; });
}

std::string ManagerObject::FleetRole()
{
    return guard_handler(HGW_BUS_PROPERTY_FLEET_ROLE, [&] {
        return std::string(daemon::to_string(fleet_ ? fleet_->status().role : daemon::FleetRole::Standalone));
    });
}

std::string ManagerObject::FleetLeader()
{
    return guard_handler(HGW_BUS_PROPERTY_FLEET_LEADER, [&] { return fleet_ ? fleet_->status().leader : std::string(); });
}

std::uint64_t ManagerObject::FleetDeadline()
{
    return guard_handler(HGW_BUS_PROPERTY_FLEET_DEADLINE,
                         [&] { return fleet_ ? fleet_->status().fence_at_usec : std::uint64_t{0}; });
}

void ManagerObject::fleet_changed(const daemon::FleetStatus& now) noexcept
{
    std::map<std::string, sdbus::Variant> values;
    try {
        if (now.role != fleet_announced_.role)
            values.emplace(HGW_BUS_PROPERTY_FLEET_ROLE, sdbus::Variant(std::string(daemon::to_string(now.role))));
        if (now.leader != fleet_announced_.leader)
            values.emplace(HGW_BUS_PROPERTY_FLEET_LEADER, sdbus::Variant(now.leader));
        if (now.fence_at_usec != fleet_announced_.fence_at_usec)
            values.emplace(HGW_BUS_PROPERTY_FLEET_DEADLINE, sdbus::Variant(now.fence_at_usec));
    } catch (...) {
        values.clear();
    }
    emit_properties_changed(values);
    if (now.role != fleet_announced_.role || now.leader != fleet_announced_.leader)
        emit_safely(HGW_BUS_SIGNAL_FLEET_ROLE_CHANGED,
                    [&] { emitFleetRoleChanged(std::string(daemon::to_string(now.role)), now.leader); });
    try {
        fleet_announced_ = now;
    } catch (...) {
    }
}

// ---- What the supervisor reports ----

void ManagerObject::phase_changed(const daemon::PhaseChange& change)
{
    known_.phase = change.to;
    known_.state = change.state_to;
    known_.job = change.job;
    if (change.pid != known_.pid) {
        known_.pid = change.pid;
        known_.ready = false;
    }
    if (change.pid != 0)
        known_.generation = change.generation;
    if (change.state_from != change.state_to) {
        emit_safely(HGW_BUS_SIGNAL_STATE_CHANGED, [&] {
            emitStateChanged(std::string(daemon::to_string(change.state_from)),
                             std::string(daemon::to_string(change.state_to)), change.reason);
        });
    }
    changed();
}

void ManagerObject::replaced(pid_t old_pid, pid_t new_pid, std::uint64_t generation, const std::string& reason)
{
    known_.pid = new_pid;
    known_.generation = generation;
    known_.ready = true;
    announce(known_);
    emit_safely(HGW_BUS_SIGNAL_REPLACED, [&] { emitReplaced(as_u32(old_pid), as_u32(new_pid), generation, reason); });
    changed();
}

void ManagerObject::gateway_ready(pid_t pid, std::uint64_t generation)
{
    known_.pid = pid;
    known_.generation = generation;
    known_.ready = true;
    changed();
}

void ManagerObject::gateway_exited(pid_t pid, const daemon::ExitInfo& exit)
{
    known_.last_exit = exit;
    if (known_.pid == pid) {
        known_.pid = 0;
        known_.ready = false;
    }
    // If the next gateway is already known, clients still see this one go
    // first: GatewayPID passes through 0.
    daemon::Snapshot gone = known_;
    if (announced_.pid == pid) {
        gone.pid = 0;
        gone.ready = false;
    }
    announce(gone);
    emit_safely(HGW_BUS_SIGNAL_GATEWAY_EXITED,
                [&] { emitGatewayExited(as_u32(pid), exit.kind, static_cast<std::int32_t>(exit.status)); });
    changed();
}

void ManagerObject::pidfile_repaired(const std::string& verdict, pid_t stale_pid)
{
    emit_safely(HGW_BUS_SIGNAL_PID_FILE_REPAIRED, [&] { emitPidFileRepaired(verdict, as_u32(stale_pid)); });
    changed();
}

void ManagerObject::changed()
{
    // Idempotent while pending: one publish per iteration, however many calls.
    if (publish_)
        sd_event_source_set_enabled(publish_.get(), SD_EVENT_ONESHOT);
}

void ManagerObject::publish() noexcept
{
    try {
        daemon::Snapshot now = supervisor_.snapshot();
        announce(now);
        known_ = std::move(now);
    } catch (const std::exception& e) {
        daemon::log::warning(std::string("D-Bus: cannot publish the gateway's properties: ") + e.what());
    } catch (...) {
        daemon::log::warning("D-Bus: cannot publish the gateway's properties");
    }
}

void ManagerObject::announce(const daemon::Snapshot& now) noexcept
{
    std::map<std::string, sdbus::Variant> values;
    try {
        for (const auto& p : kProperties)
            if (p.differs(announced_, now))
                values.emplace(p.name, p.value(now));
    } catch (...) {
        values.clear();
    }
    emit_properties_changed(values);
    // Whether or not it went out (a lost bus), it is not sent again: a new
    // connection starts from a fresh snapshot.
    try {
        announced_ = now;
    } catch (...) {
    }
}

// Built here, values included: sdbus-c++'s emitPropertiesChangedSignal
// would call the getters, i.e. read the supervisor again.
void ManagerObject::emit_properties_changed(const std::map<std::string, sdbus::Variant>& values) noexcept
{
    if (values.empty())
        return;
    emit_safely("PropertiesChanged", [&] {
        auto signal = getObject().createSignal("org.freedesktop.DBus.Properties", "PropertiesChanged");
        signal << std::string(INTERFACE_NAME) << values << std::vector<std::string>{};
        getObject().emitSignal(signal);
    });
}

} // namespace hgw::bus
