# Sourced by the interactive zsh that complete.zsh drives: DIR ($1) goes
# first in fpath, compinit loads the completion functions there (no dump
# file, no questions about directory permissions), Tab completes, and each
# match added is also printed, marked, for complete.zsh to collect.

PS1='' PS2='' RPS1=''
fpath=($1 $fpath)
autoload -Uz compinit
compinit -u -D
bindkey '^I' complete-word
zstyle ':completion:*' list-grouped false

# A call that only asks which words match (-O, -A, -D) adds nothing and is
# passed through; any other is made twice: once to learn the matches, once
# to add them.
compadd() {
    if (( ${@[(I)-[OAD]*]} )); then
        builtin compadd "$@"
        return
    fi
    local -a __hgw_matches
    builtin compadd -O __hgw_matches "$@"
    local m
    for m in $__hgw_matches; do
        print -r -- "hgw-candidate:$m"
    done
    builtin compadd "$@"
}

# After the completion, say so and leave: the reader stops at the exit.
__hgw_completion_done() {
    print -r -- "hgw-completion-done"
    exit
}
comppostfuncs=(__hgw_completion_done)
