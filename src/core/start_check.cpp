#include "core/start_check.h"

#include "core/record_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hgw {

namespace {

StartCheck refuse(std::string problem, std::string hint)
{
    return {false, std::move(problem), std::move(hint)};
}

// gateway.pid or gateway.lock: absent, or a regular file we may trust.
StartCheck check_file(const std::filesystem::path& path)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return {};
        return refuse(path.string() + " cannot be examined: " + std::strerror(errno),
                      "check the permissions of the Hermes home");
    }
    if (!S_ISREG(st.st_mode))
        return refuse(path.string() + " is " + file_type_name(st.st_mode) + ", not a regular file",
                      "remove it by hand; a gateway cannot start while it is there");
    if (auto why = trust_problem(st.st_uid, st.st_gid, st.st_mode, directory_owner(path)); !why.empty())
        return refuse(path.string() + " " + why, "fix its owner and mode, or remove it");
    return {};
}

} // namespace

StartCheck check_home_exists(const HomePaths& paths)
{
    struct stat st {};
    if (::stat(paths.home.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return refuse("the Hermes home " + paths.home.string() + " does not exist",
                          "create it, or point --home or $HERMES_HOME at the right directory");
        return refuse("the Hermes home " + paths.home.string() + " cannot be examined: " + std::strerror(errno),
                      "check the permissions of its parent directories");
    }
    if (!S_ISDIR(st.st_mode))
        return refuse("the Hermes home " + paths.home.string() + " is " + file_type_name(st.st_mode) +
                          ", not a directory",
                      "point --home or $HERMES_HOME at a directory");
    return {};
}

StartCheck check_can_start(const HomePaths& paths)
{
    if (auto home = check_home_exists(paths); !home)
        return home;
    struct statvfs vfs {};
    if (::statvfs(paths.home.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
        return refuse("the Hermes home " + paths.home.string() + " is on a read-only file system",
                      "remount it read-write; the gateway must write gateway.pid and gateway.lock there");
    // AT_EACCESS: as the gateway will be, with our effective ids.
    if (::faccessat(AT_FDCWD, paths.home.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
        return refuse("the Hermes home " + paths.home.string() + " is not writable: " + std::strerror(errno),
                      "give the gateway's user write access to it");
    if (auto pid = check_file(paths.pid_file); !pid)
        return pid;
    return check_file(paths.lock_file);
}

} // namespace hgw
