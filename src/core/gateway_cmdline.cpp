#include "core/gateway_cmdline.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace hgw {

namespace {

// Hermes lower-cases tokens, strips quotes and normalises backslashes.
std::string normalise(std::string_view token)
{
    std::string t;
    for (char c : token) {
        if (c == '"' || c == '\'')
            continue;
        t.push_back(c == '\\' ? '/' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return t;
}

std::string basename_of(const std::string& t)
{
    auto slash = t.rfind('/');
    return slash == std::string::npos ? t : t.substr(slash + 1);
}

bool ends_with(const std::string& s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Tokens as Hermes sees them: the argv joined by spaces and split again, so
// an argument holding spaces is judged the same way Hermes judges it.
std::vector<std::string> tokens_of(const std::vector<std::string>& argv)
{
    std::vector<std::string> out;
    for (const auto& arg : argv) {
        std::size_t i = 0;
        while (i < arg.size()) {
            auto j = arg.find_first_of(" \t\n", i);
            if (j == std::string::npos)
                j = arg.size();
            if (j > i)
                out.push_back(normalise(std::string_view(arg).substr(i, j - i)));
            i = j + 1;
        }
    }
    return out;
}

bool is_dedicated_entrypoint(const std::vector<std::string>& tokens)
{
    return std::any_of(tokens.begin(), tokens.end(), [](const std::string& t) {
        auto base = basename_of(t);
        return t == "gateway/run.py" || ends_with(t, "/gateway/run.py") ||
               base == "hermes-gateway" || base == "hermes-gateway.exe";
    });
}

bool has_hermes_entrypoint(const std::vector<std::string>& tokens)
{
    return std::any_of(tokens.begin(), tokens.end(), [](const std::string& t) {
        auto base = basename_of(t);
        return base == "hermes" || base == "hermes.exe" ||
               t.find("hermes_cli.main") != std::string::npos ||
               t.find("hermes_cli/main.py") != std::string::npos;
    });
}

} // namespace

bool looks_like_gateway(const std::vector<std::string>& argv)
{
    auto tokens = tokens_of(argv);
    if (tokens.empty())
        return false;
    if (is_dedicated_entrypoint(tokens))
        return true;
    if (!has_hermes_entrypoint(tokens))
        return false;

    std::vector<std::string> filtered;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const auto& t = tokens[i];
        if (t == "--profile" || t == "-p") {
            ++i; // also consumes the profile's name
            continue;
        }
        if (t.rfind("--profile=", 0) == 0 || t.rfind("-p=", 0) == 0)
            continue;
        filtered.push_back(t);
    }
    auto it = std::find(filtered.begin(), filtered.end(), "gateway");
    if (it == filtered.end())
        return false;
    if (++it == filtered.end())
        return true; // bare `hermes gateway` runs the gateway
    return *it == "run" || *it == "restart";
}

} // namespace hgw
