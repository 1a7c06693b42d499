# fish completion for hermes-gatewayctl.
#
# The commands and options are those of `hermes-gatewayctl --help` and
# `hermes-gatewayctl COMMAND --help`; tests/cli_docs completes each of them
# in a real fish against that help, so that the two cannot drift apart.

# The words typed so far that are neither options nor an option's value:
# the command, then for pidfile and fleet its action.
function __hermes_gatewayctl_words
    set -l skip 0
    for word in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $word
            case --home --address --profile --timeout --reason --if-generation --newer-than --to
                set skip 1
            case '-*'
            case '*'
                echo $word
        end
    end
end

# True when the command typed is one of the arguments.
function __hermes_gatewayctl_in
    set -l words (__hermes_gatewayctl_words)
    set -q words[1]; and contains -- $words[1] $argv
end

function __hermes_gatewayctl_needs_command
    set -l words (__hermes_gatewayctl_words)
    not set -q words[1]
end

function __hermes_gatewayctl_needs_action
    set -l words (__hermes_gatewayctl_words)
    test "$words" = $argv[1]
end

# Profile names: the homes under <root>/profiles of the system service and
# of the current user (a profile needs no daemon to be named).
function __hermes_gatewayctl_profiles
    set -l root $HOME/.hermes
    test -n "$HERMES_HOME"; and set root $HERMES_HOME
    for dir in /var/lib/hermes/profiles/*/ $root/profiles/*/
        string replace -r '.*/([^/]+)/$' '$1' -- $dir
    end
end

set -l c hermes-gatewayctl
set -l bus_commands status replace restart start stop wait-ready watch fleet
set -l change_commands replace restart start stop fleet
set -l bus_chosen '__fish_seen_argument -l system -l user -l address'

# No command takes files, except --home, below.
complete -c $c -f

complete -c $c -n __hermes_gatewayctl_needs_command -s h -l help -d 'Print help and exit'
complete -c $c -n __hermes_gatewayctl_needs_command -l version -d 'Print the version and exit'
complete -c $c -n __hermes_gatewayctl_needs_command -a pidfile -d 'Inspect and repair the PID file (no daemon needed)'
complete -c $c -n __hermes_gatewayctl_needs_command -a status -d 'Show the state as hermes-gatewayd sees it'
complete -c $c -n __hermes_gatewayctl_needs_command -a replace -d 'Drain the gateway, start a new one, wait until ready'
complete -c $c -n __hermes_gatewayctl_needs_command -a restart -d 'Like replace, but also start a stopped or failed gateway'
complete -c $c -n __hermes_gatewayctl_needs_command -a start -d 'Start the gateway and wait until it is ready'
complete -c $c -n __hermes_gatewayctl_needs_command -a stop -d 'Stop the gateway and wait until it is gone'
complete -c $c -n __hermes_gatewayctl_needs_command -a wait-ready -d 'Wait until the gateway is running and ready'
complete -c $c -n __hermes_gatewayctl_needs_command -a watch -d "Print the daemon's signals as they come"
complete -c $c -n __hermes_gatewayctl_needs_command -a migrate -d "Move supervision from Hermes' own unit to hermes-gatewayd"
complete -c $c -n __hermes_gatewayctl_needs_command -a fleet -d "Fleet mode: act on this host's place in its fleet"

# pidfile ACTION, its options before or after the action
complete -c $c -n '__hermes_gatewayctl_needs_action pidfile' -a show -d 'Print the record as read'
complete -c $c -n '__hermes_gatewayctl_needs_action pidfile' -a check -d 'Judge the record'
complete -c $c -n '__hermes_gatewayctl_needs_action pidfile' -a clean -d 'Remove a stale record under the lock'
complete -c $c -n '__hermes_gatewayctl_in pidfile' -l home -x -a '(__fish_complete_directories)' -d 'The Hermes home'
complete -c $c -n '__hermes_gatewayctl_in pidfile' -l json -d 'Print one JSON object'

# fleet ACTION, its options before or after the action
complete -c $c -n '__hermes_gatewayctl_needs_action fleet' -a handover -d 'Stop the gateway here, then give up the lease at once'
complete -c $c -n '__hermes_gatewayctl_in fleet' -l to -x -d 'Hand over to this host'

# The bus commands
complete -c $c -n "__hermes_gatewayctl_in $bus_commands; and not $bus_chosen" -l system -d 'Use the system bus'
complete -c $c -n "__hermes_gatewayctl_in $bus_commands; and not $bus_chosen" -l user -d "Use the user's session bus"
complete -c $c -n "__hermes_gatewayctl_in $bus_commands; and not $bus_chosen" -l address -x -d 'Use the bus at this D-Bus address'
complete -c $c -n "__hermes_gatewayctl_in $bus_commands" -l profile -x -a '(__hermes_gatewayctl_profiles)' -d 'Talk to the daemon of this Hermes profile'
complete -c $c -n "__hermes_gatewayctl_in $bus_commands" -l json -d 'Print JSON'
complete -c $c -n "__hermes_gatewayctl_in $bus_commands" -l timeout -x -d 'How long to wait (500ms, 30s, 2min)'
complete -c $c -n "__hermes_gatewayctl_in $change_commands" -l reason -x -d 'Why: logged and passed on in the signals'
complete -c $c -n "__hermes_gatewayctl_in $change_commands" -l if-generation -x -d 'Act only if the generation is still N'
complete -c $c -n '__hermes_gatewayctl_in replace restart start' -l wait -d 'Wait until the new gateway is ready (always done)'
complete -c $c -n '__hermes_gatewayctl_in wait-ready' -l newer-than -x -d 'Wait for a gateway of a generation above N'

# migrate
complete -c $c -n '__hermes_gatewayctl_in migrate; and not __fish_seen_argument -l system -l user' -l system -d 'The system service'
complete -c $c -n '__hermes_gatewayctl_in migrate; and not __fish_seen_argument -l system -l user' -l user -d "The user's own service"
complete -c $c -n '__hermes_gatewayctl_in migrate' -l profile -x -a '(__hermes_gatewayctl_profiles)' -d 'The service of this Hermes profile'
complete -c $c -n '__hermes_gatewayctl_in migrate' -l dry-run -d 'Say what would be done, change nothing'
complete -c $c -n '__hermes_gatewayctl_in migrate' -l undo -d "Give supervision back to Hermes' unit, from the copy kept"

# Every command has its own help.
complete -c $c -n 'not __hermes_gatewayctl_needs_command' -s h -l help -d 'Print help and exit'
