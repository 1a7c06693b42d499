#include "support/temp_home.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hgw::test {

TempHome::TempHome() : TempHome(std::filesystem::temp_directory_path(), "hgw-test") {}

TempHome::TempHome(const std::filesystem::path& parent, const std::string& prefix)
{
    std::string tmpl = (parent / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data()))
        throw std::runtime_error("mkdtemp in " + parent.string() + " failed");
    dir_ = tmpl;
    // Other uids (setpriv tests) must be able to reach the home.
    ::chmod(dir_.c_str(), 0755);
}

TempHome::~TempHome()
{
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void TempHome::write(const std::string& name, const std::string& bytes, mode_t mode) const
{
    auto p = dir_ / name;
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    ::chmod(p.c_str(), mode);
}

std::string TempHome::read(const std::string& name) const
{
    std::ifstream in(dir_ / name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool TempHome::exists(const std::string& name) const
{
    struct stat st {};
    return ::lstat((dir_ / name).c_str(), &st) == 0;
}

} // namespace hgw::test
