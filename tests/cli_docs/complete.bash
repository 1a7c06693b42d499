#!/usr/bin/env bash
# What bash completion offers for a command line, one candidate a line:
#
#     complete.bash FILE LINE
#
# As an interactive bash does: bash-completion's library is loaded, then
# FILE, and the function FILE registers (complete -F) for the line's first
# word is called with the COMP_* variables bash would set. LINE is split at
# blanks (no quoting); a LINE ending in a blank completes a new word.

file=$1 line=$2
lib=/usr/share/bash-completion/bash_completion
[[ -r $lib ]] || { echo "complete.bash: no $lib (package bash-completion; scripts/install-deps)" >&2; exit 2; }
# shellcheck source=/dev/null
. "$lib"
# shellcheck source=/dev/null
. "$file" || { echo "complete.bash: $file failed to load" >&2; exit 1; }

read -ra COMP_WORDS <<<"$line"
[[ $line == *[[:blank:]] ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p "${COMP_WORDS[0]}" 2>/dev/null) ||
    { echo "complete.bash: $file registers no completion for ${COMP_WORDS[0]}" >&2; exit 1; }
[[ $spec =~ -F\ ([^ ]+) ]] || { echo "complete.bash: not a completion function: $spec" >&2; exit 1; }
COMPREPLY=()
"${BASH_REMATCH[1]}" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}"
