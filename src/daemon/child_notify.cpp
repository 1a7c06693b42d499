#include "daemon/child_notify.h"

#include "util/errors.h"

#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

namespace hgw::daemon {

namespace {

// Larger than any sd_notify message (systemd itself accepts 4 KiB); a
// datagram that still does not fit is dropped rather than read in part.
constexpr std::size_t kDatagramBuffer = 64 * 1024;
// Datagrams handled per wake-up, so a flood from some other process cannot
// starve the rest of the loop; the level-triggered source calls us again.
constexpr int kMaxPerWakeup = 64;
// Room for the credentials and for as many fds as one message may carry
// (SCM_MAX_FD), which we close.
constexpr std::size_t kControlBuffer = CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 253);

std::string random_abstract_name()
{
    std::array<unsigned char, 8> bytes{};
    if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
        throw_errno("getrandom");
    std::string hex;
    for (unsigned char b : bytes) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", b);
        hex += two;
    }
    return "@hermes-gatewayd/" + std::to_string(::getpid()) + "/" + hex;
}

struct SocketAddress {
    sockaddr_un sun{};
    socklen_t length = 0;
};

// "@name" is abstract (sun_path starts with a 0 byte and is not
// NUL-terminated); anything else is a filesystem path.
SocketAddress to_sockaddr(const std::string& address)
{
    SocketAddress a;
    a.sun.sun_family = AF_UNIX;
    bool abstract = !address.empty() && address[0] == '@';
    // A path needs its terminating NUL; an abstract name its leading 0 byte.
    if (address.size() >= sizeof a.sun.sun_path || (abstract && address.size() < 2) || address.empty())
        throw Error("notify socket address '" + address + "' does not fit a unix socket address",
                    "use a shorter path or abstract name");
    std::memcpy(a.sun.sun_path, address.data(), address.size());
    if (abstract)
        a.sun.sun_path[0] = '\0';
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));
    return a;
}

// A socket file left by a previous run is removed, but only a socket nobody
// listens on any more: never a regular file, never a live daemon's socket.
void remove_stale_socket(const std::string& path, const SocketAddress& addr)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return; // nothing there (or unreadable: bind will say why)
    if (!S_ISSOCK(st.st_mode))
        throw Error("notify socket path " + path + " exists and is not a socket",
                    "remove it or choose another --notify-socket");
    UniqueFd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!probe)
        throw_errno("socket");
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr.sun), addr.length) == 0)
        throw Error("notify socket " + path + " is in use by another process",
                    "another hermes-gatewayd may be running; choose another --notify-socket");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        throw_errno("unlink " + path);
}

// Closes every fd a datagram carried: we keep no fd store.
void close_passed_fds(msghdr& msg)
{
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < n; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (fd >= 0)
                ::close(fd);
        }
    }
}

std::optional<ucred> credentials_of(msghdr& msg)
{
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
            ucred cred{};
            std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
            return cred;
        }
    }
    return std::nullopt;
}

} // namespace

NotifyMessage parse_notify_message(const std::string& datagram)
{
    NotifyMessage msg;
    std::size_t pos = 0;
    while (pos < datagram.size()) {
        std::size_t end = datagram.find('\n', pos);
        if (end == std::string::npos)
            end = datagram.size();
        std::string_view line(datagram.data() + pos, end - pos);
        std::size_t eq = line.find('=');
        if (eq != std::string_view::npos && eq > 0)
            msg.insert_or_assign(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
        pos = end + 1;
    }
    return msg;
}

ChildNotifySocket::ChildNotifySocket(EventLoop& loop, std::string address, Handler handler)
    : address_(address.empty() ? random_abstract_name() : std::move(address)), handler_(std::move(handler))
{
    SocketAddress addr = to_sockaddr(address_);
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_)
        throw_errno("socket(AF_UNIX, SOCK_DGRAM)");
    int on = 1;
    if (::setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0)
        throw_errno("setsockopt(SO_PASSCRED)");

    bool is_path = address_[0] != '@';
    if (is_path)
        remove_stale_socket(address_, addr);
    if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr.sun), addr.length) != 0)
        throw_errno("bind notify socket " + address_, "choose another --notify-socket");
    // The gateway may run as another user; who may send is decided by the
    // credential check below, not by the file mode.
    if (is_path && ::chmod(address_.c_str(), 0666) != 0)
        throw_errno("chmod " + address_);

    source_ = loop.add_io(fd_.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); });
}

ChildNotifySocket::~ChildNotifySocket()
{
    source_.reset();
    if (!address_.empty() && address_[0] != '@')
        ::unlink(address_.c_str());
}

// The handler may call accept_from() but must not destroy this socket.
void ChildNotifySocket::on_readable()
{
    std::vector<char> data(kDatagramBuffer);
    alignas(cmsghdr) std::array<char, kControlBuffer> control{};

    for (int n = 0; n < kMaxPerWakeup; ++n) {
        iovec iov{data.data(), data.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();

        ssize_t len = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            return; // EAGAIN: drained; anything else: nothing we can do here
        }
        close_passed_fds(msg);
        // Truncated data or control (credentials possibly lost): drop it whole.
        if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
            continue;
        std::optional<ucred> cred = credentials_of(msg);
        if (!cred || accepted_ == 0 || cred->pid != accepted_)
            continue;
        if (len == 0)
            continue;
        handler_(cred->pid, parse_notify_message(std::string(data.data(), static_cast<std::size_t>(len))));
    }
}

} // namespace hgw::daemon
