#include "support/variant_text.h"

#include <cstdint>
#include <tuple>
#include <vector>

namespace hgw::test {

std::string variant_text(const sdbus::Variant& v)
{
    const std::string type = v.peekValueType();
    if (type == "s")
        return v.get<std::string>();
    if (type == "u")
        return std::to_string(v.get<std::uint32_t>());
    if (type == "t")
        return std::to_string(v.get<std::uint64_t>());
    if (type == "i")
        return std::to_string(v.get<std::int32_t>());
    if (type == "b")
        return v.get<bool>() ? "true" : "false";
    if (type == "(si)") {
        auto s = v.get<sdbus::Struct<std::string, std::int32_t>>();
        return std::get<0>(s) + "," + std::to_string(std::get<1>(s));
    }
    if (type == "as") {
        std::string out;
        for (const auto& e : v.get<std::vector<std::string>>())
            out += (out.empty() ? "" : " ") + e;
        return out;
    }
    return "<" + type + ">";
}

} // namespace hgw::test
