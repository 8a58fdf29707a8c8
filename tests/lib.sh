# shellcheck shell=bash
# tests/lib.sh: the process helpers the test scripts share (sourced, at
# the top level, by tests/desktop-clipboard.sh, tests/real-agent.sh,
# tests/vm.sh and tests/integration.sh; integration.sh has its own
# cleanup and on_signal: a process group per scenario).
#
# Every process a script starts is remembered by PID (PID[NAME], and in
# PIDS in start order) and ended by PID; every wait is a bounded loop.
# The script sets, before it uses the helpers that read them:
#   D           the directory of the logs (start, start_xvfb)
#   W           the work directory (cleanup)
#   PASSED FAILED CURRENT INTERRUPTED START BUDGET WATCHDOG  its counters
#   REAP_SECS   how long reap waits before KILL (default 3)
#   KEEP_LOGS   1: cleanup keeps the logs of a passing run too (default 0)
#   NOT_OK      on_signal's failure line starts with it (default "not ok -")
#   CLEANUP_HOOK  a command cleanup runs before it stops the processes
#   START_TRUNCATE  1: start empties NAME's log first (default 0: appends)
#   START_KEEP_FD3  1: start's command inherits fd 3 (default 0: closed)
# and defines bad (a failure's reason) for start_xvfb.  Fd 3 is the
# script's terminal (exec 3>&1): cleanup and on_signal write there.

. "$(dirname "${BASH_SOURCE[0]}")/tcp-port.sh"     # tcp_port

declare -A PID=()               # NAME -> PID of what start started
PIDS=()                         # every PID started, oldest first

# reap PID: wait up to REAP_SECS s for it to exit, then KILL; the status of the wait
reap() {
    local p=$1 i
    for ((i = 0; i < ${REAP_SECS:-3} * 20; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
}
# stop NAME [SIGNAL]: signal PID[NAME] (TERM), reap it and forget it
stop() {
    local p=${PID[$1]:-}
    [ -n "$p" ] || return 0
    kill "-${2:-TERM}" "$p" 2>/dev/null
    reap "$p"
    unset "PID[$1]"
}
# stop_all: TERM and reap every process of PIDS still there, newest first; empties PID and PIDS
stop_all() {
    local i p
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        p=${PIDS[i]}
        kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null && reap "$p"
    done
    PIDS=()
    PID=()
}
# cleanup (the EXIT trap): CLEANUP_HOOK, stop_all, end WATCHDOG; removes W when FAILED and
# INTERRUPTED are 0 and KEEP_LOGS is not 1, else keeps W's *.log files only and says so on fd 3
cleanup() {
    trap - EXIT INT TERM
    [ -n "${CLEANUP_HOOK:-}" ] && "$CLEANUP_HOOK"
    stop_all
    [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null && wait "$WATCHDOG" 2>/dev/null
    if [ "$FAILED" = 0 ] && [ "$INTERRUPTED" = 0 ] && [ "${KEEP_LOGS:-0}" != 1 ]; then
        rm -rf "$W"
    else
        find "$W" ! -type d ! -name '*.log' -delete 2>/dev/null
        echo "# logs kept in $W" >&3
    fi
}
# on_signal (the INT and TERM trap): CURRENT fails as interrupted (a NOT_OK line), a summary
# from PASSED FAILED START on fd 3, exit 130 (cleanup runs as the EXIT trap)
on_signal() {
    INTERRUPTED=1
    if [ -n "$CURRENT" ]; then
        echo "${NOT_OK-not ok -} $CURRENT: interrupted (time budget or signal)" >&3
        FAILED=$((FAILED + 1))
    fi
    echo "# interrupted after $((SECONDS - START)) s: $PASSED passed, $FAILED failed" >&3
    exit 130
}
# start_watchdog: a subshell that TERMs the script after BUDGET s (its sleep dies with it); its PID in WATCHDOG
start_watchdog() {
    (
        trap 'kill "$sp" 2>/dev/null; exit 0' TERM
        sleep "$BUDGET" &
        sp=$!
        wait "$sp" && kill -TERM $$
    ) </dev/null >/dev/null 2>&1 3>&- &
    WATCHDOG=$!
}

# start NAME CMD...: CMD in the background, output appended to D/NAME.log (emptied first when
# START_TRUNCATE is 1), without fd 3 (with it when START_KEEP_FD3 is 1); PID[NAME], PIDS
start() {
    local name=$1
    shift
    [ "${START_TRUNCATE:-0}" = 1 ] && : >"$D/$name.log"
    if [ "${START_KEEP_FD3:-0}" = 1 ]; then
        "$@" </dev/null >>"$D/$name.log" 2>&1 &
    else
        "$@" </dev/null >>"$D/$name.log" 2>&1 3>&- &
    fi
    PID[$name]=$!
    PIDS+=("$!")
}
# alive NAME: PID[NAME] is set and runs
alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }
# wait_for SECS CMD...: poll CMD (quiet) every 50 ms until it succeeds; 1 after SECS s
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.05
    done
}
# exit_status NAME SECS: PID[NAME]'s exit status once it exits, 255 after SECS s
exit_status() {
    local p=${PID[$1]} end=$((SECONDS + $2))
    while kill -0 "$p" 2>/dev/null; do
        [ $SECONDS -ge $end ] && return 255
        sleep 0.05
    done
    wait "$p" 2>/dev/null
}
# start_xvfb NAME VAR: an Xvfb (PID[NAME], log D/NAME.log), its display (":N") in VAR; bad on failure
start_xvfb() {
    : >"$D/$1.display"
    Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$D/$1.display" \
        </dev/null >>"$D/$1.log" 2>&1 &
    PID[$1]=$!
    PIDS+=("$!")
    wait_for 10 grep -q '^[0-9][0-9]*$' "$D/$1.display" ||
        { bad "Xvfb gave no display number: $(tail -3 "$D/$1.log")"; return 1; }
    printf -v "$2" ':%s' "$(head -1 "$D/$1.display")"
    # and a client gets in (once, under load, xclip found no display yet)
    if command -v xdotool >/dev/null 2>&1; then
        wait_for 10 env DISPLAY="${!2}" xdotool getdisplaygeometry ||
            { bad "Xvfb ${!2} takes no client: $(tail -3 "$D/$1.log")"; return 1; }
    fi
}
