#pragma once
// A small scanner for the arguments of one command: long options with a
// value (`--home DIR`, `--home=DIR`), flags (`--json`, also `--json=false`
// as CLI11 took it), `-h`/`--help`, `--`, and plain words. It checks the
// syntax and nothing else; what the values mean is for the caller.
//
// Hand-written rather than CLI11 so that the front end starts with nothing
// to build before main() (see docs/benchmarks.md).

#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hgw::cli {

// One option a command accepts.
struct OptionSpec {
    std::string_view name;       // "--home"
    std::string_view value_name; // "DIR"; empty for a flag
    std::string_view help;
};

// A command line that cannot be run: exit 2, with this message.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ScannedArgs {
    bool help = false;                              // -h or --help came (scanning stopped there)
    std::map<std::string_view, std::string> values; // option name -> its value; a flag's is "1" or "0"
    std::vector<std::string> words;                 // everything that is not an option, in order

    [[nodiscard]] bool given(std::string_view name) const { return values.count(name) != 0; }
    // The value of an option given once, or nullptr.
    [[nodiscard]] const std::string* value(std::string_view name) const;
    // Whether a flag is set (given, and not as --flag=false).
    [[nodiscard]] bool flag(std::string_view name) const;
};

// Scans `args` (the words after the command's name) against `specs`.
// `command` names the command in messages ("pidfile", "replace"). Throws
// UsageError for an unknown option, a missing value, a flag given a value
// that is not a truth value, or an option with a value given twice.
ScannedArgs scan_args(std::span<char* const> args, std::span<const OptionSpec> specs, std::string_view command);

} // namespace hgw::cli
