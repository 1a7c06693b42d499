#include "support/etcd_cluster.h"

#include "support/free_ports.h"
#include "support/http_client.h"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <signal.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace hgw::test {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Start-up and leader elections are waited for by asking again at this
// pace: etcd offers nothing to wait on from outside.
constexpr auto kRetry = std::chrono::milliseconds(100);
constexpr int kStartAttempts = 5;

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string random_token()
{
    std::mt19937_64 random(std::random_device{}());
    std::ostringstream out;
    out << "hgw-test-" << std::hex << random();
    return out.str();
}

void check(const EtcdClusterOptions& o)
{
    if (o.members == 0)
        throw std::invalid_argument("EtcdCluster: a cluster needs at least one member");
    if (o.listen_addresses.empty())
        throw std::invalid_argument("EtcdCluster: listen_addresses is empty");
    in_addr a{};
    for (const auto& address : o.listen_addresses)
        if (::inet_pton(AF_INET, address.c_str(), &a) != 1)
            throw std::invalid_argument("EtcdCluster: listen address '" + address + "' is not an IPv4 address");
    if (::inet_pton(AF_INET, o.advertise_address.c_str(), &a) != 1 || o.advertise_address == "0.0.0.0")
        throw std::invalid_argument("EtcdCluster: advertise_address '" + o.advertise_address +
                                    "' is not an IPv4 address a client can connect to");
    if (o.heartbeat.count() <= 0 || o.election_timeout < 5 * o.heartbeat)
        throw std::invalid_argument("EtcdCluster: etcd wants an election timeout of at least 5 heartbeats (" +
                                    std::to_string(o.election_timeout.count()) + " ms, " +
                                    std::to_string(o.heartbeat.count()) + " ms)");
}

// A member's /v3/maintenance/status answer, or nothing if it gave none.
std::optional<json> member_status(std::uint16_t port)
{
    HttpResponse r = http_request({"POST", "127.0.0.1", port, "/v3/maintenance/status", "{}", std::chrono::seconds(2)});
    if (!r.ok())
        return std::nullopt;
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::nullopt;
    return j;
}

std::string string_at(const json& j, const json::json_pointer& where)
{
    if (!j.contains(where) || !j.at(where).is_string())
        return {};
    return j.at(where).get<std::string>();
}

} // namespace

EtcdCluster::EtcdCluster(EtcdClusterOptions options)
    : options_((check(options), std::move(options))),
      dir_(options_.parent.empty() ? std::filesystem::temp_directory_path() : options_.parent, "hgw-etcd")
{
    for (std::size_t i = 0; i < options_.members; ++i)
        members_.push_back({"m" + std::to_string(i), 0, 0, {}, std::nullopt});
    for (int attempt = 1;; ++attempt) {
        token_ = random_token();
        auto ports = free_ports(2 * members_.size());
        for (std::size_t i = 0; i < members_.size(); ++i) {
            members_[i].client_port = ports[2 * i];
            members_[i].peer_port = ports[2 * i + 1];
        }
        if (start_all() == Start::healthy)
            break;
        // Another process bound one of our ports after the probe: start
        // afresh on new ones, with new data directories.
        for (std::size_t i = 0; i < members_.size(); ++i) {
            end(i, SIGKILL);
            std::filesystem::remove_all(dir() / members_[i].name);
        }
        if (attempt == kStartAttempts)
            throw std::runtime_error("EtcdCluster: a port was taken on each of " + std::to_string(kStartAttempts) +
                                     " attempts; the logs:\n" + logs());
    }
    for (std::size_t i = 0; i < members_.size(); ++i) {
        auto status = member_status(members_[i].client_port);
        members_[i].id = status ? string_at(*status, json::json_pointer("/header/member_id")) : "";
        if (members_[i].id.empty())
            throw std::runtime_error("EtcdCluster: member " + members_[i].name + " is healthy but its status "
                                     "names no member_id; its log:\n" + log_tail(i));
    }
}

