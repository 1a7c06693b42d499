#pragma once
// A Hermes home on a tiny tmpfs of its own, for the faults only a file
// system can make: a full disk (ENOSPC) and a read-only one (EROFS).
// Mounting needs root: tests call needs_root() first and report themselves
// skipped otherwise (see tests/CMakeLists.txt).

#include "core/home.h"
#include "helpers/needs_root.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace hgw::test {

class TmpfsHome {
public:
    explicit TmpfsHome(const std::string& size = "64k")
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "hgw-tmpfs-XXXXXX").string();
        if (!::mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        std::string opts = "size=" + size + ",mode=0755";
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
            ::rmdir(dir_.c_str());
            throw std::runtime_error("mount tmpfs failed: " + std::to_string(errno));
        }
    }
    ~TmpfsHome()
    {
        ::umount2(dir_.c_str(), MNT_DETACH);
        ::rmdir(dir_.c_str());
    }
    TmpfsHome(const TmpfsHome&) = delete;
    TmpfsHome& operator=(const TmpfsHome&) = delete;

    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
    [[nodiscard]] HomePaths paths() const { return paths_for(dir_); }

    void remount(bool read_only) const
    {
        unsigned long flags = MS_REMOUNT | MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
        if (::mount(nullptr, dir_.c_str(), nullptr, flags, nullptr) != 0)
            throw std::runtime_error("remount failed: " + std::to_string(errno));
    }

    // Fills the file system with one-page files until it is full, then frees
    // `pages_left` of them: exactly that many pages stay free.
    void fill(int pages_left = 0) const
    {
        const std::string page(4096, 'x');
        int n = 0;
        for (;; ++n) {
            auto p = dir_ / ("filler-" + std::to_string(n));
            int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0)
                break;
            ssize_t w = ::write(fd, page.data(), page.size());
            ::close(fd);
            if (w != static_cast<ssize_t>(page.size())) {
                ::unlink(p.c_str());
                break;
            }
        }
        for (int i = 0; i < pages_left && n - 1 - i >= 0; ++i)
            ::unlink((dir_ / ("filler-" + std::to_string(n - 1 - i))).c_str());
    }

    // Names in the home other than the fillers, sorted.
    [[nodiscard]] std::vector<std::string> entries() const
    {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(dir_)) {
            auto name = e.path().filename().string();
            if (name.rfind("filler-", 0) != 0)
                out.push_back(name);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    std::filesystem::path dir_;
};

} // namespace hgw::test
