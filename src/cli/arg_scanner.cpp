#include "cli/arg_scanner.h"

#include <algorithm>

namespace hgw::cli {

namespace {

// CLI11 accepted these after a flag's '='; scripts may use them.
bool truth_value(std::string_view text, std::string_view flag)
{
    for (std::string_view yes : {"true", "yes", "on", "1"})
        if (text == yes)
            return true;
    for (std::string_view no : {"false", "no", "off", "0"})
        if (text == no)
            return false;
    throw UsageError(std::string(flag) + " takes no value, or one of true, false, yes, no, on, off, 1, 0 (got '" +
                     std::string(text) + "')");
}

const OptionSpec* find_spec(std::span<const OptionSpec> specs, std::string_view name)
{
    auto it = std::find_if(specs.begin(), specs.end(), [name](const OptionSpec& s) { return s.name == name; });
    return it == specs.end() ? nullptr : &*it;
}

} // namespace

const std::string* ScannedArgs::value(std::string_view name) const
{
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
}

bool ScannedArgs::flag(std::string_view name) const
{
    const std::string* v = value(name);
    return v && *v == "1";
}

ScannedArgs scan_args(std::span<char* const> args, std::span<const OptionSpec> specs, std::string_view command)
{
    ScannedArgs out;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "--") {
            // What follows is taken as words, never as options.
            for (++i; i < args.size(); ++i)
                out.words.emplace_back(args[i]);
            break;
        }
        if (arg == "-h" || arg == "--help") {
            out.help = true;
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            out.words.emplace_back(arg);
            continue;
        }
        const std::size_t eq = arg.find('=');
        const std::string_view name = arg.substr(0, eq);
        const OptionSpec* spec = find_spec(specs, name);
        if (!spec)
            throw UsageError("unknown option '" + std::string(name) + "' for '" + std::string(command) + "'");

        if (spec->value_name.empty()) { // a flag: given again, the last one counts
            out.values[spec->name] = eq == std::string_view::npos || truth_value(arg.substr(eq + 1), name) ? "1" : "0";
            continue;
        }
        if (out.given(spec->name))
            throw UsageError(std::string(name) + " is given more than once");
        if (eq != std::string_view::npos) {
            out.values[spec->name] = std::string(arg.substr(eq + 1));
            continue;
        }
        // `--home --json` is a forgotten value, not a home named "--json".
        if (i + 1 == args.size() || std::string_view(args[i + 1]).starts_with("--"))
            throw UsageError(std::string(name) + " needs a value (" + std::string(spec->value_name) + ")" +
                             (i + 1 == args.size() ? "" : "; to give one starting with '--', write " +
                                                              std::string(name) + "=VALUE"));
        out.values[spec->name] = args[++i];
    }
    return out;
}

} // namespace hgw::cli
