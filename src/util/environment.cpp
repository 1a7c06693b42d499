#include "util/environment.h"

#include <unistd.h>

extern char** environ;

namespace hgw {

std::map<std::string, std::string> current_environment()
{
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos)
            env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return env;
}

} // namespace hgw
