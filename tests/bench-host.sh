#!/usr/bin/env bash
# bench-host.sh [BUILD_DIR [PARTS]]: figures of the host program (issues 6,
# 16, 21), each beside a reference measured in the same run, best of REPS
# (5).  Only bash and coreutils; the programs are BUILD_DIR/{vdagent-host,
# sim-agent,vdctl,rawcopy,tests/bench-peer} (default BUILD_DIR: build).
# PARTS: the letters of the parts to run (default abcde), e.g. c alone.
# (The parts' bodies are not indented: their continued strings begin in
# column 0.)
#
#  a. live migration downtime over unix: as the destination's query-migrate
#     reports it ("downtime-us": CLOCK_MONOTONIC from the source stopping
#     reading the guest to the destination about to read it again), for an
#     idle session and with a guest->host clipboard reply half received (a
#     2 MiB copy-bytes, throttled by the sim-agent, migrated once 1 MiB of
#     it is in); each migration goes to a new destination process, the
#     guest agent (sim-agent) being handed over and never reconnecting.
#     Reference: the wall time of `vdctl qmp ... query-status` (process
#     start, connect, greeting, two request/reply round trips over a unix
#     socket), and of vdctl's start alone.
#  b. the clipboard paths of issue 16, 64 MiB, the timed ends being
#     tests/bench-peer (BUILD_DIR/tests/bench-peer):
#     b.a guest->host: the sim-agent to vdagent-host, from starting a
#         clipboard-get until the sim-agent's backlog is written (its stats
#         polled every 200 us), against the same sim-agent to a plain
#         socket reader (bench-peer sink), measured the same way, and
#         beside that reader keeping the message in new memory (SIGUSR2);
#         the run's first clipboard also on its own line: the later ones
#         land in the memory of the clipboard they replace (the reader's
#         recycling), the first in new memory;
#     b.b clipboard-get {"filename"} into the work directory, command to
#         reply; b.c vdctl clip-set from a file until the guest agent
#         (bench-peer agent, a plain one) has read the last byte; both
#         against a raw copy file -> unix socket pair -> file;
#     b.d a file transfer: part e.
#     Goals (issue 16): b.a >= 0.8x, b.b and b.c >= 0.5x, each line saying
#     whether it is met and, where not, why.
#  c. live migration with pause-before-switchover (issue 21, points 4 and
#     5) over tcp: and unix:, a 64 MiB host-owned clipboard: the
#     destination's downtime-us beside the empty state's in the same run,
#     the live phase and the whole migration beside a raw copy of the same
#     bytes over a loopback socket of the transport (BUILD_DIR/rawcopy).
#     The downtime twice: migrate-continue at once after pre-switchover
#     (the caches still full of the 64 MiB just moved) and 0.3 s later (as
#     an operator who waits for QEMU's pre-switchover too), each beside
#     the empty state's the same way.
#     The clipboard is set 0.3 s before the migration (either state):
#     the host keeps 1 MiB and more as sealed memory, made in the
#     background in some 40 ms, which over unix: goes by reference, its
#     memfd passed on the socket, not its bytes; over tcp: by its bytes.
#     Goals printed, never asserted.
#  e. a file to the guest (issue 14): vdctl file-send of a 100 MiB file to
#     sim-agent --save-dir (its file-transfer model writes the file), from
#     starting vdctl to its "success", against bench-peer copy of the same
#     file (file -> unix socket pair -> file) in the same run.
#  d. tcp: migration with --tls-creds (issue 17) beside plain tcp:, an
#     empty state, each to a new destination: the downtime of a migration
#     without a live phase (the TLS handshake is in it) and with one (the
#     handshake is in the live phase).  Certificates: tests/tls-certs.sh.
#
# Figures are printed, never asserted; the exit status is 1 only when the
# set-up fails.  Every process is ours, stopped by PID within a bound; the
# work directory is removed on exit.
set -u
export LC_ALL=C                  # '.' in $EPOCHREALTIME and printf %f
. "$(dirname "$0")/tcp-port.sh"    # tcp_port

B=${1:-build}
if ! B=$(cd "$B" 2>/dev/null && pwd); then
    echo "bench-host: no build directory ${1:-build}" >&2
    exit 1
fi
HOST=$B/vdagent-host SIM=$B/sim-agent CTL=$B/vdctl
PARTS=${2:-abcde}
if [[ ! $PARTS =~ ^[abcde]+$ ]]; then
    echo "bench-host: PARTS are letters of abcde, not '$PARTS'" >&2
    exit 1
fi
want() { [[ $PARTS == *$1* ]]; }
for p in "$HOST" "$SIM" "$CTL" "$B/rawcopy" "$B/tests/bench-peer"; do
    [ -x "$p" ] || { echo "bench-host: $p missing (make host)" >&2; exit 1; }
done

REPS=5
MIB=1048576
MIG_SIZE=$((2 * MIB))            # a: the guest's clipboard
MIG_IN=$((1 * MIB))              # a: bytes of it received when migrating
MIG_THROTTLE=16                  # a: sim-agent KiB per 10 ms (1.6 MB/s)
CLIP_SIZE=$((64 * MIB))          # b, c
LIVE_REPS=3                      # d
LIVE_MED_REPS=${LIVE_MED_REPS:-15} # c: medians of this many (the downtime,
                                 # some 400 us, is noisy here: 9 were too few)
LIVE_CONT_PAUSE=0.3              # c: pre-switchover to migrate-continue, the later case

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    W=$(mktemp -d /dev/shm/vdagent-bench.XXXXXX)
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/vdagent-bench.XXXXXX")
fi
PIDS=()

# ---- processes ------------------------------------------------------------

