#include "cli/migrate/text_files.h"

#include "core/atomic_file.h"
#include "util/errors.h"

#include <fstream>
#include <sstream>

namespace hgw::cli {

namespace fs = std::filesystem;

std::optional<std::string> read_text(const fs::path& path)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot read " + path.string(), "check that you may read it");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_text(const fs::path& path, const std::string& text)
{
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec)
        throw Error("cannot create " + path.parent_path().string() + ": " + ec.message());
    publish_replace(path, text);
}

bool remove_if_holds(const fs::path& path, const std::string& expected)
{
    const std::optional<std::string> now = read_text(path);
    if (!now)
        return true;
    if (*now != expected)
        return false;
    std::error_code ec;
    fs::remove(path, ec);
    if (ec)
        throw Error("cannot remove " + path.string() + ": " + ec.message());
    return true;
}

} // namespace hgw::cli
