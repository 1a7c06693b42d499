#include "cli/units/unit_file.h"

#include "util/errors.h"

namespace hgw::cli {

namespace {

std::string_view trim(std::string_view s)
{
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string_view::npos)
        return {};
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'v': return '\v';
    case 's': return ' ';
    default: return c; // \\ \" \' and anything else stand for themselves
    }
}

} // namespace

std::vector<std::string> UnitFile::values(std::string_view section, std::string_view key) const
{
    std::vector<std::string> out;
    for (const UnitEntry& e : entries) {
        if (e.section != section || e.key != key)
            continue;
        if (e.value.empty())
            out.clear();
        else
            out.push_back(e.value);
    }
    return out;
}

std::optional<std::string> UnitFile::last(std::string_view section, std::string_view key) const
{
    std::vector<std::string> all = values(section, key);
    if (all.empty())
        return std::nullopt;
    return all.back();
}

UnitFile parse_unit_file(std::string_view text)
{
    UnitFile unit;
    std::string section;
    std::string pending; // a line continued with a backslash
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        std::string_view line = trim(raw);
        if (pending.empty() && (line.empty() || line.front() == '#' || line.front() == ';'))
            continue;
        if (!line.empty() && line.back() == '\\') {
            pending.append(line.substr(0, line.size() - 1)).push_back(' ');
            continue;
        }
        std::string whole = pending + std::string(line);
        pending.clear();
        std::string_view w = trim(whole);
        if (w.size() >= 2 && w.front() == '[' && w.back() == ']') {
            section = std::string(w.substr(1, w.size() - 2));
            continue;
        }
        const auto eq = w.find('=');
        if (eq == std::string_view::npos)
            continue; // systemd ignores such a line too (with a warning)
        unit.entries.push_back({section, std::string(trim(w.substr(0, eq))), std::string(trim(w.substr(eq + 1)))});
    }
    return unit;
}

std::vector<std::string> split_unit_words(std::string_view value, bool command_line)
{
    std::vector<std::string> words;
    std::size_t i = 0;
    while (true) {
        while (i < value.size() && is_blank(value[i]))
            ++i;
        if (i >= value.size())
            return words;
        std::string word;
        char quote = 0;
        for (; i < value.size(); ++i) {
            const char c = value[i];
            if (!quote && is_blank(c))
                break;
            if (!quote && (c == '"' || c == '\'')) {
                quote = c;
            } else if (quote && c == quote) {
                quote = 0;
            } else if (c == '\\') {
                if (++i >= value.size())
                    throw Error("a backslash ends the value '" + std::string(value) + "'");
                word.push_back(unescape(value[i]));
            } else if ((c == '%' || (command_line && c == '$')) && i + 1 < value.size() && value[i + 1] == c) {
                word.push_back(c);
                ++i;
            } else {
                word.push_back(c);
            }
        }
        if (quote)
            throw Error("an unfinished quote in '" + std::string(value) + "'");
        words.push_back(std::move(word));
    }
}

std::vector<std::string> exec_command(std::string_view value)
{
    bool at = false;
    std::size_t i = 0;
    for (; i < value.size(); ++i) {
        const char c = value[i];
        if (c == '@')
            at = true;
        else if (c != '-' && c != ':' && c != '+' && c != '!')
            break;
    }
    std::vector<std::string> words = split_unit_words(value.substr(i), true);
    // With "@", the word after the path is argv[0]: drop it, as the command
    // line a process shows starts with it but the path is what runs.
    if (at && words.size() >= 2)
        words.erase(words.begin() + 1);
    return words;
}

std::string quote_unit_word(std::string_view word)
{
    std::string out = "\"";
    for (char c : word) {
        if (c == '"' || c == '\\')
            out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
        if (c == '%')
            out.push_back('%');
    }
    return out + "\"";
}

} // namespace hgw::cli
