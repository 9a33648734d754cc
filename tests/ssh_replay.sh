#!/bin/sh
# Forced command for the test sshd: answer an agentless scan from a captured host fixture folder.
#
# sshd runs `sh ssh_replay.sh FOLDER` (an authorized_keys command= option) for every command the agent
# sends; the command itself arrives in SSH_ORIGINAL_COMMAND, each word quoted by the agent. Files are
# served from FOLDER at their real paths; command output from FOLDER/commands/<argv with
# non-alphanumerics as _>.txt with an optional .exit code, exactly as RecordedHost reads them.
# Hostile behaviours for the tests, from a sibling file: .hang (never answers), .flood (writes without
# end), .drop (kills the SSH session: the connection drops). Plain sh: it starts once per command.
folder=$1
# A test that wants to see exactly what the agent sent creates FOLDER/.received first.
[ -f "$folder/.received" ] && printf '%s\n' "$SSH_ORIGINAL_COMMAND" >>"$folder/.received"
eval "set -- $SSH_ORIGINAL_COMMAND"
# The agent sends: env LC_ALL=C LANG=C PATH=... [sudo -n] argv...
[ "$1" = env ] && shift
while [ $# -gt 0 ]; do case $1 in *=*) shift ;; *) break ;; esac; done
[ "$1" = sudo ] && shift 2
case $1 in
dd)
    for arg in "$@"; do
        case $arg in if=*) path=${arg#if=} ;; bs=*) bs=${arg#bs=} ;; count=*) count=${arg#count=} ;; esac
    done
    case $path in /commands/* | /expected.json | /SOURCE.md) path=/nonexistent/$path ;; esac
    [ -f "$folder$path" ] && exec dd if="$folder$path" bs="$bs" count="$count" 2>/dev/null
    echo "dd: $path: No such file or directory" >&2
    exit 1 ;;
test)
    [ -e "$folder$3" ]
    exit $? ;;
ls)
    [ -d "$folder$3" ] && exec ls -a "$folder$3"
    echo "ls: $3: No such file or directory" >&2
    exit 2 ;;
esac
recording=$folder/commands/$(printf '%s' "$*" | tr -c 'A-Za-z0-9' '_')
if [ -e "$recording.hang" ]; then
    # Hang, but leave when the SSH session above ends, so that no test leaves a process behind.
    i=0
    while kill -0 "$PPID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
    exit 124
fi
[ -e "$recording.drop" ] && kill -9 "$PPID"
[ -e "$recording.flood" ] && exec yes 'flood:flood.fileset:1.0.0.0: : :C:F:endless output: : : : : : :0:0:/:'
if [ ! -f "$recording.txt" ]; then
    echo "sh: $1: not found" >&2
    exit 127
fi
cat "$recording.txt"
[ -f "$recording.exit" ] && exit "$(cat "$recording.exit")"
exit 0
