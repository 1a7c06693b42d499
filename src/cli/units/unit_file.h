#pragma once
// Reading a systemd unit file as systemd reads it, as far as deciding what
// a unit runs needs: sections, `Key=value` lines (continued with a trailing
// backslash), comments, the empty assignment that resets a list, and the
// word splitting and quoting of command lines and Environment= values.
// Specifiers are not expanded, except "%%".

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hgw::cli {

struct UnitEntry {
    std::string section; // "Service"
    std::string key;     // "ExecStart"
    std::string value;   // as written, trimmed
};

struct UnitFile {
    std::vector<UnitEntry> entries;

    // The values of `key` in `section`, in order, from the last empty
    // assignment on (which resets a list in systemd).
    [[nodiscard]] std::vector<std::string> values(std::string_view section, std::string_view key) const;
    // The last value, or nothing.
    [[nodiscard]] std::optional<std::string> last(std::string_view section, std::string_view key) const;
};

UnitFile parse_unit_file(std::string_view text);

// systemd's splitting of a value into words: blanks separate, "..." and
// '...' quote, C-style backslash escapes, "%%" is "%". In a command line
// (`command_line`), "$$" is "$" too. Throws hgw::Error for an unfinished
// quote or escape.
std::vector<std::string> split_unit_words(std::string_view value, bool command_line);

// ExecStart='s value without its prefixes ("-", "@", ":", "+", "!"),
// split. An "@" prefix means the second word is argv[0]; the first word is
// what runs, which is what is returned first either way.
std::vector<std::string> exec_command(std::string_view value);

// One word quoted for a unit file so that split_unit_words gives it back.
std::string quote_unit_word(std::string_view word);

} // namespace hgw::cli
