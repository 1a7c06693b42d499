#pragma once
// A throw-away Hermes home (or any directory) for one test, removed with
// everything in it.

#include "core/home.h"

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace hgw::test {

class TempHome {
public:
    TempHome();
    // <parent>/<prefix>-XXXXXX instead of the temporary directory's hgw-test-XXXXXX.
    TempHome(const std::filesystem::path& parent, const std::string& prefix);
    ~TempHome();
    TempHome(const TempHome&) = delete;
    TempHome& operator=(const TempHome&) = delete;

    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
    [[nodiscard]] HomePaths paths() const { return paths_for(dir_); }

    // Writes `bytes` to dir()/name with `mode` (applied with chmod, not the umask).
    void write(const std::string& name, const std::string& bytes, mode_t mode = 0644) const;
    [[nodiscard]] std::string read(const std::string& name) const;
    [[nodiscard]] bool exists(const std::string& name) const;

private:
    std::filesystem::path dir_;
};

} // namespace hgw::test
