#include "daemon/event_loop.h"

#include "daemon/log.h"
#include "util/errors.h"

#include <signal.h>
#include <time.h>

namespace hgw::daemon {

namespace {

// One loop per process: the handler is the process's.
EventLoop::FaultHandler& fault_handler()
{
    static EventLoop::FaultHandler handler;
    return handler;
}

// Runs a callback so that nothing it throws leaves the trampoline.
template <typename F>
void guarded(const char* where, F&& fn) noexcept
{
    try {
        fn();
    } catch (...) {
        report_callback_fault(where);
    }
}

// Each callback lives in a heap box owned by the source (freed by the
// destroy callback), so sources can be moved freely.
template <typename F>
struct Box {
    F fn;
};

template <typename F>
void destroy_box(void* userdata)
{
    std::unique_ptr<Box<F>>(static_cast<Box<F>*>(userdata));
}

int on_io(sd_event_source*, int, uint32_t revents, void* userdata)
{
    guarded("io", [&] { static_cast<Box<EventLoop::IoCallback>*>(userdata)->fn(revents); });
    return 0;
}

int on_time(sd_event_source*, uint64_t, void* userdata)
{
    guarded("timer", [&] { static_cast<Box<EventLoop::Callback>*>(userdata)->fn(); });
    return 0;
}

int on_signal(sd_event_source*, const signalfd_siginfo*, void* userdata)
{
    guarded("signal", [&] { static_cast<Box<EventLoop::Callback>*>(userdata)->fn(); });
    return 0;
}

struct IoWithPrepare {
    EventLoop::IoCallback io;
    EventLoop::Callback prepare;
    void operator()(uint32_t revents) { io(revents); }
};

int on_io_with_prepare(sd_event_source*, int, uint32_t revents, void* userdata)
{
    guarded("io", [&] { static_cast<Box<IoWithPrepare>*>(userdata)->fn(revents); });
    return 0;
}

int on_prepare(sd_event_source*, void* userdata)
{
    guarded("prepare", [&] { static_cast<Box<IoWithPrepare>*>(userdata)->fn.prepare(); });
    return 0;
}

int on_defer(sd_event_source*, void* userdata)
{
    guarded("deferred", [&] { static_cast<Box<EventLoop::Callback>*>(userdata)->fn(); });
    return 0;
}

void check(int r, const char* what)
{
    if (r < 0)
        throw SystemError(what, -r);
}

template <typename F>
EventSource own(sd_event_source* s, F&& fn)
{
    auto box = std::make_unique<Box<std::decay_t<F>>>(Box<std::decay_t<F>>{std::forward<F>(fn)});
    sd_event_source_set_userdata(s, box.get());
    sd_event_source_set_destroy_callback(s, destroy_box<std::decay_t<F>>);
    box.release();
    return EventSource(s);
}

} // namespace

EventSource& EventSource::operator=(EventSource&& o) noexcept
{
    if (this != &o) {
        reset();
        source_ = std::exchange(o.source_, nullptr);
    }
    return *this;
}

EventSource::~EventSource() { reset(); }

void EventSource::reset()
{
    if (source_) {
        sd_event_source_disable_unref(source_);
        source_ = nullptr;
    }
}

EventLoop::EventLoop() { check(sd_event_new(&event_), "sd_event_new"); }

EventLoop::~EventLoop() { sd_event_unref(event_); }

EventSource EventLoop::add_io(int fd, std::uint32_t events, IoCallback cb)
{
    sd_event_source* s = nullptr;
    check(sd_event_add_io(event_, &s, fd, events, on_io, nullptr), "sd_event_add_io");
    return own(s, std::move(cb));
}

EventSource EventLoop::add_timer_at(std::uint64_t monotonic_usec, Callback cb)
{
    sd_event_source* s = nullptr;
    // Accuracy 1 µs: 0 would mean sd-event's default slack of 250 ms, which
    // a restart "at once" or a replace must not wait for.
    check(sd_event_add_time(event_, &s, CLOCK_MONOTONIC, monotonic_usec, 1, on_time, nullptr),
          "sd_event_add_time");
    return own(s, std::move(cb));
}

EventSource EventLoop::add_timer(std::chrono::microseconds after, Callback cb)
{
    return add_timer_at(now_usec() + static_cast<std::uint64_t>(after.count()), std::move(cb));
}

EventSource EventLoop::add_signal(int sig, Callback cb)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    sd_event_source* s = nullptr;
    check(sd_event_add_signal(event_, &s, sig, on_signal, nullptr), "sd_event_add_signal");
    return own(s, std::move(cb));
}

EventSource EventLoop::add_defer(Callback cb, bool first)
{
    sd_event_source* s = nullptr;
    check(sd_event_add_defer(event_, &s, on_defer, nullptr), "sd_event_add_defer");
    EventSource owned = own(s, std::move(cb));
    if (first)
        check(sd_event_source_set_priority(s, SD_EVENT_PRIORITY_IMPORTANT), "sd_event_source_set_priority");
    check(sd_event_source_set_enabled(s, SD_EVENT_ONESHOT), "sd_event_source_set_enabled");
    return owned;
}

EventSource EventLoop::add_io_with_prepare(int fd, std::uint32_t events, IoCallback cb, Callback prepare)
{
    sd_event_source* s = nullptr;
    check(sd_event_add_io(event_, &s, fd, events, on_io_with_prepare, nullptr), "sd_event_add_io");
    EventSource owned = own(s, IoWithPrepare{std::move(cb), std::move(prepare)});
    check(sd_event_source_set_prepare(s, on_prepare), "sd_event_source_set_prepare");
    return owned;
}

void EventLoop::set_io_events(const EventSource& s, std::uint32_t events)
{
    check(sd_event_source_set_io_events(s.get(), events), "sd_event_source_set_io_events");
}

void EventLoop::set_fault_handler(FaultHandler handler) { fault_handler() = std::move(handler); }

void report_callback_fault(const char* where) noexcept
{
    std::string what;
    try {
        throw;
    } catch (const Error& e) {
        what = describe(e);
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
        what = "an unknown exception";
    }
    try {
        if (fault_handler())
            fault_handler()(where, what);
        else
            log::error(std::string("unexpected failure in an event callback (") + where + "): " + what);
    } catch (...) {
        // The handler failed too: nothing more can be done from here.
    }
}

int EventLoop::run() { return sd_event_loop(event_); }

void EventLoop::exit(int code) { sd_event_exit(event_, code); }

std::uint64_t EventLoop::now_usec()
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

} // namespace hgw::daemon
