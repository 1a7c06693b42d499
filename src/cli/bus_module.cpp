#include "cli/bus_module.h"

#include "cli/exit_codes.h"
#include "cli/output.h"

#include <dlfcn.h>

#include <filesystem>
#include <string>
#include <system_error>

#ifndef HGW_CTL_MODULE_RELDIR
#error "HGW_CTL_MODULE_RELDIR must name the module's directory relative to the binary's"
#endif
#ifndef HGW_CTL_MODULE_NAME
#error "HGW_CTL_MODULE_NAME must name the module's file"
#endif
#ifndef HGW_CTL_MODULE_INSTALLED
#error "HGW_CTL_MODULE_INSTALLED must name the installed module's absolute path"
#endif

namespace hgw::cli {

namespace {

namespace fs = std::filesystem;

// Next to the running binary, whichever prefix it was installed under; the
// installed path only if /proc cannot say where we run from.
fs::path module_path()
{
    std::error_code ec;
    std::string exe = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec || exe.empty())
        return HGW_CTL_MODULE_INSTALLED;
    // The binary was replaced (an upgrade) while we started: its directory
    // is still the one to look in.
    constexpr std::string_view kDeleted = " (deleted)";
    if (exe.ends_with(kDeleted))
        exe.resize(exe.size() - kDeleted.size());
    return (fs::path(exe).parent_path() / HGW_CTL_MODULE_RELDIR / HGW_CTL_MODULE_NAME).lexically_normal();
}

int cannot_load(const std::string& why)
{
    print_error("hermes-gatewayctl: cannot load its D-Bus client module: " + why +
                " (the bus commands need it; reinstall hermes-gatewayd)\n");
    return exit_codes::kFailed;
}

} // namespace

int run_bus_command(const BusRequest& request)
{
    const fs::path path = module_path();
    // Never unloaded: the process ends with the command, and the module's
    // atexit work (flushing the bus) must find its code still mapped.
    void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module)
        return cannot_load(dlerror()); // names the path
    void* symbol = dlsym(module, kBusModuleEntry);
    if (!symbol)
        return cannot_load(path.string() + " is from another version of hermes-gatewayctl (it has no " +
                           std::string(kBusModuleEntry) + ")");
    auto entry = reinterpret_cast<BusModuleEntry>(symbol);
    return entry(&request, sizeof request);
}

} // namespace hgw::cli
