#include "daemon/home_watch.h"

#include "util/errors.h"

#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstdint>
#include <string_view>

namespace hgw::daemon {

HomeWatch::HomeWatch(EventLoop& loop, std::filesystem::path home, Handler on_change)
    : loop_(loop), home_(std::move(home)), on_change_(std::move(on_change))
{
    fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd_)
        throw_errno("inotify_init1");
    source_ = loop_.add_io(fd_.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); });
    ensure();
}

bool HomeWatch::ensure()
{
    if (wd_ >= 0)
        return true;
    // IN_ATTRIB: a chmod that makes the home writable again; IN_DELETE: a
    // removed file frees space or a blocking path.
    wd_ = ::inotify_add_watch(fd_.get(), home_.c_str(),
                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF |
                                  IN_MOVE_SELF | IN_ONLYDIR);
    return wd_ >= 0;
}

namespace {

void classify(std::string_view name, std::uint32_t mask, HomeChange& c)
{
    constexpr std::uint32_t kAppeared = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE;
    constexpr std::uint32_t kRenamedOrGone = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE;
    if (name == "gateway.pid") {
        c.record = true;
        c.record_created |= (mask & kAppeared) != 0;
    } else if (name == "gateway.lock") {
        c.lock |= (mask & kRenamedOrGone) != 0; // Hermes' readers open it for writing all the time
    } else if (name == ".gateway-takeover.json") {
        c.takeover |= (mask & kAppeared) != 0;
        c.other = true;
    } else if (name == "gateway-starts.log") {
        c.starts_log |= (mask & kAppeared) != 0;
    } else if (name != "gatewayd.lock" && name != "gateway-starts.tmp" && !name.starts_with(".gateway.pid.") &&
               !name.starts_with(".gateway.lock.")) {
        c.other = true;
    }
}

} // namespace

void HomeWatch::on_readable()
{
    alignas(inotify_event) char buf[4096];
    HomeChange c;
    for (;;) {
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n <= 0)
            break;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            if (ev->mask & IN_MOVE_SELF && wd_ >= 0)
                ::inotify_rm_watch(fd_.get(), wd_); // the path names another directory now
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
                wd_ = -1; // the home went away; ensure() watches its successor
            if (ev->mask & IN_Q_OVERFLOW) {
                c.record = c.lock = c.takeover = c.starts_log = c.other = true; // look at everything
            } else if (ev->len) {
                classify(ev->name, ev->mask, c);
            } else {
                c.other = true; // the home itself
            }
            p += sizeof(inotify_event) + ev->len;
        }
    }
    if (c.record || c.lock || c.takeover || c.starts_log || c.other)
        on_change_(c);
}

} // namespace hgw::daemon
