#pragma once
// The sd_notify socket the daemon gives its gateway (NOTIFY_SOCKET).
// Accepts datagrams only from the current gateway's PID, checked with
// SCM_CREDENTIALS, never from whoever else can reach the socket.

#include "daemon/event_loop.h"
#include "util/unique_fd.h"

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>

namespace hgw::daemon {

// One parsed datagram: "READY=1\nSTATUS=..." -> {{"READY","1"},{"STATUS","..."}}.
using NotifyMessage = std::map<std::string, std::string>;
NotifyMessage parse_notify_message(const std::string& datagram);

class ChildNotifySocket {
public:
    using Handler = std::function<void(pid_t sender, const NotifyMessage& msg)>;

    // Binds `address` ("@name" for an abstract socket, else a path; empty:
    // an abstract name of our own) and calls `handler` for each datagram
    // from the accepted PID. Throws SystemError on failure.
    ChildNotifySocket(EventLoop& loop, std::string address, Handler handler);
    ~ChildNotifySocket();

    // Only datagrams whose sender is `pid` are passed on; 0 accepts none.
    void accept_from(pid_t pid) { accepted_ = pid; }

    // The value for the child's NOTIFY_SOCKET.
    [[nodiscard]] const std::string& address() const { return address_; }

private:
    void on_readable();
    std::string address_;
    UniqueFd fd_;
    EventSource source_;
    Handler handler_;
    pid_t accepted_ = 0;
};

} // namespace hgw::daemon
