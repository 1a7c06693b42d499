#include "support/http_client.h"

#include "util/unique_fd.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace hgw::test {

namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline)
{
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return false;
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0;
    }
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// The body of a chunked message, or nothing if it is malformed or cut short.
std::optional<std::string> dechunk(const std::string& raw)
{
    std::string out;
    std::size_t at = 0;
    for (;;) {
        auto eol = raw.find("\r\n", at);
        if (eol == std::string::npos)
            return std::nullopt;
        std::size_t size = 0;
        try {
            size = std::stoul(raw.substr(at, eol - at), nullptr, 16);
        } catch (const std::exception&) {
            return std::nullopt;
        }
        at = eol + 2;
        if (size == 0)
            return out;
        if (raw.size() < at + size)
            return std::nullopt;
        out.append(raw, at, size);
        at += size + 2;
    }
}

HttpResponse parse(const std::string& raw)
{
    HttpResponse r;
    auto head_end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || raw.size() < 12) {
        r.error = "not an HTTP answer: " + raw.substr(0, 80);
        return r;
    }
    std::string head = raw.substr(0, head_end);
    for (auto& c : head)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string body = raw.substr(head_end + 4);
    if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
        auto plain = dechunk(body);
        if (!plain) {
            r.error = "malformed chunked body";
            return r;
        }
        body = std::move(*plain);
    }
    r.status = std::atoi(raw.c_str() + 9);
    r.body = std::move(body);
    return r;
}

} // namespace

HttpResponse http_request(const HttpRequest& req)
{
    HttpResponse fail;
    const auto deadline = Clock::now() + req.timeout;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(req.port);
    if (::inet_pton(AF_INET, req.host.c_str(), &addr.sin_addr) != 1) {
        fail.error = "not an IPv4 address: '" + req.host + "'";
        return fail;
    }
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        fail.error = errno_text("socket");
        return fail;
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
        fail.error = errno_text("connect");
        return fail;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
        fail.error = "connect timed out";
        return fail;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr != 0) {
        fail.error = std::string("connect: ") + std::strerror(soerr);
        return fail;
    }

    std::string out = req.method + " " + req.path + " HTTP/1.1\r\nHost: " + req.host + ":" +
                      std::to_string(req.port) + "\r\nConnection: close\r\n";
    if (!req.body.empty() || req.method == "POST")
        out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(req.body.size()) + "\r\n";
    out += "\r\n" + req.body;
    for (std::size_t sent = 0; sent < out.size();) {
        if (!wait_for(fd.get(), POLLOUT, deadline)) {
            fail.error = "send timed out";
            return fail;
        }
        ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            fail.error = errno_text("send");
            return fail;
        }
        sent += static_cast<std::size_t>(n);
    }

    // Connection: close: the answer ends where the stream does.
    std::string raw;
    for (;;) {
        if (!wait_for(fd.get(), POLLIN, deadline)) {
            fail.error = "no complete answer before the deadline";
            return fail;
        }
        char buf[8192];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            fail.error = errno_text("recv");
            return fail;
        }
        if (n == 0)
            break;
        raw.append(buf, static_cast<std::size_t>(n));
    }
    return parse(raw);
}

} // namespace hgw::test
