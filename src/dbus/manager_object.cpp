#include "dbus/manager_object.h"

#include "core/pidfile.h"
#include "core/validation.h"
#include "dbus/bus_errors.h"
#include "dbus/evidence.h"
#include "dbus/options.h"
#include "daemon/log.h"


#include <unistd.h>

#include <memory>
#include <utility>

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
template <typename... Out>
class PendingReply {
public:
    PendingReply(sdbus::Result<Out...>&& result, std::string method)
        : result_(std::move(result)), method_(std::move(method)) {}
    PendingReply(const PendingReply&) = delete;
    PendingReply& operator=(const PendingReply&) = delete;
    ~PendingReply()
    {
        if (!answered_)
            fail(sdbus::Error(kErrFailed, method_ + " was abandoned before it completed"));
    }

    void complete(const OpResult& r)
    {
        if (!r.ok()) {
            fail(to_bus_error(r));
            return;
        }
        answer([&] {
            if constexpr (sizeof...(Out) == 0)
                result_.returnResults();
            else
                result_.returnResults(as_u32(r.pid), r.generation);
        });
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

    sdbus::Result<Out...> result_;
    std::string method_;
    bool answered_ = false;
};

// Runs `begin(completion)` for an async method. Whatever `begin` throws
// (access denied, bad options, a supervisor error) is answered through the
// Result: the handler itself never throws, so the call is answered once.
template <typename... Out, typename Begin>
void run_async(const char* method, sdbus::Result<Out...>&& result, Begin&& begin)
{
    auto reply = std::make_shared<PendingReply<Out...>>(std::move(result), method);
    try {
        begin(daemon::Completion([reply](const OpResult& r) { reply->complete(r); }));
    } catch (...) {
        reply->fail(current_exception_as_bus_error(method));
    }
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
    m["pid"] = as_u32(s.pid);
    m["generation"] = s.generation;
    m["ready"] = s.ready;
    m["restarts"] = s.restarts;
    m["last_exit_kind"] = s.last_exit.kind;
    m["last_exit_status"] = static_cast<std::int32_t>(s.last_exit.status);
    m["started_at_usec"] = s.started_at_usec;
    m["status_text"] = s.status_text;
    m["failure_reason"] = s.failure_reason;
    m["pid_file"] = paths.pid_file.string();
    m["home"] = paths.home.string();
    m["command"] = s.command;
    m["daemon_pid"] = as_u32(daemon_pid);
    return m;
}

ManagerObject::ManagerObject(sdbus::IConnection& connection, daemon::EventLoop& loop, daemon::Supervisor& supervisor)
    : AdaptorInterfaces(connection, daemon::kObjectPath)
    , loop_(loop)
    , supervisor_(supervisor)
    , authorizer_(connection, make_access_policy(supervisor.config().allowed_group, ::geteuid()))
{
    registerAdaptor();
    published_ = supervisor_.snapshot();
    supervisor_.add_observer(this);
}

ManagerObject::~ManagerObject()
{
    supervisor_.remove_observer(this);
    unregisterAdaptor();
}

void ManagerObject::authorize(const char* method) const
{
    const sdbus::Message* call = getObject().getCurrentlyProcessedMessage();
    if (call == nullptr)
        throw sdbus::Error(kErrFailed, std::string(method) + ": no method call is being processed");
    authorizer_.require(*call, method);
}

// ---- Methods ----

VariantMap ManagerObject::GetStatus()
{
    return guard_handler("GetStatus", [&] {
        return status_map(supervisor_.snapshot(), supervisor_.paths(), ::getpid());
    });
}

void ManagerObject::Replace(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options)
{
    run_async("Replace", std::move(result), [&](daemon::Completion done) {
        authorize("Replace");
        supervisor_.replace(parse_op_options(options), /*restart_if_stopped=*/false, std::move(done));
    });
}

void ManagerObject::Restart(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options)
{
    run_async("Restart", std::move(result), [&](daemon::Completion done) {
        authorize("Restart");
        supervisor_.replace(parse_op_options(options), /*restart_if_stopped=*/true, std::move(done));
    });
}

void ManagerObject::Start(sdbus::Result<std::uint32_t, std::uint64_t>&& result, VariantMap options)
{
    run_async("Start", std::move(result), [&](daemon::Completion done) {
        authorize("Start");
        supervisor_.start(parse_op_options(options), std::move(done));
    });
}

void ManagerObject::Stop(sdbus::Result<>&& result, VariantMap options)
{
    run_async("Stop", std::move(result), [&](daemon::Completion done) {
        authorize("Stop");
        supervisor_.stop(parse_op_options(options), std::move(done));
    });
}

std::tuple<std::string, VariantMap> ManagerObject::ValidatePidFile()
{
    return guard_handler("ValidatePidFile", [&] {
        Verdict v = validate(supervisor_.paths());
        return std::make_tuple(std::string(to_string(v.kind)), verdict_evidence(v));
    });
}

std::tuple<bool, std::string> ManagerObject::CleanPidFile()
{
    return guard_handler("CleanPidFile", [&] {
        authorize("CleanPidFile");
        // clean() takes gateway.lock for a moment; a gateway we are
        // starting right then would find it held and exit. Only clean
        // while no operation of ours is under way.
        using daemon::State;
        State state = supervisor_.snapshot().state;
        if (state == State::Starting || state == State::Replacing || state == State::Stopping)
            throw sdbus::Error(kErrBusy, "the gateway is " + std::string(daemon::to_string(state)) +
                                             "; clean the PID file once that is over");

        CleanOutcome outcome = clean(supervisor_.paths());
        using Action = CleanOutcome::Action;
        bool removed = outcome.action == Action::Removed || outcome.action == Action::Quarantined;
        std::string verdict(to_string(outcome.verdict.kind));
        if (removed) {
            const auto& record = outcome.verdict.record();
            pidfile_repaired(verdict, record ? record->pid : 0);
        }
        return std::make_tuple(removed, verdict);
    });
}

// ---- Properties ----

std::string ManagerObject::State()
{
    return guard_handler("State", [&] { return std::string(daemon::to_string(supervisor_.snapshot().state)); });
}

std::uint32_t ManagerObject::GatewayPID()
{
    return guard_handler("GatewayPID", [&] { return as_u32(supervisor_.snapshot().pid); });
}

std::uint64_t ManagerObject::Generation()
{
    return guard_handler("Generation", [&] { return supervisor_.snapshot().generation; });
}

std::uint64_t ManagerObject::StartedAt()
{
    return guard_handler("StartedAt", [&] { return supervisor_.snapshot().started_at_usec; });
}

bool ManagerObject::Ready()
{
    return guard_handler("Ready", [&] { return supervisor_.snapshot().ready; });
}

std::uint32_t ManagerObject::Restarts()
{
    return guard_handler("Restarts", [&] { return supervisor_.snapshot().restarts; });
}

sdbus::Struct<std::string, std::int32_t> ManagerObject::LastExit()
{
    return guard_handler("LastExit", [&] {
        daemon::ExitInfo exit = supervisor_.snapshot().last_exit;
        return sdbus::Struct<std::string, std::int32_t>(
            std::make_tuple(exit.kind, static_cast<std::int32_t>(exit.status)));
    });
}

std::string ManagerObject::PidFile()
{
    return guard_handler("PidFile", [&] { return supervisor_.paths().pid_file.string(); });
}

std::vector<std::string> ManagerObject::Command()
{
    return guard_handler("Command", [&] { return supervisor_.snapshot().command; });
}

// ---- Supervisor events ----

void ManagerObject::phase_changed(const daemon::PhaseChange& c)
{
    if (c.state_from == c.state_to)
        return;
    emit_safely("StateChanged", [&] {
        emitStateChanged(std::string(daemon::to_string(c.state_from)), std::string(daemon::to_string(c.state_to)),
                         c.reason);
    });
}

void ManagerObject::replaced(pid_t old_pid, pid_t new_pid, std::uint64_t generation, const std::string& reason)
{
    flush();
    emit_safely("Replaced", [&] { emitReplaced(as_u32(old_pid), as_u32(new_pid), generation, reason); });
}

void ManagerObject::gateway_exited(pid_t pid, const daemon::ExitInfo& exit)
{
    flush();
    emit_safely("GatewayExited",
                [&] { emitGatewayExited(as_u32(pid), exit.kind, static_cast<std::int32_t>(exit.status)); });
}

void ManagerObject::pidfile_repaired(const std::string& verdict, pid_t stale_pid)
{
    emit_safely("PidFileRepaired", [&] { emitPidFileRepaired(verdict, as_u32(stale_pid)); });
}

void ManagerObject::changed()
{
    if (!publish_)
        publish_ = loop_.add_defer(
            [this] {
                publish_.reset();
                publish_changes();
            },
            /*first=*/true);
}

void ManagerObject::flush()
{
    if (!publish_)
        return;
    publish_.reset();
    publish_changes();
}

void ManagerObject::publish_changes()
{
    daemon::Snapshot now = supervisor_.snapshot();
    const daemon::Snapshot& was = published_;
    std::vector<std::string> names;
    auto check = [&](const char* name, bool differs) {
        if (differs)
            names.emplace_back(name);
    };
    check("State", now.state != was.state);
    check("GatewayPID", now.pid != was.pid);
    check("Generation", now.generation != was.generation);
    check("StartedAt", now.started_at_usec != was.started_at_usec);
    check("Ready", now.ready != was.ready);
    check("Restarts", now.restarts != was.restarts);
    check("LastExit", now.last_exit.kind != was.last_exit.kind || now.last_exit.status != was.last_exit.status);
    published_ = std::move(now);
    if (names.empty())
        return;
    emit_safely("PropertiesChanged", [&] { getObject().emitPropertiesChangedSignal(INTERFACE_NAME, names); });
}

} // namespace hgw::bus
