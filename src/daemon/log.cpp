#include "daemon/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace hgw::daemon::log {

namespace {

bool g_journal = false;
Level g_level = Level::Info;
std::shared_ptr<spdlog::logger> g_stderr;

int syslog_priority(Level l)
{
    switch (l) {
    case Level::Debug: return LOG_DEBUG;
    case Level::Info: return LOG_INFO;
    case Level::Warning: return LOG_WARNING;
    case Level::Error: return LOG_ERR;
    }
    return LOG_INFO;
}

spdlog::level::level_enum spd_level(Level l)
{
    switch (l) {
    case Level::Debug: return spdlog::level::debug;
    case Level::Info: return spdlog::level::info;
    case Level::Warning: return spdlog::level::warn;
    case Level::Error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

// One message, one line: a reason a caller sent (or a gateway's STATUS=)
// must not be able to forge further log lines.
std::string escape_controls(const std::string& message)
{
    std::string out;
    out.reserve(message.size());
    for (unsigned char c : message) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

} // namespace

void setup(const std::string& target, const std::string& level)
{
    // systemd sets JOURNAL_STREAM when our stderr is connected to the journal.
    g_journal = target == "journal" || (target == "auto" && std::getenv("JOURNAL_STREAM") != nullptr);
    g_level = level == "debug" ? Level::Debug : level == "warning" ? Level::Warning
            : level == "error" ? Level::Error : Level::Info;
    g_stderr = spdlog::stderr_logger_st("hermes-gatewayd");
    g_stderr->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    g_stderr->set_level(spd_level(g_level));
}

void write(Level level, const std::string& message, pid_t gateway_pid, std::uint64_t generation)
{
    if (level < g_level)
        return;
    std::string text = escape_controls(message);
    if (g_journal) {
        if (gateway_pid > 0)
            sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", syslog_priority(level),
                            "SYSLOG_IDENTIFIER=hermes-gatewayd", "GATEWAY_PID=%d", static_cast<int>(gateway_pid),
                            "GATEWAY_GENERATION=%llu", static_cast<unsigned long long>(generation), nullptr);
        else
            sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", syslog_priority(level),
                            "SYSLOG_IDENTIFIER=hermes-gatewayd", nullptr);
        return;
    }
    if (!g_stderr)
        setup("stderr", "info");
    if (gateway_pid > 0)
        text += " [gateway pid " + std::to_string(gateway_pid) + ", generation " + std::to_string(generation) + "]";
    g_stderr->log(spd_level(level), text);
}

} // namespace hgw::daemon::log