EtcdCluster::~EtcdCluster()
{
    // Child's destructor SIGKILLs and reaps: the data is thrown away anyway.
    for (auto& m : members_)
        m.process.reset();
}

EtcdCluster::Start EtcdCluster::start_all()
{
    for (std::size_t i = 0; i < members_.size(); ++i)
        start(i);
    const auto deadline = Clock::now() + options_.start_timeout;
    for (;;) {
        bool all = true;
        for (std::size_t i = 0; i < members_.size(); ++i) {
            if (members_[i].process->wait_exited_unreaped(std::chrono::milliseconds(0))) {
                if (read_file(log_path(i)).find("address already in use") != std::string::npos)
                    return Start::address_in_use;
                throw std::runtime_error("EtcdCluster: member " + members_[i].name +
                                         " exited while the cluster started; its log:\n" + log_tail(i));
            }
            all = all && healthy(i);
        }
        if (all)
            return Start::healthy;
        if (Clock::now() > deadline)
            throw std::runtime_error("EtcdCluster: not every member was healthy within " +
                                     std::to_string(options_.start_timeout.count()) + " ms; the logs:\n" + logs());
        std::this_thread::sleep_for(kRetry);
    }
}

std::string EtcdCluster::initial_cluster() const
{
    std::string out;
    for (const auto& m : members_)
        out += (out.empty() ? "" : ",") + m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
    return out;
}

std::vector<std::string> EtcdCluster::command(std::size_t i) const
{
    const Member& m = at(i);
    const std::string client = std::to_string(m.client_port);
    const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
    std::string listen;
    for (const auto& address : options_.listen_addresses)
        listen += (listen.empty() ? "" : ",") + ("http://" + address + ":" + client);
    // --initial-cluster* only matter the first time: a member started again
    // on its data directory rejoins with what it stored there.
    return {options_.etcd,
            "--name", m.name,
            "--data-dir", (dir() / m.name).string(),
            "--listen-client-urls", listen,
            "--advertise-client-urls", "http://" + options_.advertise_address + ":" + client,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", initial_cluster(),
            "--initial-cluster-token", token_,
            "--initial-cluster-state", "new",
            "--heartbeat-interval", std::to_string(options_.heartbeat.count()),
            "--election-timeout", std::to_string(options_.election_timeout.count()),
            "--logger", "zap",
            "--log-outputs", "stderr"};
}

const EtcdCluster::Member& EtcdCluster::at(std::size_t i) const
{
    if (i >= members_.size())
        throw std::out_of_range("EtcdCluster: no member " + std::to_string(i) + " in a cluster of " +
                                std::to_string(members_.size()));
    return members_[i];
}

EtcdCluster::Member& EtcdCluster::at(std::size_t i)
{
    return const_cast<Member&>(std::as_const(*this).at(i));
}

std::string EtcdCluster::client_url(std::size_t i, const std::string& address) const
{
    return "http://" + address + ":" + std::to_string(at(i).client_port);
}

std::string EtcdCluster::client_urls(const std::string& address) const
{
    std::string out;
    for (std::size_t i = 0; i < members_.size(); ++i)
        out += (out.empty() ? "" : ",") + client_url(i, address);
    return out;
}

std::uint16_t EtcdCluster::client_port(std::size_t i) const { return at(i).client_port; }
std::uint16_t EtcdCluster::peer_port(std::size_t i) const { return at(i).peer_port; }
const std::string& EtcdCluster::member_id(std::size_t i) const { return at(i).id; }
bool EtcdCluster::running(std::size_t i) const { return at(i).process.has_value(); }
pid_t EtcdCluster::pid(std::size_t i) const { return running(i) ? at(i).process->pid() : 0; }

