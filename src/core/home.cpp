#include "core/home.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace hgw {

std::filesystem::path user_home_dir()
{
    if (const char* h = std::getenv("HOME"); h && *h)
        return h;
    if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_dir)
        return pw->pw_dir;
    return "/";
}

std::filesystem::path xdg_dir(const char* variable, const char* fallback)
{
    if (const char* x = std::getenv(variable); x && x[0] == '/')
        return x;
    return user_home_dir() / fallback;
}

std::filesystem::path default_home()
{
    if (const char* h = std::getenv("HERMES_HOME")) {
        std::string v(h);
        auto b = v.find_first_not_of(" \t\n");
        auto e = v.find_last_not_of(" \t\n");
        if (b != std::string::npos)
            return v.substr(b, e - b + 1);
    }
    return user_home_dir() / ".hermes";
}

HomePaths paths_for(const std::filesystem::path& home)
{
    auto abs = std::filesystem::absolute(home).lexically_normal();
    if (abs.has_filename() == false && abs.has_parent_path() && abs != abs.root_path())
        abs = abs.parent_path(); // drop a trailing slash
    return {abs, abs / "gateway.pid", abs / "gateway.lock"};
}

std::filesystem::path canonical_home(const std::filesystem::path& home)
{
    std::error_code ec;
    auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(home, ec), ec);
    if (ec)
        return std::filesystem::absolute(home).lexically_normal();
    std::string s = p.string();
    while (s.size() > 1 && s.back() == '/')
        s.pop_back();
    return s;
}

} // namespace hgw
