#include "util/errors.h"

#include <cstring>

namespace hgw {

SystemError::SystemError(const std::string& what, int err, std::string hint)
    : Error(what + ": " + std::strerror(err), std::move(hint)), code_(err) {}

void throw_errno(const std::string& what, std::string hint)
{
    throw SystemError(what, errno, std::move(hint));
}

std::string describe(const Error& e)
{
    if (e.hint().empty())
        return e.what();
    return std::string(e.what()) + " (" + e.hint() + ")";
}

} // namespace hgw
