#!/usr/bin/env zsh
# What zsh completion offers for a command line, one candidate a line:
#
#     complete.zsh DIR LINE
#
# Completion functions run only inside the line editor, so a real
# interactive zsh is started on a pseudo-terminal (zsh/zpty); it loads
# complete_init.zsh (compinit with DIR first in fpath, and a compadd that
# also prints what it adds), gets LINE typed followed by Tab, prints the
# candidates and exits once the completion is over. Nothing here waits by
# time: the inner shell's exit ends the read.

emulate -L zsh
zmodload zsh/zpty || { print -u2 "complete.zsh: no zsh/zpty module"; exit 2 }
(( $# == 2 )) || { print -u2 "usage: complete.zsh DIR LINE"; exit 2 }
local dir=${1:A} line=$2 init=${0:A:h}/complete_init.zsh

zpty hgw_complete zsh -f -i || { print -u2 "complete.zsh: cannot start zsh on a pty"; exit 1 }
zpty -w hgw_complete "source ${(q)init} ${(q)dir}"
zpty -n -w hgw_complete "$line"$'\t'

# The terminal also echoes what was typed, and the first mark follows that
# echo on its line: only what follows a mark counts.
local out chunk
while zpty -r hgw_complete chunk; do out+=$chunk; done
zpty -d hgw_complete
local -a lines=("${(@f)${out//$'\r'/}}") candidates=()
local l
for l in $lines; do
    [[ $l == *hgw-candidate:* ]] && candidates+=(${l##*hgw-candidate:})
done
[[ $out == *hgw-completion-done* ]] || { print -u2 "complete.zsh: the completion did not run; the shell said:"; print -u2 -r -- $out; exit 1 }
(( $#candidates == 0 )) || print -rl -- ${(u)candidates}