alive() { # alive PID: a running child of this shell (not a zombie)
    local s f
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    read -r -a f <<<"$s"
    [ "${f[0]}" != Z ] && [ "${f[1]}" = $$ ]
}

forget() { # forget PID: reaped, no longer ours to stop
    local x keep=()
    for x in "${PIDS[@]}"; do
        [ "$x" != "$1" ] && keep+=("$x")
    done
    PIDS=("${keep[@]}")
}

stop_pid() { # stop_pid PID [SECS]: TERM, up to SECS (5) to exit, then KILL
    local p=$1 n=$((${2:-5} * 20))
    if alive "$p"; then
        kill -TERM "$p" 2>/dev/null
        while [ "$n" -gt 0 ] && alive "$p"; do
            sleep 0.05
            n=$((n - 1))
        done
        alive "$p" && kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
    forget "$p"
    return 0
}

wait_exit() { # wait_exit PID SECS: let it end by itself, then stop it
    local p=$1 n=$(($2 * 20))
    while [ "$n" -gt 0 ] && alive "$p"; do
        sleep 0.05
        n=$((n - 1))
    done
    stop_pid "$p" 2
}

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        stop_pid "$p" 2
    done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LAST=
start() { # start CMD...: in the background, remembered for cleanup
    "$@" &
    LAST=$!
    PIDS+=("$LAST")
}