void EtcdCluster::start(std::size_t i)
{
    Member& m = at(i);
    if (m.process)
        throw std::logic_error("EtcdCluster::start: member " + m.name + " runs already");
    SpawnOptions so;
    so.output_file = log_path(i).string();
    so.die_with_parent = true;
    m.process.emplace(Child::spawn(command(i), so));
}

void EtcdCluster::end(std::size_t i, int sig)
{
    Member& m = at(i);
    if (!m.process)
        return;
    m.process->signal(sig);
    if (!m.process->wait(kTimeout)) {
        // It did not stop on SIGTERM in time: the destructor SIGKILLs it.
        m.process.reset();
        throw std::runtime_error("EtcdCluster: member " + m.name + " did not exit within " +
                                 std::to_string(kTimeout.count()) + " ms of signal " + std::to_string(sig) +
                                 "; killed. Its log:\n" + log_tail(i));
    }
    m.process.reset();
}

void EtcdCluster::stop(std::size_t i) { end(i, SIGTERM); }
void EtcdCluster::kill(std::size_t i) { end(i, SIGKILL); }

bool EtcdCluster::healthy(std::size_t i) const
{
    HttpResponse r = http_get("127.0.0.1", at(i).client_port, "/health", std::chrono::seconds(2));
    if (!r.ok())
        return false;
    json j = json::parse(r.body, nullptr, false);
    return !j.is_discarded() && j.is_object() && j.value("health", std::string{}) == "true";
}

void EtcdCluster::wait_healthy(std::size_t i, std::chrono::milliseconds timeout) const
{
    const auto deadline = Clock::now() + timeout;
    while (!healthy(i)) {
        if (Clock::now() > deadline)
            throw std::runtime_error("EtcdCluster: member " + at(i).name + " not healthy within " +
                                     std::to_string(timeout.count()) + " ms; its log:\n" + log_tail(i));
        std::this_thread::sleep_for(kRetry);
    }
}

std::optional<std::size_t> EtcdCluster::leader() const
{
    std::optional<std::string> leader_id;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        if (!running(i))
            continue;
        auto status = member_status(members_[i].client_port);
        if (!status)
            continue;
        std::string id = string_at(*status, json::json_pointer("/leader"));
        if (id.empty() || id == "0" || (leader_id && *leader_id != id))
            return std::nullopt; // no leader, or an election under way
        leader_id = id;
    }
    for (std::size_t i = 0; leader_id && i < members_.size(); ++i)
        if (members_[i].id == *leader_id && running(i))
            return i;
    return std::nullopt;
}

std::size_t EtcdCluster::wait_leader(std::chrono::milliseconds timeout) const
{
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (auto l = leader())
            return *l;
        if (Clock::now() > deadline)
            throw std::runtime_error("EtcdCluster: no leader within " + std::to_string(timeout.count()) +
                                     " ms; the logs:\n" + logs());
        std::this_thread::sleep_for(kRetry);
    }
}

std::vector<std::string> EtcdCluster::etcdctl(const std::vector<std::string>& args, const std::string& address) const
{
    std::vector<std::string> argv = {options_.etcdctl, "--endpoints", client_urls(address)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

std::filesystem::path EtcdCluster::log_path(std::size_t i) const { return dir() / (at(i).name + ".log"); }

std::string EtcdCluster::log_tail(std::size_t i, std::size_t lines) const
{
    const std::string text = read_file(log_path(i));
    std::size_t from = text.size();
    if (from > 0 && text[from - 1] == '\n')
        --from; // the last line's own newline
    for (std::size_t n = 0; n < lines && from > 0; ++n) {
        auto newline = text.rfind('\n', from - 1);
        from = newline == std::string::npos ? 0 : newline;
    }
    return text.substr(from == 0 ? 0 : from + 1);
}

std::string EtcdCluster::logs() const
{
    std::string out;
    for (std::size_t i = 0; i < members_.size(); ++i)
        out += "--- " + members_[i].name + " (" + log_path(i).string() + ")\n" + log_tail(i, 8);
    return out;
}

} // namespace hgw::test
