#pragma once
// A thin RAII layer over sd-event: the daemon's single thread waits here on
// every fd and timer it has. Nothing polls.

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace hgw::daemon {

// One registered event source; destroying it unregisters it.
class EventSource {
public:
    EventSource() = default;
    explicit EventSource(sd_event_source* s) : source_(s) {}
    EventSource(EventSource&& o) noexcept : source_(std::exchange(o.source_, nullptr)) {}
    EventSource& operator=(EventSource&& o) noexcept;
    EventSource(const EventSource&) = delete;
    EventSource& operator=(const EventSource&) = delete;
    ~EventSource();

    [[nodiscard]] sd_event_source* get() const { return source_; }
    explicit operator bool() const { return source_ != nullptr; }
    void reset();

private:
    sd_event_source* source_ = nullptr;
};

class EventLoop {
public:
    using Callback = std::function<void()>;
    using IoCallback = std::function<void(std::uint32_t revents)>;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Calls `cb` whenever `fd` has `events` (EPOLLIN, ...). The fd stays ours to close.
    EventSource add_io(int fd, std::uint32_t events, IoCallback cb);
    // Calls `cb` once, `after` from now (CLOCK_MONOTONIC).
    EventSource add_timer(std::chrono::microseconds after, Callback cb);
    // Calls `cb` once at an absolute CLOCK_MONOTONIC time in microseconds.
    EventSource add_timer_at(std::uint64_t monotonic_usec, Callback cb);
    // Calls `cb` for each delivery of `sig` (blocks it for the process first).
    EventSource add_signal(int sig, Callback cb);
    // An io source whose `prepare` runs before every sleep of the loop: lets
    // a library with its own queues (sd-bus) flush them and update `events`.
    EventSource add_io_with_prepare(int fd, std::uint32_t events, IoCallback cb, Callback prepare);
    // Calls `cb` once, on the next loop iteration, after the events already
    // pending there: for work that should see the result of several events
    // at once (the bus layer's diff of the supervisor's snapshot).
    // `first`: before other deferred work of the same iteration (the bus
    // layer publishes what changed before the supervisor's next step runs).
    EventSource add_defer(Callback cb, bool first = false);
    // Changes the events an io source waits for.
    static void set_io_events(const EventSource& s, std::uint32_t events);

    // Runs until exit() is called; returns the exit code.
    int run();
    void exit(int code = 0);

    // What a callback throws stops at the trampoline (it must never unwind
    // through libsystemd's C frames) and is handed here, with the exception
    // being handled current. Without a handler it is only logged.
    using FaultHandler = std::function<void(const char* where, const std::string& what)>;
    void set_fault_handler(FaultHandler handler);

    [[nodiscard]] sd_event* get() const { return event_; }
    static std::uint64_t now_usec(); // CLOCK_MONOTONIC

private:
    sd_event* event_ = nullptr;
};

// Called by the trampolines; public for them only.
void report_callback_fault(const char* where) noexcept;

} // namespace hgw::daemon
