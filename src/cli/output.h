#pragma once
// hermes-gatewayctl writes through stdio, not iostream: <iostream>'s static
// initializer (the standard streams and their locale) is a measurable part
// of the start-up of a command that does little else (bench/client).

#include <cstdio>
#include <string_view>

namespace hgw::cli {

// `text` on stdout, buffered as stdio buffers it.
inline void print(std::string_view text)
{
    std::fwrite(text.data(), 1, text.size(), stdout);
}

// `line` and a newline on stdout, flushed: someone may be reading a pipe
// while the command runs.
inline void print_line_flushed(std::string_view line)
{
    print(line);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// `text` on stderr (unbuffered).
inline void print_error(std::string_view text)
{
    std::fwrite(text.data(), 1, text.size(), stderr);
}

} // namespace hgw::cli
