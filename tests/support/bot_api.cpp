#include "support/bot_api.h"

#include "support/http_client.h"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hgw::test {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::vector<json> read_json_lines(const std::filesystem::path& path)
{
    std::vector<json> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            out.push_back(json::parse(line)); // a torn line is a bug worth an exception
    return out;
}

// The value of `key=` in an event datagram ("KEY=value" lines).
std::string field(const std::string& message, const std::string& key)
{
    const std::string tag = key + "=";
    std::istringstream lines(message);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(tag, 0) == 0)
            return line.substr(tag.size());
    return {};
}

} // namespace

BotApi::BotApi(const std::string& bind, const std::filesystem::path& parent)
    : bind_(bind), dir_(parent.empty() ? std::filesystem::temp_directory_path() : parent, "hgw-botapi"),
      events_(std::make_unique<NotifyListener>((dir_.dir() / "events.sock").string()))
{
    SpawnOptions so;
    so.env["NOTIFY_SOCKET"] = events_->path();
    so.output_file = (dir_.dir() / "server.log").string();
    so.die_with_parent = true;
    server_.emplace(Child::spawn({source_path("tests/stub/bot_api.py"), "--bind", bind, "--overlap-log",
                                  overlap_log().string(), "--poll-log", poll_log().string()},
                                 so));
    auto ready = events_->find_text("READY=1", 0);
    if (!ready)
        throw std::runtime_error("BotApi: tests/stub/bot_api.py did not start listening; its output:\n" + output());
    port_ = static_cast<std::uint16_t>(std::stoi(field(events_->messages()[*ready], "PORT")));
}

BotApi::~BotApi()
{
    if (server_) {
        server_->signal(SIGTERM);
        server_->wait(); // on timeout Child's destructor SIGKILLs it
    }
}

std::string BotApi::url(const std::string& address) const { return "http://" + address + ":" + std::to_string(port_); }

json BotApi::stats() const
{
    const std::string host = bind_ == "0.0.0.0" ? "127.0.0.1" : bind_;
    HttpResponse r = http_get(host, port_, "/stats");
    if (!r.ok())
        throw std::runtime_error("BotApi: GET /stats failed: " +
                                 (r.status ? std::to_string(r.status) + " " + r.body : r.error));
    return json::parse(r.body);
}

std::vector<json> BotApi::overlaps() const { return read_json_lines(overlap_log()); }
std::vector<json> BotApi::polls() const { return read_json_lines(poll_log()); }

std::optional<BotApi::PollBegin> BotApi::first_begin(double since,
                                                      const std::function<bool(const std::string&)>& which) const
{
    for (const auto& e : polls()) {
        PollBegin b{e.value("poller", ""), e.value("mono", 0.0)};
        if (e.value("event", "") == "begin" && b.mono >= since && which(b.poller))
            return b;
    }
    return std::nullopt;
}

std::string BotApi::output() const
{
    std::ifstream in(dir_.dir() / "server.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool BotApi::wait_events(const std::string& kind, const std::string& poller_prefix, std::size_t count,
                         std::chrono::milliseconds timeout)
{
    const auto deadline = Clock::now() + timeout;
    auto matches = [&](const std::string& m) {
        return m.rfind(kind + "=", 0) == 0 && field(m, "POLLER").rfind(poller_prefix, 0) == 0;
    };
    std::size_t from = 0;
    for (std::size_t found = 0; found < count; ++found) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto at = events_->find(matches, from, std::max(left, std::chrono::milliseconds(0)));
        if (!at)
            return false;
        from = *at + 1;
    }
    return true;
}

bool BotApi::wait_overlaps(std::size_t count, std::chrono::milliseconds timeout)
{
    return wait_events("OVERLAP", "", count, timeout);
}

bool BotApi::wait_polls(const std::string& poller_prefix, std::size_t count, std::chrono::milliseconds timeout)
{
    return wait_events("POLL", poller_prefix, count, timeout);
}

bool BotApi::wait_poll_end(const std::string& poller_prefix, std::chrono::milliseconds timeout)
{
    return wait_events("END", poller_prefix, 1, timeout);
}

} // namespace hgw::test
