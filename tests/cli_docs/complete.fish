# What fish completion offers for a command line, one candidate a line:
#
#     fish --no-config complete.fish DIR LINE
#
# DIR alone is fish's completion path, so fish loads the completions of the
# line's command from DIR as it loads installed ones (vendor_completions.d);
# fish's own `complete --do-complete` answers. The descriptions are cut.
# fish loads them only for a command it finds: the command must be on PATH.

if test (count $argv) -ne 2
    echo "usage: fish --no-config complete.fish DIR LINE" >&2
    exit 2
end
set -g fish_complete_path $argv[1]
complete --do-complete=$argv[2] | string replace -r '\t.*' ''