fail() {
    echo "bench-host: $*" >&2
    for f in "$W"/*.log; do
        [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

wait_for() { # wait_for SECONDS CMD...
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.02
    done
}

# ---- helpers ----------------------------------------------------------------

qmp() { "$CTL" qmp "unix:$W/$1.qmp" "$2"; }
ctl() { "$CTL" line "unix:$W/guest.ctl" "$1"; }

num() { # num TEXT KEY: the first "KEY":NUMBER of a JSON text
    [[ $1 =~ \"$2\":(-?[0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}
str() { # str TEXT KEY: the first "KEY":"STRING"
    [[ $1 =~ \"$2\":\"([^\"]*)\" ]] && echo "${BASH_REMATCH[1]}"
}
field() { # field LINE KEY: KEY=VALUE of a sim-agent stats line
    [[ $1 =~ (^| )$2=([^ ]*) ]] && echo "${BASH_REMATCH[2]}"
}

us_since() { # us_since T0 [T1]: microseconds between two $EPOCHREALTIMEs
    local t1=${2:-$EPOCHREALTIME}
    echo $((10#${t1/./} - 10#${1/./}))
}

dec() { # dec A B: A / B as a decimal string (4 places)
    local a=$1 b=$2
    printf '%d.%04d' $((a / b)) $(((a % b) * 10000 / b))
}

min() { # min N...
    local m=$1 x
    for x in "$@"; do [ "$x" -lt "$m" ] && m=$x; done
    echo "$m"
}

median() { # median N...: the middle one (the upper of the two middle)
    local -a s
    mapfile -t s < <(printf '%s\n' "$@" | sort -n)
    echo "${s[$((${#s[@]} / 2))]}"
}

max() {
    local m=$1 x
    for x in "$@"; do [ "$x" -gt "$m" ] && m=$x; done
    echo "$m"
}

mibs() { # mibs BYTES US: MiB/s as a decimal string
    dec $(($1 * 1000000 / 1024)) $(($2 * 1024))
}

line_us() { # line_us WHAT VALUE-US REF-NAME REF-US NOTE
    printf '  %-48s %8d us     %-12s %8d us     %6.2fx  (%s)\n' \
        "$1" "$2" "$3" "$4" "$(dec "$2" "$4")" "$5"
}

line_rate() { # line_rate WHAT BYTES US REF-NAME REF-BYTES REF-US NOTE
    local r b
    r=$(mibs "$2" "$3")
    b=$(mibs "$5" "$6")
    printf '  %-48s %6.0f MiB/s   %-12s %6.0f MiB/s   %5.2fx  (%s)\n' \
        "$1" "$r" "$4" "$b" \
        "$(dec $(($2 * 100000 / $3)) $(($5 * 100000 / $6)))" "$7"
}

# The serial of the guest's CLIPBOARD grab as host NAME sees it ("" if none).
guest_serial() {
    local r
    r=$(qmp "$1" '{"execute":"clipboard-query"}') || return 1
    [ "$(str "$r" owner)" = guest ] || return 1
    num "$r" serial
}

# Copy N pattern bytes in the guest; wait until host NAME sees the new grab.
guest_copy() { # guest_copy NAME N
    local before after end=$((SECONDS + 10))
    before=$(guest_serial "$1")
    ctl "copy-bytes clipboard $2" >/dev/null || return 1
    while :; do
        after=$(guest_serial "$1") && [ "$after" != "$before" ] && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.01
    done
}

# The sim-agent's pattern: text byte i = 'a' + (i * 7 + 3) % 26.
make_pattern() { # make_pattern FILE N
    local s="" i
    for ((i = 0; i < 26; i++)); do
        s+=$(printf "\\$(printf '%03o' $((97 + (i * 7 + 3) % 26)))")
    done
    yes "$s" | tr -d '\n' | head -c "$2" >"$1"
}

# Does a clipboard-get reply file hold exactly the first N pattern bytes?
reply_ok() { # reply_ok FILE N
    local size a b
    size=$(stat -c %s "$1" 2>/dev/null) || return 1
    # {"return":{"data":" ... "}} and a newline: 23 bytes around the data
    [ "$size" = $(($2 + 23)) ] || return 1
    a=$(tail -c +20 "$1" | head -c "$2" | md5sum)
    b=$(head -c "$2" "$W/pattern" | md5sum)
    [ "$a" = "$b" ]
}

start_host() { # start_host NAME ARGS...: a vdagent-host with NAME.qmp
    local name=$1
    shift
    start "$HOST" "$@" --qmp "unix:$W/$name.qmp" 2>>"$W/$name.log"
    wait_for 5 test -S "$W/$name.qmp" || fail "host $name did not start"
}

start_guest() { # start_guest: the sim-agent on $W/chan
    rm -f "$W/guest.ctl"
    start "$SIM" --connect "unix:$W/chan" --control "unix:$W/guest.ctl" \
        --quiet >>"$W/guest.log" 2>&1
    SIM_PID=$LAST
    wait_for 5 test -S "$W/guest.ctl" || fail "sim-agent did not start"
    ctl wait-caps >/dev/null || fail "no caps from the host"
}

quit_host() { # quit_host NAME PID
    qmp "$1" '{"execute":"quit"}' >/dev/null 2>&1
    wait_exit "$2" 5
}

# ---- header ---------------------------------------------------------------

model=unknown
while IFS=: read -r k v; do
    if [[ $k == "model name"* ]]; then
        model=${v# }
        break
    fi
done </proc/cpuinfo
printf 'vdagent-chardev bench-host  %s  host %s  cpu %s (%s online)\n' \
    "$(date '+%Y-%m-%d %H:%M:%S %Z')" "$(uname -n)" "$model" "$(nproc)"
printf 'best of %d runs each (part c: medians); wall times from bash $EPOCHREALTIME, downtime ' "$REPS"
printf 'from the hosts'"'"' CLOCK_MONOTONIC; MiB = 2^20 bytes; work dir %s\n' \
    "${W%/*}"
make_pattern "$W/pattern" "$CLIP_SIZE"
[ "$(stat -c %s "$W/pattern")" = "$CLIP_SIZE" ] || fail "pattern file"

# ---- a. migration downtime ----------------------------------------------------

if want a; then

part_t0=$SECONDS
printf '\na: live migration over unix: (guest channel and its listening socket '
printf 'handed over), vdagent-host -> a new vdagent-host each time, the sim-agent '
printf 'connected throughout\n'
printf 'a in flight: a %d-byte guest CLIPBOARD copy (copy-bytes), sent at %d KiB '\
'per 10 ms, the source host'"'"'s clipboard-get pending; migrate once %d bytes '\
'are in\n\n' "$MIG_SIZE" "$MIG_THROTTLE" "$MIG_IN"

CUR=h0
start_host h0 --guest "unix:$W/chan"
CUR_PID=$LAST
start_guest
N_HOSTS=0
MIG_FAIL=

# Migrate $CUR to a new host; DT: its downtime-us.  False on a failure.
migrate_once() {
    local name r st end
    N_HOSTS=$((N_HOSTS + 1))
    name=h$N_HOSTS
    start "$HOST" --incoming "unix:$W/$name.mig" --qmp "unix:$W/$name.qmp" \
        2>>"$W/$name.log"
    local pid=$LAST
    wait_for 5 test -S "$W/$name.mig" || { MIG_FAIL="$name did not start"; return 1; }
    wait_for 5 test -S "$W/$name.qmp" || { MIG_FAIL="$name did not start"; return 1; }
    qmp "$CUR" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$W/$name.mig\"}}" \
        >/dev/null || { MIG_FAIL="migrate refused"; return 1; }
    sleep 0.1                    # polls (vdctl processes) after, mostly
    end=$((SECONDS + 20))
    while :; do
        r=$(qmp "$name" '{"execute":"query-migrate"}')
        st=$(str "$r" status)
        [ "$st" = completed ] || [ "$st" = failed ] && break
        [ "$SECONDS" -ge "$end" ] && { MIG_FAIL="no completion in 20 s"; return 1; }
        sleep 0.02
    done
    DT=$(num "$r" downtime-us)
    if [ "$st" != completed ] || [ -z "$DT" ]; then
        MIG_FAIL="destination: $r"
        return 1
    fi
    end=$((SECONDS + 10))
    until [ "$(str "$(qmp "$CUR" '{"execute":"query-migrate"}')" status)" = completed ]; do
        [ "$SECONDS" -ge "$end" ] && { MIG_FAIL="the source did not complete"; return 1; }
        sleep 0.02
    done
    quit_host "$CUR" "$CUR_PID"
    CUR=$name
    CUR_PID=$pid
    sample_refs
    return 0
}

# The references, one sample after each migration (the load varies).
rtt=()
exe=()
sample_refs() {
    local t0
    t0=$EPOCHREALTIME
    qmp "$CUR" '{"execute":"query-status"}' >/dev/null || fail "query-status"
    rtt+=("$(us_since "$t0")")
    t0=$EPOCHREALTIME
    "$CTL" >/dev/null 2>&1
    exe+=("$(us_since "$t0")")
}

# idle
idle=()
for ((rep = 0; rep < REPS; rep++)); do
    migrate_once || break
    idle+=("$DT")
done
[ -n "$MIG_FAIL" ] && fail "idle migration: $MIG_FAIL"

# in flight
busy=()
inflight=()
ctl "throttle $MIG_THROTTLE" >/dev/null || fail "throttle"
for ((rep = 0; rep < REPS; rep++)); do
    guest_copy "$CUR" "$MIG_SIZE" || fail "the host never saw the guest's grab"
    r=$(qmp "$CUR" '{"execute":"query-vdagent"}') || fail "query-vdagent"
    base=$(num "$r" bytes-in)
    VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$W/$CUR.qmp" '{"execute":"clipboard-get"}' \
        >"$W/get-src.out" 2>&1 &
    get_pid=$!
    PIDS+=("$get_pid")
    end=$((SECONDS + 20))
    while :; do
        [ "$SECONDS" -ge "$end" ] && fail "the transfer did not reach $MIG_IN bytes"
        r=$(qmp "$CUR" '{"execute":"query-vdagent"}')
        b=$(num "$r" bytes-in)
        [ -n "$b" ] || continue
        got=$((b - base))
        [ "$got" -ge "$MIG_IN" ] && break
    done
    migrate_once || fail "migration in flight: $MIG_FAIL"
    busy+=("$DT")
    inflight+=("$got")
    ctl "throttle 0" >/dev/null
    VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$W/$CUR.qmp" '{"execute":"clipboard-get"}' \
        >"$W/get-dst.out" 2>&1
    reply_ok "$W/get-dst.out" "$MIG_SIZE" ||
        fail "the destination's clipboard-get: $(head -c 200 "$W/get-dst.out")"
    wait_exit "$get_pid" 10
    ctl "throttle $MIG_THROTTLE" >/dev/null
done
ctl "throttle 0" >/dev/null

stats=$(ctl stats)

ref=$(min "${rtt[@]}")
line_us "migration downtime, idle" "$(min "${idle[@]}")" "vdctl RTT" "$ref" \
    "no target; downtime / reference"
line_us "migration downtime, 1 MiB of a 2 MiB copy in" "$(min "${busy[@]}")" \
    "vdctl RTT" "$ref" "no target; downtime / reference"
printf '    (downtime: the destination'"'"'s query-migrate "downtime-us"; all %d: '\
'idle %s, in flight %s us)\n' "$REPS" "${idle[*]}" "${busy[*]}"
printf '    (in flight: %d..%d guest bytes in when migrate was sent; the '\
'destination then completed each copy: %d bytes, same content)\n' \
    "$(min "${inflight[@]}")" "$(max "${inflight[@]}")" "$MIG_SIZE"
printf '    (reference: wall time of vdctl qmp query-status: process start, '\
'connect, greeting, 2 round trips; vdctl start alone %d us; best of %d, one '\
'after each migration)\n' "$(min "${exe[@]}")" "${#rtt[@]}"
if [ "$(field "$stats" reconnects)" = 0 ] && [ "$(field "$stats" errors)" = 0 ]; then
    printf '    (the guest agent after %d migrations: reconnects=0 errors=0; '\
'part a took %d s)\n' "$N_HOSTS" $((SECONDS - part_t0))
else
    printf '    WARNING: the guest agent after %d migrations: %s\n' "$N_HOSTS" "$stats"
fi
quit_host "$CUR" "$CUR_PID"
ctl quit >/dev/null 2>&1
wait_exit "$SIM_PID" 5
fi # a

# ---- b. clipboard paths (issue 16) --------------------------------------------

if want b; then

part_t0=$SECONDS
printf '\nb: clipboard paths, %d bytes (64 MiB) each way; the timed ends are '\
'tests/bench-peer (CLOCK_MONOTONIC, or CLOCK_REALTIME against bash'"'"'s)\n' \
    "$CLIP_SIZE"
printf 'b.a guest->host: the sim-agent (copy-bytes, one CLIPBOARD message, '\
'written as the socket takes it) to vdagent-host, from starting the '\
'clipboard-get (bench-peer qmp-get) until the sim-agent'"'"'s backlog is '\
'written (bench-peer drain: its stats polled every 200 us); baseline: the '\
'same sim-agent to a plain socket reader (bench-peer sink: caps, REQUEST '\
'when told (SIGUSR1, after the GRAB), reads 256 KiB at a time, discards), '\
'from starting kill -USR1 until the same\n'
printf 'b.b clipboard-get {"filename"} into %s, from the command sent to its '\
'reply (the data read from the guest, then written to the file); b.c '\
'vdctl clip-set of a %s file, from starting vdctl to the guest agent '\
'(bench-peer agent) having read the last byte; baseline of both: bench-peer '\
'copy, file -> unix socket pair -> file (64 KiB writes, 256 KiB reads)\n\n' \
    "${W%/*}" "${W%/*}"

PEER=$B/tests/bench-peer
[ -x "$PEER" ] || fail "$PEER missing (make bench)"
rm -f "$W/chan"
start_host g0 --guest "unix:$W/chan"
G_PID=$LAST
start_guest
# the plain reader with its own sim-agent
start "$PEER" sink "unix:$W/sink.chan" >"$W/sink.out" 2>>"$W/sink.log"
SINK_PID=$LAST
wait_for 5 test -S "$W/sink.chan" || fail "bench-peer sink did not start"
start "$SIM" --connect "unix:$W/sink.chan" --control "unix:$W/sink.ctl" \
    --quiet >>"$W/sinksim.log" 2>&1
SINKSIM_PID=$LAST
wait_for 5 test -S "$W/sink.ctl" || fail "the sink's sim-agent did not start"
"$CTL" line "unix:$W/sink.ctl" wait-caps >/dev/null || fail "no caps from the sink"
# host -> guest: a second host, the plain agent as its guest
start_host g1 --guest "unix:$W/chan1"
G1_PID=$LAST
wait_for 5 test -S "$W/chan1" || fail "g1 is not listening"
start "$PEER" agent "unix:$W/chan1" >"$W/agent.out" 2>>"$W/agent.log"

lines() { local n=0; [ -f "$1" ] && n=$(wc -l <"$1"); echo "$n"; }
wait_line() { # wait_line FILE N: FILE has more than N lines (20 s)
    local end=$((SECONDS + 20))
    while [ "$(lines "$1")" -le "$2" ]; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.005
    done
}

# One copy by the sink's sim-agent, read by the sink when told (SIG: USR1
# discards, USR2 keeps): r, the drained time; us, the sink's own figure.
sink_once() { # SIG
    local k n
    k=$(lines "$W/sink.out")
    "$CTL" line "unix:$W/sink.ctl" "copy-bytes clipboard $CLIP_SIZE" >/dev/null ||
        fail "sink copy-bytes"
    wait_line "$W/sink.out" "$k" || fail "the sink saw no grab"
    r=$("$PEER" drain "unix:$W/sink.ctl" kill "-$1" "$SINK_PID" 2>&1) ||
        fail "sink ($1): $r"
    wait_line "$W/sink.out" $((k + 1)) || fail "the sink got no clipboard"
    read -r n us < <(tail -n 1 "$W/sink.out")
    [ "$n" = "$CLIP_SIZE" ] || bad="the sink ($1) read $n bytes"
}

sink=() sinkown=() sinkkeep=() in=() get=() set=() raw=()
bad=
for ((rep = 0; rep < REPS; rep++)); do
    # raw copy
    r=$("$PEER" copy "$W/pattern" "$W/raw.out") || fail "bench-peer copy"
    raw+=("$r")
    # a baseline: the same writer into the plain reader, discarding
    sink_once USR1
    sink+=("$r")
    sinkown+=("$us")
    # the same reader keeping the bytes (new memory each time)
    sink_once USR2
    sinkkeep+=("$r")
    # a, b: through the host, into a file
    guest_copy g0 "$CLIP_SIZE" || fail "the host never saw the guest's grab"
    r=$("$PEER" drain "unix:$W/guest.ctl" "$PEER" qmp-get "unix:$W/g0.qmp" \
        "$W/get.out" 2>&1) || fail "clipboard-get: $r"
    get+=("${r%%$'\n'*}")
    in+=("${r##*$'\n'}")
    if [ "$rep" = 0 ]; then
        cmp -s "$W/get.out" "$W/pattern" || bad="clipboard-get's file differs"
    fi
    # c: host -> guest from a file
    k=$(lines "$W/agent.out")
    t0=$EPOCHREALTIME
    "$CTL" clip-set "unix:$W/g1.qmp" "$W/pattern" >/dev/null || fail "clip-set"
    wait_line "$W/agent.out" "$k" || fail "the agent got no clipboard"
    read -r n end < <(tail -n 1 "$W/agent.out")
    [ "$n" = "$CLIP_SIZE" ] || bad="the agent read $n bytes"
    set+=($((end - 10#${t0/./})))
done

goal() { # goal RATIO-X10000 GOAL-X100 WHY: a note on the target
    if [ "$1" -ge $(($2 * 100)) ]; then
        printf 'goal >= %d.%02dx: met' $(($2 / 100)) $(($2 % 100))
    else
        printf 'goal >= %d.%02dx: SHORT: %s' $(($2 / 100)) $(($2 % 100)) "$3"
    fi
}
ratio4() { echo $(($2 * 10000 / $1)); }  # ratio4 US REF-US: REF/US x 10^4

r_raw=$(min "${raw[@]}") r_sink=$(min "${sink[@]}") r_keep=$(min "${sinkkeep[@]}")
r_in=$(min "${in[@]}") r_get=$(min "${get[@]}") r_set=$(min "${set[@]}")
line_rate "b.a guest->host, sim-agent -> vdagent-host" "$CLIP_SIZE" "$r_in" \
    "plain reader" "$CLIP_SIZE" "$r_sink" \
    "$(goal "$(ratio4 "$r_in" "$r_sink")" 80 "the host keeps the 64 MiB, \
in the memory of the clipboard it replaced, read one device room (32 KiB) \
at a time: 2048 reads where the plain reader makes 256, the room bounding \
what guest input can make the device answer (vdc_chardev_input_room)")"
line_rate "b.a the run's first (new memory)" "$CLIP_SIZE" "${in[0]}" \
    "plain reader" "$CLIP_SIZE" "$r_sink" \
    "no target: the first large clipboard has no earlier one's memory to \
reuse: 64 MiB of new pages, zeroed by the kernel one by one, which alone \
costs about the plain reader's whole time"
line_rate "b.a beside a reader that keeps" "$CLIP_SIZE" "$r_in" \
    "plain, keeping" "$CLIP_SIZE" "$r_keep" \
    "no target: the same plain reader copying each chunk into a new buffer of \
the message's size, as a receiver that keeps the data"
line_rate "b.b clipboard-get to a file" "$CLIP_SIZE" "$r_get" "raw copy" \
    "$CLIP_SIZE" "$r_raw" "$(goal "$(ratio4 "$r_get" "$r_raw")" 50 \
    "guest->host into new memory, then the file: two copies")"
line_rate "b.c clipboard-set from a file, to the agent" "$CLIP_SIZE" \
    "$r_set" "raw copy" "$CLIP_SIZE" "$r_raw" \
    "$(goal "$(ratio4 "$r_set" "$r_raw")" 50 "the file into new memory, \
then to the guest: two copies")"
printf '  b.d file transfer, 100 MiB: see part e\n'
printf '    (best us: a %d, its baseline %d, keeping %d; b %d; c %d; raw copy %d; '\
'all %d runs: a %s / %s / %s; b %s; c %s; raw %s)\n' "$r_in" "$r_sink" \
    "$r_keep" "$r_get" "$r_set" "$r_raw" "$REPS" "${in[*]}" "${sink[*]}" \
    "${sinkkeep[*]}" "${get[*]}" "${set[*]}" "${raw[*]}"
printf '    (b.a: polled, so up to 200 us late, and up to a socket buffer '\
'may still be unread by either reader; the plain reader'"'"'s own figure, '\
'REQUEST to last byte: best %d us; b.b and b.c include a process start, '\
'about the part a reference)\n' "$(min "${sinkown[@]}")"
printf '    (the 3 paths run one after the other in each rep; part b took %d s)\n' \
    $((SECONDS - part_t0))
[ -n "$bad" ] && printf '    WARNING: %s\n' "$bad"
quit_host g0 "$G_PID"
quit_host g1 "$G1_PID"
ctl quit >/dev/null 2>&1
"$CTL" line "unix:$W/sink.ctl" quit >/dev/null 2>&1
wait_exit "$SIM_PID" 5
wait_exit "$SINKSIM_PID" 5
fi # b

# ---- c. live migration (pause-before-switchover, issue 21) ------------------

if want c; then

part_t0=$SECONDS
printf '\nc: live migration with pause-before-switchover, vdagent-host (--guest '\
'sim) -> a new vdagent-host, a %d-byte host-owned clipboard (clipboard-set) '\
'or none; MEDIANS of %d (the machine may be shared: medians, not bests), '\
'the references too\n\n' "$CLIP_SIZE" "$LIVE_MED_REPS"
{ printf '{"execute":"clipboard-set","arguments":{"selection":"clipboard","data":"'
  cat "$W/pattern"
  printf '"}}'; } >"$W/set.json"
LIVE_CAPS='{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"pause-before-switchover","state":true}]}}'
N_LIVE=0

# The microseconds of a MIGRATION event with STATUS in vdctl qmp-until's
# output (the host's clock, g_get_real_time), or nothing.
event_us() { # event_us FILE STATUS
    local l
    while read -r l; do
        if [[ $l == *'"status":"'$2'"'* &&
              $l =~ \"seconds\":([0-9]+),\"microseconds\":([0-9]+) ]]; then
            echo $((BASH_REMATCH[1] * 1000000 + 10#${BASH_REMATCH[2]}))
            return 0
        fi
    done <"$1"
    return 1
}

# One live migration over $1 (tcp or unix) with $2 bytes (0 or CLIP_SIZE)
# set.  From the hosts' own clocks: LDT the destination's downtime-us,
# LPH the live phase (the source's MIGRATION events "active" to
# "pre-switchover"), LALL = LPH + LDT (the whole migration but the time
# it waits in pre-switchover for the operator's migrate-continue).  Wall
# times, with the vdctl processes: WPH migrate sent to pre-switchover
# seen, WALL migrate sent to the destination's completion seen (polled).
live_once() {
    local src dst uri r st t0 t1 end spid dpid ta tp
    N_LIVE=$((N_LIVE + 1))
    src=ls$N_LIVE dst=ld$N_LIVE
    if [ "$1" = tcp ]; then
        uri="tcp:127.0.0.1:$(tcp_port)"
    else
        uri="unix:$W/$dst.mig"
    fi
    # the embedded agent writes its trace to stdout: into the logs
    start "$HOST" --guest sim --qmp "unix:$W/$src.qmp" >>"$W/$src.log" 2>&1
    spid=$LAST
    # $4: the destination's --incoming-prealloc, if any
    start "$HOST" --incoming "$uri" ${4:+--incoming-prealloc "$4"} \
        --qmp "unix:$W/$dst.qmp" >>"$W/$dst.log" 2>&1
    dpid=$LAST
    wait_for 5 test -S "$W/$src.qmp" || fail "live: $src did not start"
    wait_for 5 test -S "$W/$dst.qmp" || fail "live: $dst did not start"
    wait_for 5 eval '[ "$(str "$(qmp "$dst" "{\"execute\":\"query-migrate\"}")" status)" = setup ]' ||
        fail "live: $dst does not listen on $uri"
    if [ "$2" != 0 ]; then
        qmp "$src" "@$W/set.json" >/dev/null || fail "live: clipboard-set"
    fi
    # a clipboard set a moment before the migration, not during it: the
    # host seals large data in the background (some 40 ms for 64 MiB)
    sleep 0.3
    qmp "$src" "$LIVE_CAPS" >/dev/null || fail "live: migrate-set-capabilities"
    t0=$EPOCHREALTIME
    "$CTL" qmp-until "unix:$W/$src.qmp" \
        "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"$uri\"}}" \
        MIGRATION pre-switchover 20 >"$W/events" || fail "live: migrate: $(cat "$W/events")"
    t1=$EPOCHREALTIME
    ta=$(event_us "$W/events" active) && tp=$(event_us "$W/events" pre-switchover) ||
        fail "live: events $(cat "$W/events")"
    # $3: the seconds between pre-switchover and migrate-continue
    [ "${3:-0}" = 0 ] || sleep "$3"
    qmp "$src" '{"execute":"migrate-continue","arguments":{"state":"pre-switchover"}}' \
        >/dev/null || fail "live: migrate-continue"
    end=$((SECONDS + 20))
    while :; do
        r=$(qmp "$dst" '{"execute":"query-migrate"}')
        st=$(str "$r" status)
        [ "$st" = completed ] || [ "$st" = failed ] && break
        [ "$SECONDS" -ge "$end" ] && fail "live: no completion"
    done
    WALL=$(us_since "$t0")
    [ "$st" = completed ] || fail "live: destination $r"
    LDT=$(num "$r" downtime-us)
    WPH=$(us_since "$t0" "$t1")
    LPH=$((tp - ta))
    LALL=$((LPH + LDT))
    quit_host "$src" "$spid"
    quit_host "$dst" "$dpid"
}

for tr in tcp unix; do
    read -r raw_us raw_best < <("$B/rawcopy" "$tr" "$CLIP_SIZE") &&
        [ -n "$raw_best" ] || fail "rawcopy $tr"
    read -r fresh_us fresh_best < <("$B/rawcopy" "$tr" "$CLIP_SIZE" fresh) &&
        [ -n "$fresh_best" ] || fail "rawcopy $tr fresh"
    e_dt=() b_dt=() b_ph=() b_all=() w_ph=() w_all=() e_dtl=() b_dtl=()
    p_dt=() p_ph=() p_all=()
    for ((rep = 0; rep < LIVE_MED_REPS; rep++)); do
        live_once "$tr" 0
        e_dt+=("$LDT")
        live_once "$tr" "$CLIP_SIZE"
        b_dt+=("$LDT")
        b_ph+=("$LPH")
        b_all+=("$LALL")
        w_ph+=("$WPH")
        w_all+=("$WALL")
        # migrate-continue a moment after pre-switchover, as an operator
        # does once QEMU's RAM is across too (seconds with a VM)
        live_once "$tr" 0 "$LIVE_CONT_PAUSE"
        e_dtl+=("$LDT")
        live_once "$tr" "$CLIP_SIZE" "$LIVE_CONT_PAUSE"
        b_dtl+=("$LDT")
        # tcp: the destination started with --incoming-prealloc (unix:
        # passes the data by reference: nothing to receive)
        if [ "$tr" = tcp ]; then
            live_once "$tr" "$CLIP_SIZE" 0 "$CLIP_SIZE"
            p_dt+=("$LDT")
            p_ph+=("$LPH")
            p_all+=("$LALL")
        fi
    done
    line_us "$tr: downtime, 64 MiB, continue at once" "$(median "${b_dt[@]}")" \
        "empty state" "$(median "${e_dt[@]}")" "goal <= 2000 us and <= 1.5x"
    line_us "$tr: downtime, 64 MiB, continue ${LIVE_CONT_PAUSE} s later" \
        "$(median "${b_dtl[@]}")" "empty state" "$(median "${e_dtl[@]}")" \
        "goal <= 2000 us and <= 1.5x"
    line_rate "$tr: live phase, 64 MiB (active..pre-switch)" "$CLIP_SIZE" \
        "$(median "${b_ph[@]}")" "raw socket" "$CLIP_SIZE" "$raw_us" "goal >= 0.5x"
    line_us "$tr: whole live migration, 64 MiB" "$(median "${b_all[@]}")" \
        "raw socket" "$raw_us" "goal <= 2x"
    line_rate "$tr: live phase, beside fresh memory" "$CLIP_SIZE" \
        "$(median "${b_ph[@]}")" "raw, fresh" "$CLIP_SIZE" "$fresh_us" \
        "no target: a raw copy into new memory, as a receiver that keeps it"
    if [ "$tr" = tcp ]; then
        line_us "$tr, --incoming-prealloc: downtime, at once" "$(median "${p_dt[@]}")" \
            "empty state" "$(median "${e_dt[@]}")" "goal <= 2000 us and <= 1.5x"
        line_rate "$tr, --incoming-prealloc: live phase" "$CLIP_SIZE" \
            "$(median "${p_ph[@]}")" "raw socket" "$CLIP_SIZE" "$raw_us" "goal >= 0.5x"
        line_us "$tr, --incoming-prealloc: whole" "$(median "${p_all[@]}")" \
            "raw socket" "$raw_us" "goal <= 2x"
        printf '    (tcp, the destination started with --incoming-prealloc %d, '\
'all %d: downtime %s us; live phase %s us; whole %s us)\n' "$CLIP_SIZE" \
            "$LIVE_MED_REPS" "${p_dt[*]}" "${p_ph[*]}" "${p_all[*]}"
    fi
    printf '    (%s: all %d: downtime 64 MiB %s us, empty %s us; continuing later: '\
'64 MiB %s us, empty %s us; live phase %s us; '\
'whole %s us; wall, with vdctl: live phase %s us, whole %s us; raw socket '\
'best %d us, fresh best %d us)\n' "$tr" "$LIVE_MED_REPS" "${b_dt[*]}" \
        "${e_dt[*]}" "${b_dtl[*]}" "${e_dtl[*]}" "${b_ph[*]}" "${b_all[*]}" \
        "${w_ph[*]}" "${w_all[*]}" "$raw_best" "$fresh_best"
    if [ "$tr" = unix ]; then
        printf '    (unix: the 64 MiB go by reference, a sealed memfd passed on '\
'the socket (SCM_RIGHTS) and mapped by the destination, not as bytes: the '\
'rate is 64 MiB over the live phase'"'"'s time; tcp: sends the bytes)\n'
    fi
done
printf '    (live phase: the source'"'"'s MIGRATION events "active" to '\
'"pre-switchover", their timestamps (its clock); whole: live phase + '\
'downtime, all but the wait in pre-switchover for migrate-continue; wall: '\
'from sending migrate, through vdctl processes (about 2 ms each), to seeing '\
'pre-switchover / the destination completed; raw socket: rawcopy, a writer '\
'thread and a reader over a loopback socket of the transport, median of 5, '\
'into a buffer faulted in before (raw socket) or into new memory each time '\
'(raw, fresh); part c took %d s)\n' $((SECONDS - part_t0))
fi # c

# ---- d. TLS (issue 17) -------------------------------------------------------

if want d; then

part_t0=$SECONDS
printf '\nd: tcp: with --tls-creds (TLS, ECDSA P-256 certificates made now) '\
'beside plain tcp:, --guest sim -> a new vdagent-host, empty state; best of %d\n\n' \
    "$LIVE_REPS"
bash "$(dirname "${BASH_SOURCE[0]}")/tls-certs.sh" "$W/certs" >/dev/null ||
    fail "tls-certs.sh (certtool: make deps)"

# One migration: $1 plain or tls, $2 0 (no live phase) or 1; TDT: downtime.
tls_once() {
    local src dst port r st end spid dpid
    local -a extra=()
    [ "$1" = tls ] && extra=(--tls-creds "$W/certs/good")
    N_LIVE=$((N_LIVE + 1))
    src=ts$N_LIVE dst=td$N_LIVE port=$(tcp_port)
    start "$HOST" --guest sim --qmp "unix:$W/$src.qmp" "${extra[@]}" >>"$W/$src.log" 2>&1
    spid=$LAST
    start "$HOST" --incoming "tcp:127.0.0.1:$port" --qmp "unix:$W/$dst.qmp" \
        "${extra[@]}" >>"$W/$dst.log" 2>&1
    dpid=$LAST
    wait_for 5 test -S "$W/$src.qmp" || fail "tls: $src did not start"
    wait_for 5 test -S "$W/$dst.qmp" || fail "tls: $dst did not start"
    [ "$2" = 1 ] && { qmp "$src" "$LIVE_CAPS" >/dev/null || fail "tls: caps"; }
    qmp "$src" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:localhost:$port\"}}" \
        >/dev/null || fail "tls: migrate"
    end=$((SECONDS + 20))
    if [ "$2" = 1 ]; then
        until [ "$(str "$(qmp "$src" '{"execute":"query-migrate"}')" status)" = pre-switchover ]; do
            [ "$SECONDS" -ge "$end" ] && fail "tls: no pre-switchover"
        done
        qmp "$src" '{"execute":"migrate-continue","arguments":{"state":"pre-switchover"}}' \
            >/dev/null || fail "tls: migrate-continue"
    fi
    while :; do
        r=$(qmp "$dst" '{"execute":"query-migrate"}')
        st=$(str "$r" status)
        [ "$st" = completed ] || [ "$st" = failed ] && break
        [ "$SECONDS" -ge "$end" ] && fail "tls: no completion"
    done
    [ "$st" = completed ] || fail "tls ($1): destination $r"
    TDT=$(num "$r" downtime-us)
    quit_host "$src" "$spid"
    quit_host "$dst" "$dpid"
}

for live in 0 1; do
    p_dt=() t_dt=()
    for ((rep = 0; rep < LIVE_REPS; rep++)); do
        tls_once plain "$live"
        p_dt+=("$TDT")
        tls_once tls "$live"
        t_dt+=("$TDT")
    done
    what="tcp: TLS downtime, no live phase"
    [ "$live" = 1 ] && what="tcp: TLS downtime, pause-before-switchover"
    line_us "$what" "$(min "${t_dt[@]}")" "plain tcp:" "$(min "${p_dt[@]}")" "no target"
    printf '    (all %d: TLS %s us, plain %s us)\n' "$LIVE_REPS" "${t_dt[*]}" "${p_dt[*]}"
done
printf '    (part d took %d s)\n' $((SECONDS - part_t0))
fi # d

# ---- e. a file to the guest (issue 14) ----------------------------------------

if want e; then

part_t0=$SECONDS
bad=
PEER=$B/tests/bench-peer
FILE_SIZE=$((100 * MIB))
printf '\ne: a %d-byte (100 MiB) file to the guest: vdctl file-send (file-send, '\
'then its FILE_TRANSFER events) from starting vdctl to its "success", the '\
'guest being sim-agent --save-dir (the scripted agent'"'"'s file-transfer '\
'model, writing the file); baseline: bench-peer copy of the same file, '\
'file -> unix socket pair -> file; best of %d\n\n' "$FILE_SIZE" "$REPS"
head -c "$FILE_SIZE" /dev/urandom >"$W/file100" || fail "no 100 MiB file"
mkdir -p "$W/dl"
rm -f "$W/fchan"
start_host f0 --guest "unix:$W/fchan"
F_PID=$LAST
wait_for 5 test -S "$W/fchan" || fail "f0 is not listening"
start "$SIM" --connect "unix:$W/fchan" --control "unix:$W/fguest.ctl" --quiet \
    --save-dir "$W/dl" >>"$W/fsim.log" 2>&1
FSIM_PID=$LAST
wait_for 5 test -S "$W/fguest.ctl" || fail "the file guest did not start"
"$CTL" line "unix:$W/fguest.ctl" wait-caps >/dev/null || fail "no caps from the file guest"
fx=() fraw=()
for ((rep = 0; rep < REPS; rep++)); do
    r=$("$PEER" copy "$W/file100" "$W/raw.out") || fail "bench-peer copy"
    fraw+=("$r")
    rm -f "$W/raw.out"
    t0=$EPOCHREALTIME
    "$CTL" file-send "unix:$W/f0.qmp" "$W/file100" "f$rep" >"$W/fsend.out" ||
        fail "file-send: $(cat "$W/fsend.out")"
    fx+=("$(us_since "$t0")")
    if [ "$rep" = 0 ]; then
        cmp -s "$W/file100" "$W/dl/f$rep" || bad="the guest's file differs"
    fi
    rm -f "$W/dl/f$rep"
done
r_fx=$(min "${fx[@]}") r_fraw=$(min "${fraw[@]}")
line_rate "e file-send, 100 MiB, to the guest's disk" "$FILE_SIZE" "$r_fx" \
    "raw copy" "$FILE_SIZE" "$r_fraw" "no target; 16 KiB DATA messages under \
a 32 KiB output window, 2 KiB chunks, each decoded by the agent"
printf '    (all %d runs: file-send %s us, raw copy %s us; part e took %d s)\n' \
    "$REPS" "${fx[*]}" "${fraw[*]}" $((SECONDS - part_t0))
[ -n "$bad" ] && printf '    WARNING: %s\n' "$bad"
quit_host f0 "$F_PID"
"$CTL" line "unix:$W/fguest.ctl" quit >/dev/null 2>&1
wait_exit "$FSIM_PID" 5
rm -f "$W/file100"
fi # e

exit 0
