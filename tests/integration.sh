#!/usr/bin/env bash
# tests/integration.sh [BUILD_DIR]: integration tests of vdagent-host.
#
# Runs vdagent-host, the scripted guest agent (sim-agent) and the vdctl
# client (all from BUILD_DIR, default build/: `make host`) through the
# scenarios below and prints one TAP-like line per scenario, "ok - NAME" or
# "not ok - NAME: reason[; reason...]", then a summary.  Exits 0 only when
# every scenario passed.
#
#   1 demo          caps, clipboard both ways (ASCII, UTF-8, 1 MiB, binary),
#                   pointer on two heads, live unix: migration during a
#                   throttled transfer
#   2 refused       a refusing destination (fake and a real one whose
#                   post_load check fails): the source resumes, loses nothing
#   3 dest-dies     a destination dying mid-transfer (fake, and SIGKILL)
#   4 file-tcp      migrate to file:, load it into a new host, continue the
#                   session with a fresh --no-announce agent; tcp: migration
#   5 malformed     malformed control-socket input: errors, never a crash
#   6 cli           command-line errors, sockets already in use
#   7 quit          quit: exit 0, sockets unlinked (a handed-over one kept)
#   8 fd-uri        fd:N validated for migrate, migrate-incoming, --incoming
#   9 inflight      host -> guest data in flight across a chain of unix:,
#                   tcp: and fd: migrations, random sizes and cut points
#                   (seeded, INFLIGHT_SEED=N): byte-exact, one session
#                   (inflight-windows: the host's side, 3 hops, with
#                   sim-agent --model windows)
#  10 moved         state-changing commands during a migration and after it
#                   fail clearly; the state is where the guest is
#  11 inflight-stopped  a reply in flight from a stopped source whose agent
#                   has emptied the socket: the destination wakes the device
#  12 hostile-qmp   hostile control-socket input (issue 23): every member
#                   of every command with every JSON type, multi-byte text
#                   split by the reads, what is not JSON, ids, invalid
#                   UTF-8 from the guest, a command before a stray byte,
#                   a ninth client
#  13 hostile-mig   a hostile migration peer (issue 23): a 0 byte answer
#                   does not take the source's state, a silent peer is
#                   dropped within seconds
#  14 heads         the display layout migrates: the pointer on the second
#                   of two heads, and a layout shrunk below the pointer, each
#                   to a tcp: destination started with the usual options
#  15 max-message   --max-message 4294967295: the agent (with the signed
#                   rule of the real ones) is told INT32_MAX and its
#                   clipboard reaches the host
#  16 live          pause-before-switchover (issue 21): a destination killed
#                   in the live phase, a cancel in pre-switchover, then a
#                   live unix: migration with host and guest clipboard
#                   activity and a guest paste in flight across it
#                   (live-windows: the same with sim-agent --model windows,
#                   CLIPBOARD only)
#  17 quiet-flood   a guest flooding requests without reading: the host
#                   stops reading it, migrations over tcp: and unix:
#                   succeed, every request is answered
#  18 clip-files    clipboard-get / clipboard-set with "filename" (issue
#                   16) through vdctl clip-get / clip-set, multi-MiB both
#                   ways byte-exact, refused ones change nothing
#  19 tls           --tls-creds (issue 17), certificates made at test time
#                   (tests/tls-certs.sh): every refusal (CA, dates, authz,
#                   plain text either way, a cut handshake, garbage after
#                   it: build/tls-peer) with its error on both sides and
#                   the source still serving, then a TLS tcp: migration in
#                   the middle of large transfers both ways
#  20 windows       a Windows guest (sim-agent --model windows, issue 22):
#                   line endings both ways, images untouched, a regrab, a
#                   NONE answer failing clipboard-get at once, a live
#                   migration with multi-line text in flight to it
#
# Only bash, coreutils, grep and sed are used (as by tests/demo.sh: no
# python, socat or nc; control sockets are reached through vdctl, guest
# agents are sim-agent processes).  Each scenario runs in its own process
# group (a background subshell) with its own work directory; every process
# it starts is ended by PID (TERM, then KILL), and a per-scenario watchdog
# plus a global budget (150 s, INTEGRATION_BUDGET) bound the run.  On failure the logs of the
# failing scenarios are printed and kept; everything else is removed.
# Interrupting (INT/TERM) ends every process started.
# Environment: INTEGRATION_ONLY="NAME..." runs only those scenarios;
# INTEGRATION_BUDGET=SECONDS bounds the whole run (default 85).
set -u
export LC_ALL=C

B=${1:-build}
B=$(cd "$B" 2>/dev/null && pwd) || { echo "usage: $0 [BUILD_DIR]" >&2; exit 2; }
HOST=$B/vdagent-host SIM=$B/sim-agent CTL=$B/vdctl
for f in "$HOST" "$SIM" "$CTL"; do
    [ -x "$f" ] || { echo "Bail out! $f missing: run make host" >&2; exit 2; }
done
export VDCTL_TIMEOUT=5          # every vdctl reply is bounded
BUDGET=${INTEGRATION_BUDGET:-150}  # seconds for the whole run
ONLY=${INTEGRATION_ONLY:-}          # e.g. "demo quit": run only these
W=$(mktemp -d /tmp/vdagent-it.XXXXXX)
START=$SECONDS
SPID=                           # the running scenario's process group
CURRENT=                        # and its name
PASSED=0 FAILED=0 FAILED_DIRS=()
REAP_SECS=5 START_TRUNCATE=1 START_KEEP_FD3=1     # (fd-uri passes fd 3)
. "$(dirname "$0")/lib.sh"      # the process helpers: reap, start, stop, ...

# ---- parent: cleanup (its own, not lib.sh's) ------------------------------

kill_group() { # PGID: TERM the group, then KILL what remains
    local g=$1 i
    kill -TERM -- "-$g" 2>/dev/null || return 0
    for ((i = 0; i < 40; i++)); do
        kill -0 -- "-$g" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL -- "-$g" 2>/dev/null
}

cleanup() {
    trap - EXIT INT TERM
    if [ -n "$SPID" ]; then
        kill_group "$SPID"
        wait "$SPID" 2>/dev/null
        SPID=
    fi
    if [ "$FAILED" = 0 ] && [ "${INTERRUPTED:-0}" = 0 ]; then
        rm -rf "$W"
    else
        # keep the logs only
        local f
        for f in "$W"/* "$W"/*/*; do
            [ -d "$f" ] || case $f in *.log) ;; *) rm -f "$f" ;; esac
        done
        rmdir "$W"/* "$W" 2>/dev/null
        [ -d "$W" ] && echo "# logs kept in $W"
    fi
}
on_signal() {
    INTERRUPTED=1
    if [ -n "$CURRENT" ]; then
        echo "not ok - $CURRENT: interrupted"
        FAILED=$((FAILED + 1))
    fi
    echo "# interrupted after $((SECONDS - START)) s: $PASSED passed, $FAILED failed"
    exit 130                    # runs cleanup through the EXIT trap
}
trap cleanup EXIT
trap on_signal INT TERM

# ---- scenario side: helpers (run inside the scenario's subshell) --------

D=

note() { printf '# %s\n' "$*"; }
bad() { printf '%s\n' "$*" >>"$D/reasons"; printf '# FAIL: %s\n' "$*"; }
die() { bad "$@"; exit 1; }

scenario_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do reap "$p"; done
}

qmp() { "$CTL" qmp "unix:$D/$1" "$2"; }          # SOCK JSON
ctl() { "$CTL" line "unix:$D/$1" "$2"; }         # CTLSOCK COMMAND
q_match() { qmp "$1" "$2" 2>/dev/null | grep -q -- "$3"; }
ctl_match() { ctl "$1" "$2" 2>/dev/null | grep -q -- "$3"; }

field() { # JSON KEY: a string or number value (crude)
    sed -n "s/.*\"$2\":\(\"[^\"]*\"\|-\?[0-9][0-9]*\|true\|false\).*/\1/p" <<<"$1" | tr -d '"'
}
array() { # JSON KEY: the contents of an array value
    sed -n "s/.*\"$2\":\[\([^]]*\)\].*/\1/p" <<<"$1"
}
get_data() { # REPLY: the text of a clipboard-get reply
    sed -n 's/^{"return":{"data":"\(.*\)"}}$/\1/p' <<<"$1"
}
mig_status() { field "$(qmp "$1" '{"execute":"query-migrate"}' 2>/dev/null)" status; }
mig_is() { [ "$(mig_status "$1")" = "$2" ]; }
mig_done() { case $(mig_status "$1") in completed|failed) return 0;; esac; return 1; }
run_status() { field "$(qmp "$1" '{"execute":"query-status"}' 2>/dev/null)" status; }
status_is() { [ "$(run_status "$1")" = "$2" ]; }
bytes_in() { field "$(qmp "$1" '{"execute":"query-vdagent"}' 2>/dev/null)" bytes-in; }
bytes_out_ge() { local n; n=$(field "$(qmp "$1" '{"execute":"query-vdagent"}' 2>/dev/null)" bytes-out); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
bytes_in_ge() { local n; n=$(bytes_in "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
guest_serial() { # SOCK SEL: the serial of a guest-owned selection, else ""
    qmp "$1" "{\"execute\":\"clipboard-query\",\"arguments\":{\"selection\":\"$2\"}}" \
        2>/dev/null | sed -n 's/.*"owner":"guest".*"serial":\([0-9]*\).*/\1/p'
}
guest_grabbed() { # SOCK SEL PREV-SERIAL: the guest owns SEL with a new serial
    local s
    s=$(guest_serial "$1" "$2")
    [ -n "$s" ] && [ "$s" != "$3" ]
}
sim_stat() { # CTLSOCK KEY
    ctl "$1" stats 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}
stat_is() { [ "$(sim_stat "$1" "$2")" = "$3" ]; }
paste_text() { # CTLSOCK SEL [TYPE]: what the guest pasted (decoded), or fail
    local r
    r=$(ctl "$1" "paste $2 ${3:-text}") || { printf '%s' "$r"; return 1; }
    case $r in "ok 0") return 0;; esac
    base64 -d <<<"${r##* }"
}

LETTERS=abcdefghijklmnopqrstuvwxyz
pattern() { # N: the bytes of sim-agent's copy-bytes N (text)
    local u="" i
    for ((i = 0; i < 26; i++)); do u+=${LETTERS:$(((i * 7 + 3) % 26)):1}; done
    yes "$u" | tr -d '\n' | head -c "$1"
}
fnv_pattern() { # N: FNV-1a 64 of pattern N, as sim-agent's "checksum"
    local n=$1 e=h i k h=-3750763034362895579 P=1099511628211
    for ((i = 0; i < 26; i++)); do e="((($e)^$((97 + (i * 7 + 3) % 26)))*P)"; done
    for ((k = 0; k < n / 26; k++)); do h=$((e)); done
    for ((i = n / 26 * 26; i < n; i++)); do h=$(((h ^ (97 + (i * 7 + 3) % 26)) * P)); done
    printf '%016x' "$h"
}
same_pattern() { # FILE N: FILE holds exactly pattern N
    [ "$(wc -c <"$1")" = "$2" ] &&
        [ "$(sha256sum <"$1")" = "$(pattern "$2" | sha256sum)" ]
}

start_host() { # NAME ARGS...: a vdagent-host; waits for its control socket NAME.qmp
    local name=$1
    shift
    start "$name" "$HOST" --qmp "unix:$D/$name.qmp" --verbose "$@"
    wait_for 5 test -S "$D/$name.qmp" || die "$name did not start: $(tail -3 "$D/$name.log")"
}
start_sim() { # NAME CHAN [ARGS...]: a sim-agent on unix:CHAN, control NAME.ctl
    local name=$1 chan=$2
    shift 2
    start "$name" "$SIM" --connect "unix:$D/$chan" --control "unix:$D/$name.ctl" \
        --name "$name" "$@"
    wait_for 5 test -S "$D/$name.ctl" || die "$name did not start: $(tail -3 "$D/$name.log")"
}
start_host_via() { # NAME PREFIX... -- ARGS...: start_host through a wrapper
    local name=$1                   # command (e.g. vdctl fd-pair ...)
    local -a pre=()
    shift
    while [ "$1" != -- ]; do pre+=("$1"); shift; done
    shift
    start "$name" "${pre[@]}" "$HOST" --qmp "unix:$D/$name.qmp" --verbose "$@"
    wait_for 5 test -S "$D/$name.qmp" || die "$name did not start: $(tail -3 "$D/$name.log")"
}
host_with_guest() { # HOST GUEST CHAN: a host listening on CHAN, an agent on it
    start_host "$1" --guest "unix:$D/$3"   # (of model $SIM_MODEL when set)
    wait_for 5 test -S "$D/$3" || die "$1 is not listening on $3"
    start_sim "$2" "$3" ${SIM_MODEL:+--model "$SIM_MODEL"}
    wait_for 5 ctl_match "$2.ctl" wait-caps '^ok' || die "$2: no caps from the host"
}

clip_set() { # SOCK SEL TEXT
    qmp "$1" "{\"execute\":\"clipboard-set\",\"arguments\":{\"selection\":\"$2\",\"data\":\"$3\"}}"
}
clip_get() { # SOCK SEL
    qmp "$1" "{\"execute\":\"clipboard-get\",\"arguments\":{\"selection\":\"$2\"}}"
}
abs_btn() { # SOCK HEAD X Y BUTTON DOWN
    qmp "$1" "{\"execute\":\"input-send-event\",\"arguments\":{\"head\":$2,\"events\":[
      {\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":$3}},
      {\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":$4}},
      {\"type\":\"btn\",\"data\":{\"down\":$6,\"button\":\"$5\"}}]}}"
}

# Host -> guest text: the guest pastes exactly TEXT.
host_to_guest() { # SOCK CTL SEL TEXT
    local got
    clip_set "$1" "$3" "$4" >/dev/null || { bad "clipboard-set $3 on $1 failed"; return 1; }
    got=$(paste_text "$2" "$3") || { bad "guest paste $3 through $1: $got"; return 1; }
    [ "$got" = "$4" ] || { bad "guest pasted '$got', expected '$4'"; return 1; }
    note "host->guest $3 via $1: '$got'"
}
# Guest -> host text: the host reads exactly TEXT.
guest_to_host() { # SOCK CTL SEL TEXT
    local prev r got
    prev=$(guest_serial "$1" "$3")
    ctl "$2" "copy $3 $4" >/dev/null || { bad "guest copy $3 failed"; return 1; }
    wait_for 5 guest_grabbed "$1" "$3" "$prev" || { bad "$1 never saw the guest's $3 grab"; return 1; }
    r=$(clip_get "$1" "$3") || { bad "clipboard-get $3 on $1: $r"; return 1; }
    got=$(get_data "$r")
    [ "$got" = "$4" ] || { bad "$1 read '$got', expected '$4'"; return 1; }
    note "guest->host $3 via $1: '$got'"
}
pointer_is() { # CTL "X Y BUTTONS DISPLAY"
    wait_for 5 ctl_match "$1" pointer "^ok $2\$" ||
        { bad "pointer: expected '$2', guest says '$(ctl "$1" pointer)'"; return 1; }
}
no_reconnect() { # CTL WHEN
    local r
    r=$(ctl "$1" stats)
    note "$1 stats $2: ${r#ok }"
    grep -q ' reconnects=0 ' <<<"$r" || bad "$1 reconnected ($2): $r"
    grep -q ' errors=0 ' <<<"$r" || bad "$1 saw protocol errors ($2): $r"
}
utf8_ok() { LC_ALL=C.UTF-8 grep -qax '.*' <<<"$1"; }   # TEXT is valid UTF-8
too_many() { # SOCK: a new client is refused as the ninth
    [ "$("$CTL" raw "unix:$D/$1" '{}' 2>/dev/null | tr -d '\r')" = \
      '{"error":{"class":"GenericError","desc":"too many clients (at most 8)"}}' ]
}
migrate() { # SOCK URI
    qmp "$1" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"$2\"}}"
}

# ---- scenarios ------------------------------------------------------------

# 1. The demo as assertions.
s_demo() {
    local r caps got sum size big prev before serial_src serial_dst n

    start_host src --guest "unix:$D/chan"
    start evt "$CTL" wait-event "unix:$D/src.qmp" VDAGENT_CONNECTED 10
    sleep 0.5                                   # let the waiter negotiate
    wait_for 5 test -S "$D/chan" || die "src is not listening on chan"
    start_sim guest chan
    wait_for 5 ctl_match guest.ctl wait-caps '^ok' || die "no caps from the host"

    # caps
    exit_status evt 5 || bad "no VDAGENT_CONNECTED event: $(cat "$D/evt.log")"
    grep -q '"VDAGENT_CONNECTED".*clipboard-grab-serial' "$D/evt.log" ||
        bad "VDAGENT_CONNECTED without the guest caps: $(cat "$D/evt.log")"
    r=$(qmp src.qmp '{"execute":"query-vdagent"}') || die "query-vdagent: $r"
    caps=$(array "$r" guest-caps)
    note "guest caps: $caps"
    grep -q '"clipboard-grab-serial"' <<<"$caps" || bad "guest caps lack clipboard-grab-serial"
    [ "$(field "$r" mouse-active)" = true ] || bad "mouse-active is not true: $r"
    [ "$(field "$r" connected)" = true ] || bad "connected is not true"

    # clipboard host -> guest, guest -> host
    host_to_guest src.qmp guest.ctl clipboard "Hello from the host"
    host_to_guest src.qmp guest.ctl clipboard "héllo ✓"
    host_to_guest src.qmp guest.ctl primary "primary: ünïcödé ✓✓"
    guest_to_host src.qmp guest.ctl clipboard "Hello from the guest"
    guest_to_host src.qmp guest.ctl clipboard "héllo ✓ from the guest"

    # binary host -> guest: 48 KiB of random PNG bytes
    head -c 49152 /dev/urandom >"$D/img.bin"
    qmp src.qmp "{\"execute\":\"clipboard-set\",\"arguments\":{\"type\":\"png\",\"data-base64\":\"$(base64 -w0 "$D/img.bin")\"}}" \
        >/dev/null || bad "clipboard-set png"
    r=$(ctl guest.ctl "paste clipboard png")
    base64 -d <<<"${r##* }" >"$D/img.got" 2>/dev/null
    [ "$(sha256sum <"$D/img.bin")" = "$(sha256sum <"$D/img.got")" ] || bad "the guest's PNG differs (${r:0:40}...)"

    # 1 MiB guest -> host, checksums compared
    size=$((1024 * 1024))
    prev=$(guest_serial src.qmp clipboard)
    ctl guest.ctl "copy-bytes clipboard $size" >/dev/null || bad "copy-bytes"
    sum=$(ctl guest.ctl "checksum clipboard")
    wait_for 5 guest_grabbed src.qmp clipboard "$prev" || bad "no grab for the 1 MiB copy"
    r=$(VDCTL_TIMEOUT=20 "$CTL" qmp "unix:$D/src.qmp" '{"execute":"clipboard-get"}')
    get_data "$r" | tr -d '\n' >"$D/big.got"
    note "guest checksum: $sum; host got $(wc -c <"$D/big.got") bytes"
    same_pattern "$D/big.got" "$size" || bad "the 1 MiB the host read is not what the guest copied"
    [ "$sum" = "ok $size $(fnv_pattern "$size")" ] ||
        bad "guest checksum '$sum' != FNV-1a of the data the host read ($(fnv_pattern "$size"))"

    # pointer, one head then two
    abs_btn src.qmp 0 16384 8192 left true >/dev/null || bad "input-send-event"
    pointer_is guest.ctl "511 191 2 0"
    abs_btn src.qmp 0 32767 32767 left false >/dev/null || bad "input-send-event"
    pointer_is guest.ctl "1023 767 0 0"
    qmp src.qmp '{"execute":"display-configure","arguments":{"heads":[
      {"width":1024,"height":768,"x":0,"y":0},{"width":800,"height":600,"x":1024,"y":0}]}}' \
        >/dev/null || bad "display-configure two heads"
    wait_for 5 ctl_match guest.ctl monitors '^ok 2 1024x768+0+0 800x600+1024+0$' ||
        bad "monitors: $(ctl guest.ctl monitors)"
    abs_btn src.qmp 1 16384 16384 middle true >/dev/null || bad "input-send-event head 1"
    pointer_is guest.ctl "399 299 4 1"
    abs_btn src.qmp 1 32767 32767 middle false >/dev/null || bad "input-send-event head 1"
    pointer_is guest.ctl "799 599 0 1"
    # back on head 0 (the heads case migrates a pointer left on head 1)
    abs_btn src.qmp 0 0 0 left false >/dev/null
    pointer_is guest.ctl "0 0 0 0"

    # live migration over unix: in the middle of a throttled transfer
    start_host dst --incoming "unix:$D/mig"
    wait_for 5 test -S "$D/mig" || die "destination not listening"
    host_to_guest src.qmp guest.ctl secondary "host secondary before migration"
    big=$((4 * 1024 * 1024))
    ctl guest.ctl "throttle 32" >/dev/null || bad "throttle"
    prev=$(guest_serial src.qmp clipboard)
    ctl guest.ctl "copy-bytes clipboard $big" >/dev/null || bad "copy-bytes $big"
    wait_for 5 guest_grabbed src.qmp clipboard "$prev" || die "no grab for the big copy"
    start srcget env VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$D/src.qmp" '{"execute":"clipboard-get"}'
    wait_for 10 bytes_in_ge src.qmp 262144 || die "the transfer did not start"
    r=$(qmp src.qmp '{"execute":"query-vdagent"}')
    before=$(field "$r" bytes-in)
    serial_src=$(array "$r" last-serial)
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate"
    note "migrating with $before bytes of $big received"
    wait_for 10 mig_done src.qmp || die "migration did not finish"
    [ "$(mig_status src.qmp)" = completed ] ||
        die "source: $(qmp src.qmp '{"execute":"query-migrate"}')"
    [ "$before" -lt "$big" ] || bad "the transfer was over before the migration"
    r=$(qmp dst.qmp '{"execute":"query-migrate"}')
    [ "$(field "$r" status)" = completed ] || bad "destination: $r"
    [ -n "$(field "$r" downtime-us)" ] || bad "no downtime-us on the destination: $r"
    note "downtime $(field "$r" downtime-us) us"
    [ "$(run_status src.qmp)" = postmigrate ] || bad "source status $(run_status src.qmp)"
    [ "$(run_status dst.qmp)" = running ] || bad "destination status $(run_status dst.qmp)"
    serial_dst=$(array "$(qmp dst.qmp '{"execute":"query-vdagent"}')" last-serial)
    [ "$serial_dst" = "$serial_src" ] ||
        bad "last-serial changed over the migration: source [$serial_src], destination [$serial_dst]"
    ctl guest.ctl "throttle 0" >/dev/null

    # the transfer completes on the destination
    r=$(VDCTL_TIMEOUT=20 "$CTL" qmp "unix:$D/dst.qmp" '{"execute":"clipboard-get"}') ||
        bad "clipboard-get on the destination: ${r:0:200}"
    get_data "$r" | tr -d '\n' >"$D/big.got"
    note "destination read $(wc -c <"$D/big.got") bytes"
    same_pattern "$D/big.got" "$big" || bad "the destination did not read the guest's $big bytes"
    no_reconnect guest.ctl "after the migration"

    # clipboard and pointer through the destination
    got=$(paste_text guest.ctl secondary) || bad "paste of the host's pre-migration secondary: $got"
    [ "$got" = "host secondary before migration" ] ||
        bad "guest pasted '$got' for the host's pre-migration secondary"
    n=$(grep -c 'host grabbed secondary' "$D/guest.log")
    [ "$n" = 1 ] || bad "the guest got $n GRABs for the host's secondary (the destination re-sent it)"
    host_to_guest dst.qmp guest.ctl clipboard "Hello after migration"
    guest_to_host dst.qmp guest.ctl primary "Guest primary after migration"
    abs_btn dst.qmp 0 0 32767 right true >/dev/null || bad "input-send-event on the destination"
    pointer_is guest.ctl "0 767 8 0"
    no_reconnect guest.ctl "at the end"
}

# 2. Refusing destinations: the source resumes and loses nothing.
s_refused() {
    local r desc size got prev

    host_with_guest src guest chan
    guest_to_host src.qmp guest.ctl clipboard "guest owns the clipboard"

    # a fake destination that reads everything and refuses
    start fake "$CTL" fake-dest "unix:$D/fake" refuse
    wait_for 5 test -S "$D/fake" || die "fake destination not listening"
    migrate src.qmp "unix:$D/fake" >/dev/null || die "migrate"
    wait_for 10 mig_done src.qmp || die "migration (refused) did not finish"
    r=$(qmp src.qmp '{"execute":"query-migrate"}')
    [ "$(field "$r" status)" = failed ] || bad "refused migration: $r"
    desc=$(field "$r" error-desc)
    [ -n "$desc" ] || bad "no error-desc: $r"
    grep -q refused <<<"$desc" || bad "error-desc does not say refused: $desc"
    note "refused: $desc"
    wait_for 5 status_is src.qmp running || bad "source status $(run_status src.qmp)"
    exit_status fake 5 >/dev/null

    # a real destination whose post_load check fails (--clipboard off while
    # the guest owns the clipboard), with a guest transfer in flight
    start_host dst --incoming "unix:$D/mig" --clipboard off
    wait_for 5 test -S "$D/mig" || die "destination not listening"
    size=$((2 * 1024 * 1024))
    ctl guest.ctl "throttle 16" >/dev/null
    prev=$(guest_serial src.qmp clipboard)
    ctl guest.ctl "copy-bytes clipboard $size" >/dev/null || bad "copy-bytes"
    wait_for 5 guest_grabbed src.qmp clipboard "$prev" || die "no grab for the transfer"
    start srcget env VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$D/src.qmp" '{"execute":"clipboard-get"}'
    wait_for 10 bytes_in_ge src.qmp 262144 || die "the transfer did not start"
    note "migrating with $(bytes_in src.qmp) bytes of $size received"
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate"
    wait_for 10 mig_done src.qmp || die "migration (post_load) did not finish"
    r=$(qmp src.qmp '{"execute":"query-migrate"}')
    [ "$(field "$r" status)" = failed ] || bad "post_load-refused migration: $r"
    desc=$(field "$r" error-desc)
    [ -n "$desc" ] || bad "no error-desc: $r"
    note "refused: $desc"
    wait_for 5 status_is src.qmp running || bad "source status $(run_status src.qmp)"
    [ "$(mig_status dst.qmp)" = failed ] || bad "destination query-migrate: $(mig_status dst.qmp)"
    [ "$(run_status dst.qmp)" = inmigrate ] || bad "destination status: $(run_status dst.qmp)"
    alive dst || bad "the refusing destination died"

    # the in-flight transfer completes on the source
    if exit_status srcget 20; then
        get_data "$(cat "$D/srcget.log")" | tr -d '\n' >"$D/big.got"
        same_pattern "$D/big.got" "$size" ||
            bad "the clipboard-get in flight returned $(wc -c <"$D/big.got") bytes, not the guest's $size"
    else
        bad "the clipboard-get in flight at the migration failed: $(head -c 200 "$D/srcget.log")"
    fi
    wait_for 10 stat_is guest.ctl out-bytes 0 || bad "the guest's transfer never drained"
    ctl guest.ctl "throttle 0" >/dev/null
    r=$(VDCTL_TIMEOUT=10 "$CTL" qmp "unix:$D/src.qmp" '{"execute":"clipboard-get"}')
    get_data "$r" | tr -d '\n' >"$D/big2.got"
    same_pattern "$D/big2.got" "$size" ||
        bad "a later clipboard-get returned $(wc -c <"$D/big2.got") bytes, not $size: ${r:0:120}"

    # the source keeps working, the guest never reconnected
    host_to_guest src.qmp guest.ctl clipboard "host text after the refusals"
    guest_to_host src.qmp guest.ctl clipboard "guest text after the refusals"
    abs_btn src.qmp 0 32767 0 left true >/dev/null || bad "input-send-event"
    pointer_is guest.ctl "1023 0 2 0"
    no_reconnect guest.ctl "after the refusals"
}

# 3. A destination dying mid-transfer.
s_dest_dies() {
    local r

    host_with_guest src guest chan
    guest_to_host src.qmp guest.ctl clipboard "before the first attempt"

    # vdctl fake-dest: reads 1000 bytes of the channel, then closes
    start fake "$CTL" fake-dest "unix:$D/fake" 1000
    wait_for 5 test -S "$D/fake" || die "fake destination not listening"
    migrate src.qmp "unix:$D/fake" >/dev/null || die "migrate"
    wait_for 10 mig_done src.qmp || die "migration (fake dies) did not finish"
    r=$(qmp src.qmp '{"execute":"query-migrate"}')
    note "fake-dest 1000: $r"
    [ "$(field "$r" status)" = failed ] || bad "migration to a dying destination: $r"
    [ -n "$(field "$r" error-desc)" ] || bad "no error-desc: $r"
    wait_for 5 status_is src.qmp running || bad "source status $(run_status src.qmp)"
    exit_status fake 5 >/dev/null
    host_to_guest src.qmp guest.ctl clipboard "host text after the fake died"
    guest_to_host src.qmp guest.ctl clipboard "guest text after the fake died"
    no_reconnect guest.ctl "after the fake destination died"

    # a real destination, stopped so that it cannot finish, then SIGKILLed
    start_host dst --incoming "unix:$D/mig"
    wait_for 5 test -S "$D/mig" || die "destination not listening"
    kill -STOP "${PID[dst]}"
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate"
    sleep 0.2
    kill -KILL "${PID[dst]}"
    reap "${PID[dst]}"
    wait_for 10 mig_done src.qmp || die "migration (SIGKILL) did not finish"
    r=$(qmp src.qmp '{"execute":"query-migrate"}')
    note "SIGKILLed destination: $r"
    [ "$(field "$r" status)" = failed ] || bad "migration to a killed destination: $r"
    [ -n "$(field "$r" error-desc)" ] || bad "no error-desc: $r"
    wait_for 5 status_is src.qmp running || bad "source status $(run_status src.qmp)"
    host_to_guest src.qmp guest.ctl clipboard "host text after the kill"
    guest_to_host src.qmp guest.ctl primary "guest text after the kill"
    abs_btn src.qmp 0 16384 16384 right true >/dev/null || bad "input-send-event"
    pointer_is guest.ctl "511 383 8 0"
    no_reconnect guest.ctl "after the killed destination"
}

# 4. file: and tcp: migrations.
s_file_tcp() {
    local r src_caps src_word src_serial got port tries

    host_with_guest src guest chan
    guest_to_host src.qmp guest.ctl primary "guest primary before the file migration"
    host_to_guest src.qmp guest.ctl clipboard "host text before the file migration"
    r=$(qmp src.qmp '{"execute":"query-vdagent"}')
    src_caps=$(array "$r" guest-caps) src_word=$(field "$r" caps-word)
    src_serial=$(array "$r" last-serial)

    migrate src.qmp "file:$D/state" >/dev/null || die "migrate file:"
    wait_for 5 mig_done src.qmp || die "file: migration did not finish"
    r=$(qmp src.qmp '{"execute":"query-migrate"}')
    [ "$(field "$r" status)" = completed ] || die "file: migration: $r"
    [ "$(run_status src.qmp)" = postmigrate ] || bad "source status $(run_status src.qmp)"
    [ "$(head -c 4 "$D/state")" = QEVM ] || bad "the file does not start with QEVM"
    [ "$(tail -c 1 "$D/state")" = "}" ] || bad "the file does not end with a JSON object"
    grep -aq '"page_size".*"devices"\|"devices".*"page_size"' "$D/state" ||
        bad "no JSON description (page_size, devices) in the file"
    note "state file: $(wc -c <"$D/state") bytes"

    start_host new --incoming "file:$D/state" --guest "unix:$D/newchan"
    r=$(qmp new.qmp '{"execute":"query-migrate"}')
    [ "$(field "$r" status)" = completed ] || bad "load from file: $r"
    [ "$(run_status new.qmp)" = running ] || bad "new host status $(run_status new.qmp)"
    r=$(qmp new.qmp '{"execute":"query-vdagent"}')
    [ "$(field "$r" connected)" = true ] || bad "new host not connected: $r"
    [ "$(array "$r" guest-caps)" = "$src_caps" ] || bad "guest caps differ: [$(array "$r" guest-caps)]"
    [ "$(field "$r" caps-word)" = "$src_word" ] || bad "caps-word differs: $(field "$r" caps-word)"
    [ "$(array "$r" last-serial)" = "$src_serial" ] ||
        bad "last-serial differs: source [$src_serial], loaded [$(array "$r" last-serial)]"
    q_match new.qmp '{"execute":"clipboard-query"}' '"owner":"host"' ||
        bad "the host's clipboard did not migrate: $(qmp new.qmp '{"execute":"clipboard-query"}')"
    got=$(get_data "$(clip_get new.qmp clipboard)")
    [ "$got" = "host text before the file migration" ] || bad "new host's clipboard: '$got'"
    q_match new.qmp '{"execute":"clipboard-query","arguments":{"selection":"primary"}}' '"owner":"guest"' ||
        bad "the guest's primary did not migrate"

    # a fresh agent that does not announce: the continuing session
    start_sim g2 newchan --no-announce
    wait_for 5 stat_is g2.ctl connected 1 || bad "g2 never connected"
    sleep 0.3                                   # whatever the host sends
    r=$(qmp new.qmp '{"execute":"query-vdagent"}')
    grep -q '"announce-capabilities"' <<<"$(sed -n 's/.*"out":\({[^}]*}\).*/\1/p' <<<"$r")" &&
        bad "the new host sent caps to the continuing agent: $r"
    grep -q 'caps from host' "$D/g2.log" && bad "g2 got caps: $(grep 'caps from host' "$D/g2.log")"
    [ "$(sim_stat g2.ctl caps)" = 0x00000000 ] || bad "g2 stats caps=$(sim_stat g2.ctl caps)"
    [ "$(field "$(qmp new.qmp '{"execute":"query-vdagent"}')" connected)" = true ] ||
        bad "new host not connected with g2"
    no_reconnect g2.ctl "on the new host"
    # A fresh sim-agent process cannot know the host's grab from before the
    # migration (a real agent across a VM migration keeps it: its port never
    # closes); the host side must still hold and serve the restored data.
    r=$(qmp new.qmp '{"execute":"clipboard-query"}')
    grep -q '"owner":"host"' <<<"$r" || bad "the host's clipboard was not restored: $r"
    r=$(qmp new.qmp '{"execute":"clipboard-get"}')
    [ "$(field "$r" data)" = "host text before the file migration" ] ||
        bad "the restored host clipboard reads '$r'"
    note "g2 transcript: $(tr '\n' '|' <"$D/g2.log")"

    # tcp: a source with the embedded sim agent, state only
    start_host tsrc --guest sim
    wait_for 5 q_match tsrc.qmp '{"execute":"query-vdagent"}' '"connected":true' ||
        die "--guest sim never connected"
    src_caps=$(array "$(qmp tsrc.qmp '{"execute":"query-vdagent"}')" guest-caps)
    for ((tries = 0; tries < 5; tries++)); do
        port=$(tcp_port)
        start_host "tdst" --incoming "tcp:127.0.0.1:$port" --guest "unix:$D/tchan"
        wait_for 5 q_match tdst.qmp '{"execute":"query-migrate"}' '"setup"' && break
        stop tdst
        rm -f "$D/tdst.qmp"
    done
    [ "$(mig_status tdst.qmp)" = setup ] || die "no tcp destination"
    [ "$(run_status tdst.qmp)" = inmigrate ] || bad "tcp destination status $(run_status tdst.qmp)"
    migrate tsrc.qmp "tcp:127.0.0.1:$port" >/dev/null || die "migrate tcp:"
    wait_for 10 mig_done tsrc.qmp || die "tcp: migration did not finish"
    [ "$(mig_status tsrc.qmp)" = completed ] || bad "tcp source: $(qmp tsrc.qmp '{"execute":"query-migrate"}')"
    [ "$(mig_status tdst.qmp)" = completed ] || bad "tcp destination: $(mig_status tdst.qmp)"
    [ "$(run_status tsrc.qmp)" = postmigrate ] || bad "tcp source status $(run_status tsrc.qmp)"
    [ "$(run_status tdst.qmp)" = running ] || bad "tcp destination status $(run_status tdst.qmp)"
    r=$(qmp tdst.qmp '{"execute":"query-vdagent"}')
    [ "$(field "$r" connected)" = true ] || bad "tcp destination not connected"
    [ "$(array "$r" guest-caps)" = "$src_caps" ] || bad "tcp destination caps differ"
}

# 5. Malformed input on the control socket.
s_malformed() {
    local p r rc n=0 all=""
    local -a cases=(
        'not json at all'
        '{"execute":'$'\n''}'
        '{"execute" "query-status"}'
        '[1,2,3]'
        '42'
        '"query-status"'
        'null'
        '{}'
        '{"arguments":{}}'
        '{"execute":42}'
        '{"execute":"no-such-command"}'
        '{"execute":"query-status","arguments":[]}'
        '{"execute":"query-status","bogus-key":1}'
        '{"execute":"qmp_capabilities"}'
        '{"execute":"clipboard-set"}'
        '{"execute":"clipboard-set","arguments":{}}'
        '{"execute":"clipboard-set","arguments":{"data":42}}'
        '{"execute":"clipboard-set","arguments":{"data":["x"]}}'
        '{"execute":"clipboard-set","arguments":{"selection":"bogus","data":"x"}}'
        '{"execute":"clipboard-set","arguments":{"selection":7,"data":"x"}}'
        '{"execute":"clipboard-set","arguments":{"type":"gif","data":"x"}}'
        '{"execute":"clipboard-set","arguments":{"type":"png","data":"x"}}'
        '{"execute":"clipboard-set","arguments":{"data":"x","data-base64":"eA=="}}'
        '{"execute":"clipboard-get","arguments":{"selection":"bogus"}}'
        '{"execute":"clipboard-get","arguments":{"type":"gif"}}'
        '{"execute":"clipboard-get","arguments":{"selection":"secondary"}}'
        '{"execute":"clipboard-release","arguments":{"selection":"bogus"}}'
        '{"execute":"clipboard-query","arguments":{"selection":true}}'
        '{"execute":"input-send-event"}'
        '{"execute":"input-send-event","arguments":{"events":{}}}'
        '{"execute":"input-send-event","arguments":{"events":"x"}}'
        '{"execute":"input-send-event","arguments":{"events":[42]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"abs"}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":{"axis":"x","value":40000}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":{"axis":"x","value":-1}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":{"axis":"x","value":"1"}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":{"axis":"z","value":1}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":{"axis":1,"value":1}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"btn","data":{"down":true,"button":"thumb"}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"btn","data":{"down":"yes","button":"left"}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"btn","data":{"down":true}}]}}'
        '{"execute":"input-send-event","arguments":{"events":[{"type":"key","data":{}}]}}'
        '{"execute":"input-send-event","arguments":{"head":7,"events":[]}}'
        '{"execute":"input-send-event","arguments":{"head":-1,"events":[]}}'
        '{"execute":"input-send-event","arguments":{"head":"0","events":[]}}'
        '{"execute":"display-configure"}'
        '{"execute":"display-configure","arguments":{"heads":{}}}'
        '{"execute":"display-configure","arguments":{"heads":[]}}'
        '{"execute":"display-configure","arguments":{"heads":[1]}}'
        '{"execute":"display-configure","arguments":{"heads":[{"width":0,"height":768}]}}'
        '{"execute":"display-configure","arguments":{"heads":[{"width":1024}]}}'
        '{"execute":"display-configure","arguments":{"heads":[{"width":"1024","height":768}]}}'
        '{"execute":"display-configure","arguments":{"heads":[{"width":40000,"height":768}]}}'
        "{\"execute\":\"display-configure\",\"arguments\":{\"heads\":[$(printf '{"width":64,"height":64},%.0s' {1..16}){\"width\":64,\"height\":64}]}}"
        '{"execute":"migrate"}'
        '{"execute":"migrate","arguments":{"uri":42}}'
        '{"execute":"migrate","arguments":{"uri":"bogus:x"}}'
        '{"execute":"migrate-incoming"}'
        "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"unix:$D/in\"}}"
    )

    host_with_guest src guest chan
    for p in "${cases[@]}"; do
        n=$((n + 1))
        r=$("$CTL" qmp "unix:$D/src.qmp" "$p" 2>&1)
        rc=$?
        if [ $rc != 1 ] || ! grep -q '^{"error":{"class":"[A-Za-z]*","desc":"[^"]' <<<"$r"; then
            bad "case $n (${p:0:70}): rc=$rc, reply '${r:0:120}'"
        fi
        printf '# %-72.72s -> %s\n' "${p//$'\n'/ }" "${r:0:90}"
        alive src || die "vdagent-host died on case $n: ${p:0:80}"
        all+=$p$'\n'
    done
    [ -e "$D/in" ] && bad "migrate-incoming while running created $D/in"

    # all of them on one connection, then an incomplete value left open
    "$CTL" qmp "unix:$D/src.qmp" "$all" >/dev/null 2>&1
    VDCTL_TIMEOUT=1 "$CTL" qmp "unix:$D/src.qmp" '{"execute":"query-status",' >/dev/null 2>&1
    # before qmp_capabilities (vdctl line does not negotiate): the first
    # line back is the greeting; what matters is that nothing breaks
    r=$("$CTL" line "unix:$D/src.qmp" '{"execute":"query-status"}' 2>&1)
    grep -q '^{"QMP":{"version":' <<<"$r" || bad "no QMP greeting: ${r:0:100}"
    "$CTL" line "unix:$D/src.qmp" $'{"execute":"quit"}\n{"execute":"stop"}\ngarbage' >/dev/null 2>&1
    sleep 0.2
    alive src || die "vdagent-host died after the sweep"
    r=$(qmp src.qmp '{"execute":"query-status","id":"after-sweep"}')
    [ "$r" = '{"return":{"running":true,"status":"running"},"id":"after-sweep"}' ] ||
        bad "query-status after the sweep: $r"
    host_to_guest src.qmp guest.ctl clipboard "still fine after the sweep"
    no_reconnect guest.ctl "after the sweep"
}

# 6. Command-line errors.
s_cli() {
    local args rc err

    for args in "--bogus" "--bogus on" "--mouse maybe" "--head 0x0" "--head 1024x" \
                "--max-message 12" "--clipboard sometimes" "--qmp $D/noprefix" "stray"; do
        # shellcheck disable=SC2086
        timeout 5 "$HOST" $args >"$D/cli.out" 2>"$D/cli.err"
        rc=$?
        err=$(head -1 "$D/cli.err")
        note "[$args] -> $rc: $err"
        [ $rc = 2 ] || bad "[$args] exit status $rc, expected 2"
        grep -q '^usage: vdagent-host' "$D/cli.err" || bad "[$args] no usage line on stderr"
    done
    grep -q "unknown option '--bogus'" <<<"$(timeout 5 "$HOST" --bogus on 2>&1)" ||
        bad "--bogus on: no 'unknown option' message"

    host_with_guest h1 guest c1

    # --qmp path in use
    timeout 5 "$HOST" --guest "unix:$D/c2" --qmp "unix:$D/h1.qmp" >"$D/cli.out" 2>"$D/cli.err"
    rc=$?
    note "qmp in use -> $rc: $(head -1 "$D/cli.err")"
    [ $rc != 0 ] && [ $rc != 124 ] || bad "--qmp in use: exit status $rc"
    grep -q "in use" "$D/cli.err" || bad "--qmp in use: unclear message: $(cat "$D/cli.err")"
    [ -e "$D/c2" ] && bad "--qmp in use: left $D/c2 behind"

    # --guest path in use
    timeout 5 "$HOST" --guest "unix:$D/c1" --qmp "unix:$D/q3" >"$D/cli.out" 2>"$D/cli.err"
    rc=$?
    note "guest in use -> $rc: $(head -1 "$D/cli.err")"
    [ $rc != 0 ] && [ $rc != 124 ] || bad "--guest in use: exit status $rc"
    grep -q "in use" "$D/cli.err" || bad "--guest in use: unclear message: $(cat "$D/cli.err")"
    [ -e "$D/q3" ] && bad "--guest in use: left its control socket $D/q3 behind"

    # --guest unix: on a file that is not a socket
    echo precious >"$D/plain"
    timeout 5 "$HOST" --guest "unix:$D/plain" --qmp "unix:$D/q4" >"$D/cli.out" 2>"$D/cli.err"
    rc=$?
    note "guest not a socket -> $rc: $(head -1 "$D/cli.err")"
    [ $rc != 0 ] && [ $rc != 124 ] || bad "--guest on a plain file: exit status $rc"
    [ "$(cat "$D/plain")" = precious ] || bad "--guest on a plain file: the file was touched"
    [ -e "$D/q4" ] && bad "--guest on a plain file: left its control socket $D/q4 behind"

    # the first host was not disturbed
    [ "$(run_status h1.qmp)" = running ] || bad "h1 disturbed: $(run_status h1.qmp)"
    host_to_guest h1.qmp guest.ctl clipboard "h1 still serves its guest"
    no_reconnect guest.ctl "after the failed starts"
}

# 7. quit: exit 0, sockets unlinked, a handed-over guest socket kept.
s_quit() {
    local r rc

    host_with_guest h guest c
    r=$(qmp h.qmp '{"execute":"quit"}' 2>&1)
    rc=$?
    [ "$r" = '{"return":{}}' ] || bad "no reply to quit: vdctl exit status $rc, output '$r'"
    exit_status h 5; rc=$?
    [ "$rc" = 0 ] || bad "vdagent-host after quit: exit status $rc"
    [ -e "$D/h.qmp" ] && bad "control socket left after quit"
    [ -e "$D/c" ] && bad "guest socket left after quit"
    stop guest

    # after a unix: handover the guest socket belongs to the destination
    host_with_guest src guest2 chan
    start_host dst --incoming "unix:$D/mig"
    wait_for 5 test -S "$D/mig" || die "destination not listening"
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate"
    wait_for 10 mig_done src.qmp || die "migration did not finish"
    [ "$(mig_status src.qmp)" = completed ] || die "migration: $(mig_status src.qmp)"
    qmp src.qmp '{"execute":"quit"}' >/dev/null
    exit_status src 5; rc=$?
    [ "$rc" = 0 ] || bad "source after quit: exit status $rc"
    [ -e "$D/src.qmp" ] && bad "source control socket left after quit"
    [ -S "$D/chan" ] || bad "the source unlinked the guest socket it handed over"
    host_to_guest dst.qmp guest2.ctl clipboard "through the destination after the source quit"
    no_reconnect guest2.ctl "after the source quit"
    # the handed-over listening socket still takes a (re)connecting agent
    ctl guest2.ctl reconnect >/dev/null
    wait_for 5 stat_is guest2.ctl reconnects 1 || bad "guest never reconnected"
    wait_for 5 ctl_match guest2.ctl stats ' connected=1' || bad "guest not connected again"
    wait_for 5 q_match dst.qmp '{"execute":"query-vdagent"}' '"connected":true' ||
        bad "destination never saw the reconnected guest"
    host_to_guest dst.qmp guest2.ctl clipboard "after a reconnect to the handed-over socket"
    guest_to_host dst.qmp guest2.ctl clipboard "guest after the reconnect"
    qmp dst.qmp '{"execute":"quit"}' >/dev/null
    exit_status dst 5; rc=$?
    [ "$rc" = 0 ] || bad "destination after quit: exit status $rc"
    [ -e "$D/dst.qmp" ] && bad "destination control socket left after quit"
    [ -e "$D/chan" ] && bad "guest socket left after the destination quit"
    [ -e "$D/mig" ] && bad "incoming migration socket $D/mig left after the destination quit"
    return 0
}

# 8. fd:N URIs: a plain decimal naming an open descriptor, nothing else.
s_fd_uri() {
    local c uri want r rc n=0
    local -a cases=(
        "fd:abc|fd: expects a descriptor number, not 'abc'"
        "fd:|fd: expects a descriptor number, not ''"
        "fd:-1|fd: expects a descriptor number, not '-1'"
        "fd:12x|fd: expects a descriptor number, not '12x'"
        "fd:99999999999|fd: descriptor number out of range: 99999999999"
        "fd:999|not an open descriptor: 999"
    )
    fd_errors() { # SOCK COMMAND: every case gives its exact error
        for c in "${cases[@]}"; do
            uri=${c%%|*} want=${c#*|}
            r=$(qmp "$1" "{\"execute\":\"$2\",\"arguments\":{\"uri\":\"$uri\"}}" 2>&1)
            [ "$r" = "{\"error\":{\"class\":\"GenericError\",\"desc\":\"$want\"}}" ] ||
                bad "$2 $uri: '$r'"
        done
        alive "${1%.qmp}" || die "${1%.qmp} died on a bad $2 URI"
        [ "$(mig_status "$1")" = "$3" ] || bad "$1: query-migrate after the bad URIs: $(mig_status "$1")"
    }

    host_with_guest src guest chan
    fd_errors src.qmp migrate none
    [ "$(run_status src.qmp)" = running ] || bad "src status $(run_status src.qmp)"
    host_to_guest src.qmp guest.ctl clipboard "host text after the bad fd: URIs"

    # the same checks at start
    for c in "${cases[@]}"; do
        uri=${c%%|*} want=${c#*|} n=$((n + 1))
        timeout 5 "$HOST" --incoming "$uri" --qmp "unix:$D/cli$n.qmp" >/dev/null 2>"$D/cli.err"
        rc=$?
        [ $rc = 1 ] && [ "$(cat "$D/cli.err")" = "vdagent-host: --incoming: $want" ] ||
            bad "--incoming $uri: exit status $rc, '$(cat "$D/cli.err")'"
    done

    # a destination whose fd: incoming failed (not a socket) waits for
    # another migrate-incoming: the bad ones are refused, a good one works
    exec 3</dev/null
    start_host dst --incoming fd:3
    exec 3<&-
    wait_for 5 mig_done dst.qmp || die "the fd:3 incoming migration never ended"
    [ "$(mig_status dst.qmp)" = failed ] || bad "fd:3 on /dev/null: $(mig_status dst.qmp)"
    fd_errors dst.qmp migrate-incoming failed
    [ "$(run_status dst.qmp)" = inmigrate ] || bad "dst status $(run_status dst.qmp)"
    qmp dst.qmp "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"unix:$D/mig\"}}" \
        >/dev/null || die "migrate-incoming unix: after the bad ones"
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate"
    wait_for 10 mig_done src.qmp || die "migration did not finish"
    [ "$(mig_status src.qmp)" = completed ] || die "migration: $(qmp src.qmp '{"execute":"query-migrate"}')"
    host_to_guest dst.qmp guest.ctl clipboard "through the destination after the bad fd: URIs"
    guest_to_host dst.qmp guest.ctl clipboard "guest text after the bad fd: URIs"
    no_reconnect guest.ctl "after the bad fd: URIs"
}

# 12. Hostile control-socket input (issue 23): every member of every
# command gets every JSON type, the crash input of input-send-event among
# them; never a crash, always one reply, and a wrong type is an error.
s_hostile_qmp() {
    local t v want got r rc n=0 errors=0
    # COMMAND|ARGUMENTS with @ for the member under test|the type it expects
    local -a members=(
        'clipboard-set|{"selection":@,"data":"x"}|string'
        'clipboard-set|{"type":@,"data":"x"}|string'
        'clipboard-set|{"data":@}|string'
        'clipboard-set|{"type":"png","data-base64":@}|string'
        'clipboard-get|{"selection":@}|string'
        'clipboard-get|{"type":@}|string'
        'clipboard-release|{"selection":@}|string'
        'clipboard-query|{"selection":@}|string'
        'input-send-event|{"head":@,"events":[]}|int'
        'input-send-event|{"events":@}|array'
        'input-send-event|{"events":[@]}|object'
        'input-send-event|{"events":[{"type":@,"data":{"axis":"x","value":1}}]}|string'
        'input-send-event|{"events":[{"type":"abs","data":@}]}|object'
        'input-send-event|{"events":[{"type":"abs","data":{"axis":@,"value":5}}]}|string'
        'input-send-event|{"events":[{"type":"abs","data":{"axis":"x","value":@}}]}|int'
        'input-send-event|{"events":[{"type":"btn","data":@}]}|object'
        'input-send-event|{"events":[{"type":"btn","data":{"down":@,"button":"left"}}]}|bool'
        'input-send-event|{"events":[{"type":"btn","data":{"down":true,"button":@}}]}|string'
        'display-configure|{"heads":@}|array'
        'display-configure|{"heads":[@]}|object'
        'display-configure|{"heads":[{"width":@,"height":768}]}|int'
        'display-configure|{"heads":[{"width":1024,"height":@}]}|int'
        'display-configure|{"heads":[{"width":1024,"height":768,"x":@}]}|int'
        'display-configure|{"heads":[{"width":1024,"height":768,"y":@}]}|int'
        'migrate|{"uri":@}|string'
        'migrate-incoming|{"uri":@}|string'
    )
    # VALUE|TYPE
    local -a values=('null|null' '7|int' '2.5|double' '"left"|string'
                     'true|bool' '[]|array' '{}|object' '[null]|array'
                     '{"x":null}|object')

    host_with_guest src guest chan
    # the input of the issue: a null axis killed the host (SIGSEGV)
    r=$(qmp src.qmp '{"execute":"input-send-event","arguments":{"events":[{"type":"abs","data":{"axis":null,"value":5}}]}}' 2>&1)
    alive src || die "vdagent-host died on a null axis"
    grep -q '^{"error":{"class":"GenericError","desc":"[^"]' <<<"$r" ||
        bad "null axis: no GenericError: $r"
    for t in "${members[@]}"; do
        IFS='|' read -r cmd args want <<<"$t"
        for v in "${values[@]}"; do
            n=$((n + 1))
            r=$("$CTL" qmp "unix:$D/src.qmp" \
                "{\"execute\":\"$cmd\",\"arguments\":${args/@/${v%|*}}}" 2>&1)
            rc=$?
            alive src || die "vdagent-host died on $cmd ${args/@/${v%|*}}"
            got=${v#*|}
            if ! grep -q '^{"\(return\|error\)":' <<<"$r"; then
                bad "$cmd ${args/@/${v%|*}}: no reply (rc $rc): ${r:0:100}"
            elif [ "$got" != "$want" ] && [ $rc != 1 ]; then
                bad "$cmd ${args/@/${v%|*}}: a $got where a $want belongs was accepted: ${r:0:100}"
            fi
            [ $rc = 1 ] && errors=$((errors + 1))
        done
    done
    note "$n typed-member cases, $errors errors, the host alive"

    # 2. Multi-byte text in one write, which the host reads in pieces that
    # split characters (odd and even prefixes): the guest pastes it all.
    local wide
    printf -v wide '\xc3\xa9%.0s' {1..20000}
    host_to_guest src.qmp guest.ctl primary "x$wide" >/dev/null
    host_to_guest src.qmp guest.ctl primary "xy$wide" >/dev/null

    # 3. Not JSON: an error without an id, and every reply valid UTF-8.
    local -a not_json=(
        $'{"execute":"query-status","id":"\xc0\xaf"}'
        $'{"execute":"query-status","id":"\xed\xa0\x80"}'
        $'{"execute":"query-status","id":"\xf4\x90\x80\x80"}'
        $'{"execute":"query-st\xc0\xafatus"}'
        '{"execute":"query-status","id":"\ud800"}'
        '{"execute":"query-status","id":1.}'
        '{"execute":"query-status","id":01.5}'
        '{"execute":"query-status","id":1.e5}'
        '{"execute":"query-status","id":-01}'
        '{"execute":"query-status","id":18446744073709551616}'
        '{"execute":"query-status","id":1000000000000000000000000000000}'
        '{"execute":"query-status","id":-0}'
    )
    for v in "${not_json[@]}"; do
        r=$("$CTL" qmp "unix:$D/src.qmp" "$v" 2>&1)
        rc=$?
        utf8_ok "$r" || bad "reply not UTF-8 for ${v:0:60}: $r"
        grep -q '^{"error":{"class":"GenericError","desc":"[^"]*"}}$' <<<"$r" && [ $rc = 1 ] ||
            bad "not JSON accepted (rc $rc): ${v:0:60} -> ${r:0:120}"
    done
    r=$(qmp src.qmp '{"execute":"query-status","id":18446744073709551615}')
    [ "$r" = '{"return":{"running":true,"status":"running"},"id":18446744073709551615}' ] ||
        bad "a 64-bit id did not come back exactly: $r"
    # the guest's text with invalid UTF-8 comes back exactly, in base64
    local prev
    prev=$(guest_serial src.qmp clipboard)
    ctl guest.ctl "copy-base64 clipboard text $(printf 'a\xc0\xafb\xed\xa0\x80' | base64 -w0)" >/dev/null
    wait_for 5 guest_grabbed src.qmp clipboard "$prev" || bad "no grab for the invalid text"
    r=$(clip_get src.qmp clipboard)
    utf8_ok "$r" || bad "clipboard-get of invalid UTF-8 is not UTF-8: $r"
    [ "$r" = "{\"return\":{\"data-base64\":\"$(printf 'a\xc0\xafb\xed\xa0\x80' | base64 -w0)\"}}" ] ||
        bad "invalid UTF-8 text from the guest does not come back as its bytes in base64: $r"

    # 4. A command before a stray byte is executed and answered.
    r=$("$CTL" qmp "unix:$D/src.qmp" $'{"execute":"stop","id":"S"}\n\xff' 2>&1)
    [ "$r" = '{"return":{},"id":"S"}' ] || bad "stop before a stray byte: $r"
    status_is src.qmp paused || bad "stop before a stray byte: status $(run_status src.qmp)"
    qmp src.qmp '{"execute":"cont"}' >/dev/null || bad "cont"

    # 5. At most 8 clients: a ninth is told so and closed.
    # (a probe racing the eight may take a slot and get one of them
    # refused: such a one is started again until eight hold the slots)
    for ((rc = 0; rc < 50; rc++)); do
        for n in 1 2 3 4 5 6 7 8; do
            [ -n "${PID[w$n]:-}" ] && alive "w$n" ||
                start "w$n" "$CTL" wait-event "unix:$D/src.qmp" NO_SUCH_EVENT 20
        done
        sleep 0.1
        too_many src.qmp && break
    done
    [ $rc -lt 50 ] || bad "a ninth client was not refused: $("$CTL" raw "unix:$D/src.qmp" '{}' 2>&1)"
    for n in 1 2 3 4 5 6 7 8; do
        stop "w$n"
    done
    wait_for 5 q_match src.qmp '{"execute":"query-status"}' running ||
        bad "no client welcome after the eight left"
    # a URI no error or MIGRATION event repeats whole
    local long
    printf -v long 'h%.0s' {1..5000}
    r=$(qmp src.qmp "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:$long:1\"}}" 2>&1)
    [ "$r" = '{"error":{"class":"GenericError","desc":"Parameter '"'uri'"' is longer than 4096 bytes"}}' ] ||
        bad "a 5 KB URI: ${r:0:120}"
    [ "$(mig_status src.qmp)" = none ] || bad "a 5 KB URI started a migration: $(mig_status src.qmp)"

    r=$(qmp src.qmp '{"execute":"query-status","id":"after"}')
    [ "$r" = '{"return":{"running":true,"status":"running"},"id":"after"}' ] ||
        bad "query-status after the sweep: $r"
    host_to_guest src.qmp guest.ctl clipboard "still fine after the hostile input"
    no_reconnect guest.ctl "after the hostile input"
}

# 13. A hostile migration peer (issue 23): a destination whose answer is
# one 0 byte (the old ok, or another service on the port) does not take
# the source's state; a silent peer holds the incoming port a few seconds,
# not a minute.
s_hostile_mig() {
    local r desc port tries t0 took

    host_with_guest src guest chan
    guest_to_host src.qmp guest.ctl clipboard "guest text before the bad answers"

    start fake "$CTL" fake-dest "unix:$D/fake" zero
    wait_for 5 test -S "$D/fake" || die "fake destination not listening"
    migrate src.qmp "unix:$D/fake" >/dev/null || die "migrate"
    wait_for 10 mig_done src.qmp || die "migration (zero answer) did not finish"
    r=$(qmp src.qmp '{"execute":"query-migrate"}')
    [ "$(field "$r" status)" = failed ] || bad "a 0 byte answer let the source go: $r"
    desc=$(field "$r" error-desc)
    grep -q 'not a vdagent-host migration answer' <<<"$desc" ||
        bad "error-desc for a 0 byte answer: $desc"
    wait_for 5 status_is src.qmp running || bad "source status $(run_status src.qmp)"
    exit_status fake 5 >/dev/null
    guest_to_host src.qmp guest.ctl clipboard "guest text after a 0 byte answer"
    host_to_guest src.qmp guest.ctl clipboard "host text after a 0 byte answer"
    no_reconnect guest.ctl "after a 0 byte answer"

    # a silent peer on a tcp: destination (bash's /dev/tcp: connect, say
    # nothing) is dropped within a few seconds; then a real source gets in
    # (the destination with 8 MiB preallocated, which it does not need)
    for ((tries = 0; tries < 5; tries++)); do
        port=$(tcp_port)
        start_host dst --incoming "tcp:127.0.0.1:$port" --incoming-prealloc 8M
        wait_for 5 q_match dst.qmp '{"execute":"query-migrate"}' '"setup"' && break
        stop dst
        rm -f "$D/dst.qmp"
    done
    [ "$(mig_status dst.qmp)" = setup ] || die "no tcp destination"
    exec 3<>"/dev/tcp/127.0.0.1/$port" || die "cannot connect to port $port"
    t0=$SECONDS
    wait_for 10 mig_done dst.qmp || bad "the silent peer was never dropped"
    took=$((SECONDS - t0))
    exec 3<&-
    r=$(qmp dst.qmp '{"execute":"query-migrate"}')
    note "silent peer dropped after about $took s: $r"
    [ "$(field "$r" status)" = failed ] || bad "silent peer: $r"
    grep -q 'timed out' <<<"$(field "$r" error-desc)" || bad "silent peer: $r"
    [ "$took" -le 6 ] || bad "the silent peer held the port $took s"
    [ "$(run_status dst.qmp)" = inmigrate ] || bad "destination status $(run_status dst.qmp)"
    migrate src.qmp "tcp:127.0.0.1:$port" >/dev/null || die "migrate tcp:"
    wait_for 10 mig_done src.qmp || die "tcp: migration did not finish"
    [ "$(mig_status src.qmp)" = completed ] ||
        bad "tcp source after the silent peer: $(qmp src.qmp '{"execute":"query-migrate"}')"
    [ "$(mig_status dst.qmp)" = completed ] || bad "tcp destination: $(mig_status dst.qmp)"
}

# 15. A --max-message above INT32_MAX is announced as INT32_MAX (issue 11);
#     --incoming-prealloc sizes out of range are refused at start.
s_max_message() {
    start_host h --max-message 4294967295 --guest "unix:$D/chan"
    wait_for 5 test -S "$D/chan" || die "h is not listening on chan"
    start_sim g chan
    wait_for 5 ctl_match g.ctl wait-caps '^ok' || die "g: no caps from the host"
    wait_for 5 stat_is g.ctl max-clipboard 2147483647 ||
        bad "the agent was told max-clipboard $(sim_stat g.ctl max-clipboard)"
    guest_to_host h.qmp g.ctl clipboard "a guest copy under a huge limit" || true
    no_reconnect g.ctl "after the copy"
    # --incoming-prealloc's sizes (issue 21): refused clearly at start
    local r v
    "$HOST" --guest sim --incoming-prealloc 1M >"$D/o4.log" 2>&1
    r=$?
    [ $r = 2 ] && grep -q -- "--incoming-prealloc needs --incoming" "$D/o4.log" ||
        bad "--incoming-prealloc alone: status $r, $(cat "$D/o4.log")"
    for v in 0 3G 2049M 1T 12k x -1 ""; do
        "$HOST" --incoming "unix:$D/never" --incoming-prealloc "$v" >"$D/o5.log" 2>&1
        r=$?
        [ $r = 2 ] && grep -q -- "--incoming-prealloc expects a size up to 2G" "$D/o5.log" ||
            bad "--incoming-prealloc '$v': status $r, $(cat "$D/o5.log")"
    done
}

# 18. Large clipboards through files (issue 16): vdctl clip-get / clip-set
#     ("filename"), several MiB each way, byte-exact, and a refused get
#     that leaves no file.
s_clip_files() {
    local size=$((7 * 1024 * 1024 + 13)) prev r
    host_with_guest h g chan
    prev=$(guest_serial h.qmp clipboard)
    ctl g.ctl "copy-bytes clipboard $size" >/dev/null || bad "copy-bytes"
    wait_for 5 guest_grabbed h.qmp clipboard "$prev" || die "no grab for the copy"
    r=$(VDCTL_TIMEOUT=20 "$CTL" clip-get "unix:$D/h.qmp" got.txt) || bad "clip-get: $r"
    [ "$r" = "{\"return\":{\"size\":$size}}" ] || bad "clip-get answered $r"
    same_pattern "$D/got.txt" "$size" || bad "the file clip-get wrote is not the guest's copy"
    ls -A "$D" | grep -q '^\.got' && bad "a temporary file is left: $(ls -A "$D")"

    head -c $((5 * 1024 * 1024 + 7)) /dev/urandom >"$D/img.bin"
    r=$("$CTL" clip-set "unix:$D/h.qmp" "$D/img.bin" clipboard png) || bad "clip-set: $r"
    # (a pipe: ${r##* } on megabytes would be quadratic in bash)
    ctl g.ctl "paste clipboard png" | cut -d' ' -f3 | base64 -d >"$D/img.got" 2>/dev/null
    cmp -s "$D/img.bin" "$D/img.got" || bad "the guest pasted other bytes than the file's"

    # refused: no such directory; a directory; too big is in the unit tests
    r=$("$CTL" clip-get "unix:$D/h.qmp" "$D/nodir/x" clipboard png) && bad "clip-get into no directory: $r"
    grep -q 'cannot create a file in' <<<"$r" || bad "clip-get into no directory answered $r"
    r=$("$CTL" clip-set "unix:$D/h.qmp" "$D") && bad "clip-set of a directory: $r"
    grep -q 'is a directory' <<<"$r" || bad "clip-set of a directory answered $r"
    ctl g.ctl "paste clipboard png" | cut -d' ' -f3 | base64 -d >"$D/img.got2" 2>/dev/null
    cmp -s "$D/img.bin" "$D/img.got2" || bad "a refused clip-set changed the guest's clipboard"
    no_reconnect g.ctl "after the file transfers"
}

# 21. Files to the guest (issue 14): vdctl file-send of 0 bytes, 1 KiB,
#     20 MiB and a non-ASCII name into sim-agent's save directory,
#     byte-exact; a cancel in the middle leaves no partial file; a name
#     with a '/' and a guest without the model are refused or reported.
xfer_status() { # SOCK ID: the status query-file-transfers lists for ID
    qmp "$1" '{"execute":"query-file-transfers"}' 2>/dev/null |
        grep -o "{\"id\":$2,[^}]*}" | grep -o '"status":"[a-z-]*"' | cut -d'"' -f4
}
xfer_bytes() { # SOCK ID
    qmp "$1" '{"execute":"query-file-transfers"}' 2>/dev/null |
        grep -o "{\"id\":$2,[^}]*}" | grep -o '"bytes":[0-9]*' | cut -d: -f2
}
xfer_is() { [ "$(xfer_status "$1" "$2")" = "$3" ]; }       # SOCK ID STATUS
xfer_moved() { [ "$(xfer_bytes "$1" "$2")" -gt 0 ] 2>/dev/null; }  # SOCK ID
s_file_send() {
    local r f n id
    mkdir -p "$D/dl"
    start_host h --guest "unix:$D/chan"
    wait_for 5 test -S "$D/chan" || die "h is not listening on chan"
    start_sim g chan --save-dir "$D/dl"
    wait_for 5 ctl_match g.ctl wait-caps '^ok' || die "g: no caps from the host"
    : >"$D/empty"
    head -c 1024 /dev/urandom >"$D/k1"
    head -c $((20 * 1024 * 1024 + 5)) /dev/urandom >"$D/m20"
    for f in empty k1 m20; do
        r=$(cd "$D" && "$CTL" file-send "unix:$D/h.qmp" "$f") || bad "file-send $f: $r"
        grep -q '"status":"success"' <<<"$r" || bad "file-send $f ended $r"
        cmp -s "$D/$f" "$D/dl/$f" || bad "the guest's $f differs from the host's"
    done
    n='Übung — 文件 ü.txt'
    r=$("$CTL" file-send "unix:$D/h.qmp" "$D/k1" "$n") || bad "file-send as $n: $r"
    cmp -s "$D/k1" "$D/dl/$n" || bad "the guest's '$n' differs from the host's"
    # a cancel in the middle: stopped while sending, cancelled, resumed
    head -c $((200 * 1024 * 1024)) /dev/zero >"$D/big"
    r=$(qmp h.qmp "{\"execute\":\"file-send\",\"arguments\":{\"filename\":\"$D/big\"}}") ||
        die "file-send big: $r"
    id=$(field "$r" id)
    wait_for 10 xfer_moved h.qmp "$id" || bad "big: no progress"
    qmp h.qmp '{"execute":"stop"}' >/dev/null
    r=$(qmp h.qmp "{\"execute\":\"file-cancel\",\"arguments\":{\"id\":$id}}") ||
        bad "file-cancel $id: $r"
    [ "$(xfer_status h.qmp "$id")" = cancelled ] || bad "big is $(xfer_status h.qmp "$id")"
    qmp h.qmp '{"execute":"cont"}' >/dev/null
    wait_for 10 test ! -e "$D/dl/big" || bad "a partial file is left: $(ls -l "$D/dl")"
    r=$(qmp h.qmp "{\"execute\":\"file-cancel\",\"arguments\":{\"id\":$id}}") &&
        bad "a second cancel of $id: $r"
    # refused at once
    r=$("$CTL" file-send "unix:$D/h.qmp" "$D/k1" "a/b") && bad "a name with /: $r"
    grep -q 'file name with a' <<<"$r" || bad "a name with / answered $r"
    # the guest goes away in the middle: the transfer fails, said why
    r=$(qmp h.qmp "{\"execute\":\"file-send\",\"arguments\":{\"filename\":\"$D/big\",\"name\":\"big2\"}}") ||
        die "file-send big2: $r"
    id=$(field "$r" id)
    wait_for 10 xfer_moved h.qmp "$id" || bad "big2: no progress"
    stop g
    wait_for 10 xfer_is h.qmp "$id" guest-gone ||
        bad "big2 after the agent left: $(xfer_status h.qmp "$id")"
    grep -q "file transfer $id (big2): guest-gone: the guest closed the port" "$D/h.log" ||
        bad "no reason in the log"
}

# 22. A file in flight across a live migration (issue 14 point 2): the
#     agent reads slowly, the host migrates over unix: with the guest
#     connection; the destination reopens the file by its path and goes on
#     from the first byte not sent: byte-exact.  A second one whose file is
#     gone by then: the destination cancels it towards the agent (no
#     partial file) and reports it migration-lost.
s_file_migrate() {
    local r id id2
    mkdir -p "$D/dl"
    start_host h --guest "unix:$D/chan"
    wait_for 5 test -S "$D/chan" || die "h is not listening on chan"
    start_sim g chan --save-dir "$D/dl"
    wait_for 5 ctl_match g.ctl wait-caps '^ok' || die "g: no caps from the host"
    start_host d --incoming "unix:$D/mig"
    head -c $((24 * 1024 * 1024 + 3)) /dev/urandom >"$D/moving"
    head -c $((8 * 1024 * 1024)) /dev/urandom >"$D/gone"
    ctl g.ctl "slowread 64" >/dev/null || die "g: slowread"
    r=$(qmp h.qmp "{\"execute\":\"file-send\",\"arguments\":{\"filename\":\"$D/moving\"}}") ||
        die "file-send: $r"
    id=$(field "$r" id)
    r=$(qmp h.qmp "{\"execute\":\"file-send\",\"arguments\":{\"filename\":\"$D/gone\"}}") ||
        die "file-send: $r"
    id2=$(field "$r" id)
    wait_for 10 xfer_moved h.qmp "$id2" || bad "no progress"
    mv "$D/gone" "$D/gone.moved"
    migrate h.qmp "unix:$D/mig" >/dev/null || die "migrate"
    wait_for 20 mig_done d.qmp || die "the migration did not end"
    [ "$(mig_status d.qmp)" = completed ] || die "migration $(mig_status d.qmp)"
    note "migrated at $(xfer_bytes h.qmp "$id") bytes of $((24 * 1024 * 1024 + 3))"
    xfer_is h.qmp "$id" migrated || bad "on the source: $(xfer_status h.qmp "$id")"
    ctl g.ctl "slowread 0" >/dev/null
    wait_for 20 xfer_is d.qmp "$id" success ||
        bad "on the destination: $(qmp d.qmp '{"execute":"query-file-transfers"}')"
    cmp -s "$D/moving" "$D/dl/moving" || bad "the guest's file differs from the host's"
    [ "$(xfer_status d.qmp "$id2")" = migration-lost ] ||
        bad "the gone file: $(xfer_status d.qmp "$id2")"
    wait_for 10 test ! -e "$D/dl/gone" || bad "a partial file is left: $(ls -l "$D/dl")"
    grep -q "file transfer $id (moving): goes on from byte" "$D/d.log" ||
        bad "no resume in the destination's log"
    no_reconnect g.ctl "across the migration"
}

# ---- driver ------------------------------------------------------------------

run() { # NAME FUNCTION LIMIT-SECONDS
    local name=$1 fn=$2 limit=$3 left rc reasons deadline
    local d=$W/$name

    if [ -n "$ONLY" ] && ! grep -qw -- "$name" <<<"$ONLY"; then
        echo "ok - $name # SKIP not selected"
        return
    fi
    mkdir -p "$d"
    : >"$d/reasons"
    left=$((BUDGET - (SECONDS - START)))
    if [ "$left" -lt 5 ]; then
        echo "not ok - $name: skipped, the time budget is spent"
        FAILED=$((FAILED + 1))
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    set -m
    (
        D=$d
        trap scenario_cleanup EXIT
        trap 'exit 143' TERM INT
        cd "$D" || exit 1
        "$fn"
    ) </dev/null >"$d/trace.log" 2>&1 &
    SPID=$!
    CURRENT=$name
    set +m
    deadline=$((SECONDS + limit))
    while kill -0 "$SPID" 2>/dev/null; do
        if [ $SECONDS -ge "$deadline" ]; then
            echo "timed out after $limit s" >>"$d/reasons"
            kill_group "$SPID"
            break
        fi
        sleep 0.1
    done
    wait "$SPID" 2>/dev/null
    rc=$?
    kill_group "$SPID"              # anything left in its group
    SPID="" CURRENT=""
    if [ $rc = 0 ] && [ ! -s "$d/reasons" ]; then
        echo "ok - $name"
        PASSED=$((PASSED + 1))
        rm -rf "$d"
        return
    fi
    [ -s "$d/reasons" ] || echo "exited with status $rc" >>"$d/reasons"
    reasons=$(paste -sd';' "$d/reasons" | sed 's/;/; /g')
    echo "not ok - $name: $reasons"
    FAILED=$((FAILED + 1))
    FAILED_DIRS+=("$d")
}

# 9. Host -> guest data in flight.  The agent stops reading while the host
#    answers its paste of a large clipboard, so the reply sits partly in the
#    socket, partly in the host's output buffer and partly in the device;
#    the host then migrates, over unix: (the connection moves with the
#    state), tcp: or fd: (a VM migration: the emulator's chardev then
#    connects to the destination's guest socket, the guest's port staying
#    open; fd: over a socket pair whose ends the two hosts inherit, through
#    vdctl fd-pair / fd-take), and the agent reads on: the whole paste
#    arrives byte-exact, with no protocol error and no new session, and so
#    does a pointer move queued behind it.  The agent reads slowly
#    throughout (sim-agent slowread).  The hops go unix:, tcp:, fd:,
#    unix:, ...; the sizes of both transfers, the agent's reading rate, the
#    cut point (how much the agent reads before it stops again) and the
#    pointer are random, from a
#    seed printed in the trace (INFLIGHT_SEED=N replays it).
set_json() { # FILE SEL N: a clipboard-set of pattern N (too big for argv)
    { printf '{"execute":"clipboard-set","arguments":{"selection":"%s","data":"' "$2"
      pattern "$3"
      printf '"}}'; } >"$1"
}
hop_kind() { # HOP: unix, tcp or fd
    case $(($1 % 3)) in 0) echo unix;; 1) echo tcp;; *) echo fd;; esac
}
s_inflight() {
    local i size gsize rate prev b0 cur=h0 next r uri port tries kind pause px py
    local seed=${INFLIGHT_SEED:-$(( $(date +%s%N) % 32768 ))} hops=6 windows=
    local -a pre
    # the Windows agent (inflight-windows): one selection, so no guest
    # copy in flight beside the host's paste; one hop of each kind
    [ "${SIM_MODEL:-}" = windows ] && windows=1 hops=3
    note "inflight seed $seed (INFLIGHT_SEED=$seed replays it)"
    RANDOM=$seed
    host_with_guest h0 g chan
    if [ "$windows" ]; then
        q_match h0.qmp '{"execute":"query-vdagent"}' '"guest-lineend-crlf"' ||
            die "not the Windows agent: $(qmp h0.qmp '{"execute":"query-vdagent"}')"
    fi
    for ((i = 0; i < hops; i++)); do
        kind=$(hop_kind "$i")
        size=$((393216 + (RANDOM << 15 | RANDOM) % 1179648))  # 384 KiB .. 1.5 MiB
        gsize=$((131072 + (RANDOM << 15 | RANDOM) % 655360)) # 128 .. 768 KiB
        rate=$((32 + RANDOM % 129))                           # 32 .. 160 KiB / 10 ms
        next=h$((i + 1))
        note "hop $i: $kind, host -> guest $size bytes read at $rate KiB / 10 ms, guest -> host $gsize bytes"
        # guest -> host at the same time: the host is reading a throttled
        # copy of PRIMARY when it migrates
        if [ -z "$windows" ]; then
        prev=$(guest_serial "$cur.qmp" primary)
        ctl g.ctl "throttle 8" >/dev/null || die "g: throttle"
        # and the agent reads the host slowly, at a random rate
        ctl g.ctl "slowread $rate" >/dev/null || die "g: slowread"
        ctl g.ctl "copy-bytes primary $gsize" >/dev/null || die "g: copy-bytes"
        wait_for 5 guest_grabbed "$cur.qmp" primary "$prev" || die "hop $i: $cur saw no grab of primary"
        b0=$(bytes_in "$cur.qmp")
        start "get$i" env VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$D/$cur.qmp" \
            '{"execute":"clipboard-get","arguments":{"selection":"primary"}}'
        wait_for 5 bytes_in_ge "$cur.qmp" $((b0 + 65536)) || bad "hop $i: the guest's copy does not flow"
        else
        ctl g.ctl "slowread $rate" >/dev/null || die "g: slowread"
        fi
        set_json "$D/set.json" clipboard "$size"
        qmp "$cur.qmp" "@$D/set.json" >/dev/null || die "clipboard-set of $size bytes on $cur"
        ctl g.ctl hold >/dev/null || die "g: hold"
        start "paste$i" env VDCTL_TIMEOUT=30 "$CTL" line "unix:$D/g.ctl" "paste clipboard"
        # the reply fills the socket and the host's buffer, then waits
        wait_for 5 bytes_out_ge "$cur.qmp" 100000 || bad "hop $i: $cur wrote no reply"
        sleep 0.1
        # a random cut: the agent reads for a moment (0 to 60 ms), the
        # host refills, and the agent stops again
        pause=$((RANDOM % 61))
        if ((pause > 0)); then
            ctl g.ctl unhold >/dev/null || die "g: unhold"
            sleep "$(printf '0.%03d' "$pause")"
            ctl g.ctl hold >/dev/null || die "g: hold"
        fi
        # a pointer move queued behind the held reply: in flight too
        px=$((RANDOM % 32768)) py=$((RANDOM % 32768))
        abs_btn "$cur.qmp" 0 "$px" "$py" left false >/dev/null || bad "hop $i: input-send-event"
        sleep 0.1
        # the next host, started with its end of a socket pair when it
        # will be the source of an fd: hop
        pre=()
        [ "$(hop_kind $((i + 1)))" = fd ] && pre=("$CTL" fd-pair "unix:$D/fdp$((i + 1))" 7)
        case $kind in
        unix)
            # the guest connection moves with the state
            start_host_via "$next" "${pre[@]}" -- --incoming "unix:$D/mig$i"
            wait_for 5 test -S "$D/mig$i" || die "$next is not listening"
            uri=unix:$D/mig$i
            ;;
        tcp)
            # a VM migration; the destination's own guest socket, to
            # which the emulator's chardev moves once the state is there
            for ((tries = 0; tries < 5; tries++)); do
                port=$(tcp_port)
                start_host_via "$next" "${pre[@]}" -- --guest "unix:$D/chan$i" \
                    --incoming "tcp:127.0.0.1:$port"
                wait_for 5 q_match "$next.qmp" '{"execute":"query-migrate"}' '"setup"' && break
                stop "$next"
                rm -f "$D/$next.qmp"
            done
            uri=tcp:127.0.0.1:$port
            ;;
        fd)
            # the same over a socket pair: $cur holds one end as fd 7
            # since it started, $next takes the other as fd 8
            start_host_via "$next" "${pre[@]}" "$CTL" fd-take "unix:$D/fdp$i" 8 -- \
                --guest "unix:$D/chan$i" --incoming fd:8
            wait_for 5 q_match "$next.qmp" '{"execute":"query-migrate"}' '"active"' ||
                die "$next is not reading fd:8: $(qmp "$next.qmp" '{"execute":"query-migrate"}')"
            uri=fd:7
            ;;
        esac
        # A VM migration: the backend stops (and reads no more) while the
        # VM still writes for a moment, then the VM pauses (QEMU's
        # pause-before-switchover); what the guest wrote is in the socket.
        if [ "$kind" != unix ]; then
            qmp "$cur.qmp" '{"execute":"stop"}' >/dev/null || die "stop $cur"
            sleep 0.05
            ctl g.ctl freeze >/dev/null || die "g: freeze"
        fi
        migrate "$cur.qmp" "$uri" >/dev/null || die "migrate $cur -> $next ($uri)"
        wait_for 10 mig_done "$cur.qmp" || die "hop $i: the migration did not finish"
        [ "$(mig_status "$cur.qmp")" = completed ] || die "hop $i: migration $(mig_status "$cur.qmp")"
        wait_for 5 mig_done "$next.qmp"
        [ "$(mig_status "$next.qmp")" = completed ] || die "hop $i: $next says $(mig_status "$next.qmp")"
        if [ "$kind" != unix ]; then
            ctl g.ctl "move unix:$D/chan$i" >/dev/null || die "hop $i: the agent cannot move to $next"
            ctl g.ctl thaw >/dev/null || die "g: thaw"
        fi
        ctl g.ctl unhold >/dev/null || die "g: unhold"
        exit_status "paste$i" 30
        r=$(head -c 80 "$D/paste$i.log")
        case $r in "ok $size "*) ;; *) bad "hop $i: the paste of $size bytes answered '$r'";; esac
        cut -d' ' -f3 "$D/paste$i.log" | base64 -d >"$D/got" 2>/dev/null
        rm -f "$D/paste$i.log"
        same_pattern "$D/got" "$size" || bad "hop $i: the $size bytes pasted differ from what the host set"
        stat_is g.ctl errors 0 || bad "hop $i: the agent saw $(sim_stat g.ctl errors) protocol errors"
        pointer_is g.ctl "$((px * 1023 / 32767)) $((py * 767 / 32767)) 0 0" ||
            bad "hop $i: the pointer move in flight did not arrive"
        # the source's waiting get is answered; the destination has it all
        if [ -z "$windows" ]; then
        exit_status "get$i" 10
        r=$(VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$D/$next.qmp" \
            '{"execute":"clipboard-get","arguments":{"selection":"primary"}}')
        get_data "$r" | tr -d '\n' >"$D/gget"
        same_pattern "$D/gget" "$gsize" ||
            bad "hop $i: $next read $(wc -c <"$D/gget") bytes of the guest's $gsize (${r:0:60})"
        fi
        ctl g.ctl "throttle 0" >/dev/null
        ctl g.ctl "slowread 0" >/dev/null
        # the source neither writes nor accepts changes once migrated
        r=$(clip_set "$cur.qmp" clipboard late 2>&1) && bad "hop $i: clipboard-set on the migrated source: $r"
        stop "$cur"
        cur=$next
        host_to_guest "$cur.qmp" g.ctl "$([ "$windows" ] && echo clipboard || echo primary)" \
            "after hop $i" || true
    done
    stat_is g.ctl sessions 1 || bad "the agent saw $(sim_stat g.ctl sessions) sessions, not 1"
    stat_is g.ctl reconnects 0 || bad "the agent reconnected $(sim_stat g.ctl reconnects) times"
    [ -s "$D/reasons" ] && note "inflight failed with seed $seed (INFLIGHT_SEED=$seed)"
    return 0
}

# 9b. The same with a Windows guest (issue 22): the host's paste in
#     flight across a unix:, a tcp: and an fd: hop (CLIPBOARD only: no
#     guest copy beside it).
s_inflight_windows() { SIM_MODEL=windows s_inflight; }

# 11. The same from a stopped source whose guest has read everything the
#     socket held: the destination's restored output all fits in the socket
#     at once, and the device must still be told there is room again (the
#     real agent stalled there: nothing else wakes an idle session).
s_inflight_stopped() {
    local size=1048576 r
    host_with_guest h0 g chan
    set_json "$D/set.json" clipboard "$size"
    qmp h0.qmp "@$D/set.json" >/dev/null || die "clipboard-set"
    ctl g.ctl hold >/dev/null || die "g: hold"
    start paste env VDCTL_TIMEOUT=30 "$CTL" line "unix:$D/g.ctl" "paste clipboard"
    wait_for 5 bytes_out_ge h0.qmp 100000 || bad "h0 wrote no reply"
    sleep 0.2
    qmp h0.qmp '{"execute":"stop"}' >/dev/null || die "stop"
    ctl g.ctl unhold >/dev/null || die "g: unhold"
    sleep 0.3                   # the agent empties the socket meanwhile
    ctl g.ctl hold >/dev/null || die "g: hold"
    start_host h1 --incoming "unix:$D/mig"
    wait_for 5 test -S "$D/mig" || die "h1 is not listening"
    migrate h0.qmp "unix:$D/mig" >/dev/null || die "migrate"
    wait_for 10 mig_done h0.qmp || die "the migration did not finish"
    sleep 0.2                   # h1 runs and flushes into an empty socket
    ctl g.ctl unhold >/dev/null || die "g: unhold"
    exit_status paste 30
    r=$(head -c 80 "$D/paste.log")
    case $r in "ok $size "*) ;; *) bad "the paste of $size bytes answered '$r'";; esac
    stat_is g.ctl errors 0 || bad "the agent saw $(sim_stat g.ctl errors) protocol errors"
}

# 10. Commands that change the state, on a source that is migrating or has
#     migrated, fail with a clear error instead of answering {} and losing
#     the change; a failed migration gives the state back.
s_moved() {
    local r
    host_with_guest src g chan
    clip_set src.qmp clipboard "before" >/dev/null || die "clipboard-set"
    start fake "$CTL" fake-dest "unix:$D/slow" 1000000000
    wait_for 5 test -S "$D/slow" || die "the stalling destination is not listening"
    migrate src.qmp "unix:$D/slow" >/dev/null || die "migrate to the stalling destination"
    wait_for 5 mig_is src.qmp active ||
        die "no active migration"
    r=$(clip_set src.qmp clipboard "during" 2>&1) && bad "clipboard-set during a migration answered $r"
    grep -q 'a migration is in progress' <<<"$r" || bad "clipboard-set during a migration: $r"
    r=$(clip_get src.qmp clipboard 2>&1) && bad "clipboard-get during a migration answered ${r:0:80}"
    r=$(abs_btn src.qmp 0 100 100 left true 2>&1) && bad "input-send-event during a migration answered $r"
    r=$(qmp src.qmp '{"execute":"cont"}' 2>&1) && bad "cont during a migration answered $r"
    stop fake KILL
    wait_for 10 mig_done src.qmp || die "the migration to a dead destination did not end"
    [ "$(mig_status src.qmp)" = failed ] || bad "migration $(mig_status src.qmp), expected failed"
    status_is src.qmp running || bad "the source is $(run_status src.qmp) after the failure"
    r=$(get_data "$(clip_get src.qmp clipboard)")
    [ "$r" = before ] || bad "after the failure the host reads '$r', not 'before'"
    host_to_guest src.qmp g.ctl clipboard "after the failure" || true
    # a real destination: then the source refuses, naming the move
    start_host dst --incoming "unix:$D/mig"
    wait_for 5 test -S "$D/mig" || die "dst is not listening"
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate"
    wait_for 10 mig_done src.qmp || die "the migration did not finish"
    for cmd in '{"execute":"clipboard-set","arguments":{"data":"lost?"}}' \
               '{"execute":"clipboard-get","arguments":{}}' \
               '{"execute":"clipboard-release","arguments":{}}' \
               '{"execute":"display-configure","arguments":{"heads":[{"width":800,"height":600}]}}'; do
        r=$(qmp src.qmp "$cmd" 2>&1) && bad "on the migrated source $cmd answered $r"
        grep -q "backend has moved" <<<"$r" || bad "on the migrated source $cmd: $r"
    done
    r=$(get_data "$(clip_get dst.qmp clipboard)")
    [ "$r" = "after the failure" ] || bad "the destination reads '$r'"
    host_to_guest dst.qmp g.ctl clipboard "on the destination" || true
}

# 14. The display layout migrates (issue 20, B1).
s_heads() {
    local port tries r two
    two='{"execute":"display-configure","arguments":{"heads":[
      {"width":1024,"height":768,"x":0,"y":0},{"width":800,"height":600,"x":1024,"y":0}]}}'

    heads_dest() { # NAME: a destination listening on a free tcp: port ($port)
        for ((tries = 0; tries < 5; tries++)); do
            port=$(tcp_port)
            start_host "$1" --incoming "tcp:127.0.0.1:$port" --guest "unix:$D/$1.chan"
            wait_for 5 q_match "$1.qmp" '{"execute":"query-migrate"}' '"setup"' && return 0
            stop "$1"
            rm -f "$D/$1.qmp"
        done
        die "no tcp destination $1"
    }
    heads_migrate() { # SRC DST: migrate over tcp:, completed on both sides
        migrate "$1.qmp" "tcp:127.0.0.1:$port" >/dev/null || die "migrate $1 tcp:"
        wait_for 10 mig_done "$1.qmp" || die "$1: the migration did not finish"
        r=$(qmp "$1.qmp" '{"execute":"query-migrate"}')
        [ "$(field "$r" status)" = completed ] || bad "$1: $r"
        wait_for 5 mig_done "$2.qmp"
        r=$(qmp "$2.qmp" '{"execute":"query-migrate"}')
        [ "$(field "$r" status)" = completed ] || bad "$2: $r"
        [ "$(run_status "$2.qmp")" = running ] || bad "$2 status $(run_status "$2.qmp")"
    }
    head_exists() { # SOCK HEAD
        q_match "$1" "{\"execute\":\"input-send-event\",\"arguments\":{\"head\":$2,
          \"events\":[{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":0}}]}}" '"return"'
    }

    # two heads, the pointer last on the second: the destination takes the
    # source's layout
    host_with_guest src guest chan
    qmp src.qmp "$two" >/dev/null || bad "display-configure two heads"
    wait_for 5 ctl_match guest.ctl monitors '^ok 2 1024x768+0+0 800x600+1024+0$' ||
        bad "monitors: $(ctl guest.ctl monitors)"
    abs_btn src.qmp 1 16384 16384 middle false >/dev/null || bad "input-send-event head 1"
    pointer_is guest.ctl "399 299 0 1"
    heads_dest dst
    if head_exists dst.qmp 1; then bad "the destination has a head 1 before the migration"; fi
    heads_migrate src dst
    head_exists dst.qmp 1 || bad "the destination did not take the source's two heads"

    # two heads, the pointer on the second, then one head: the pointer
    # moved to a head that exists, and the default layout stays
    host_with_guest src2 guest2 chan2
    qmp src2.qmp "$two" >/dev/null || bad "display-configure two heads (src2)"
    abs_btn src2.qmp 1 16384 16384 middle false >/dev/null || bad "input-send-event head 1 (src2)"
    pointer_is guest2.ctl "399 299 0 1"
    qmp src2.qmp '{"execute":"display-configure","arguments":{"heads":[
      {"width":1024,"height":768}]}}' >/dev/null || bad "display-configure one head"
    wait_for 5 ctl_match guest2.ctl monitors '^ok 1 1024x768+0+0$' ||
        bad "monitors: $(ctl guest2.ctl monitors)"
    heads_dest dst2
    heads_migrate src2 dst2
    head_exists dst2.qmp 0 || bad "no head 0 on dst2"
    if head_exists dst2.qmp 1; then bad "dst2 has a head 1 after a one-head source"; fi
}

# Issue 21: migration with a live phase (pause-before-switchover) and a
# real guest transport.  A destination killed in the live phase and a
# cancel in pre-switchover leave the source running with its data; then a
# live migration over unix: (the guest connection handed over) during
# which the host sets the clipboard, the guest copies, grabs and releases,
# and a guest paste waits in flight across the switchover; then 3 MiB of
# host clipboard live to a third host over unix: (passed by reference as
# a sealed memfd), pasted by the guest from there.
s_live() {
    local r got size=$((3 * 1024 * 1024)) port tries n windows= seq
    [ "${SIM_MODEL:-}" = windows ] && windows=1
    local caps='{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"pause-before-switchover","state":true}]}}'
    local cont='{"execute":"migrate-continue","arguments":{"state":"pre-switchover"}}'

    host_with_guest src guest chan
    if [ "$windows" ]; then
        q_match src.qmp '{"execute":"query-vdagent"}' '"guest-lineend-crlf"' ||
            die "not the Windows agent: $(qmp src.qmp '{"execute":"query-vdagent"}')"
    fi
    set_json "$D/set.json" clipboard "$size"
    qmp src.qmp "@$D/set.json" >/dev/null || die "clipboard-set of $size bytes"
    wait_for 5 grep -q 'host grabbed clipboard' "$D/guest.log" || die "the guest saw no grab"
    q_match src.qmp "$caps" '"return"' || die "migrate-set-capabilities: $(qmp src.qmp "$caps")"
    q_match src.qmp '{"execute":"query-migrate-capabilities"}' \
        '"capability":"pause-before-switchover","state":true' ||
        bad "query-migrate-capabilities: $(qmp src.qmp '{"execute":"query-migrate-capabilities"}')"

    # a tcp: destination killed in the live phase
    for ((tries = 0; tries < 5; tries++)); do
        port=$(tcp_port)
        start_host dead --incoming "tcp:127.0.0.1:$port"
        wait_for 5 q_match dead.qmp '{"execute":"query-migrate"}' '"setup"' && break
        stop dead
        rm -f "$D/dead.qmp"
    done
    start evt "$CTL" wait-event "unix:$D/src.qmp" MIGRATION 10
    sleep 0.3                                   # let the waiter negotiate
    migrate src.qmp "tcp:127.0.0.1:$port" >/dev/null || die "migrate tcp:"
    wait_for 5 mig_is src.qmp pre-switchover || die "no pre-switchover: $(mig_status src.qmp)"
    exit_status evt 5 || bad "no MIGRATION event"
    grep -q '"status":"active"' "$D/evt.log" || bad "first MIGRATION event: $(cat "$D/evt.log")"
    status_is src.qmp running || bad "source in the live phase: $(run_status src.qmp)"
    stop dead KILL
    wait_for 5 mig_is src.qmp failed || bad "source after the destination died: $(mig_status src.qmp)"
    status_is src.qmp running || bad "source after the destination died: $(run_status src.qmp)"

    # cancel in pre-switchover: the unix: destination fails and waits
    start_host dst --incoming "unix:$D/mig"
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate unix:"
    wait_for 5 mig_is src.qmp pre-switchover || die "no pre-switchover: $(mig_status src.qmp)"
    q_match src.qmp '{"execute":"migrate-cancel"}' '"return"' || bad "migrate-cancel"
    wait_for 5 mig_is src.qmp cancelled || bad "after migrate-cancel: $(mig_status src.qmp)"
    wait_for 5 mig_is dst.qmp failed || bad "destination after the cancel: $(mig_status dst.qmp)"
    status_is dst.qmp inmigrate || bad "destination after the cancel: $(run_status dst.qmp)"
    status_is src.qmp running || bad "source after the cancel: $(run_status src.qmp)"
    stat_is guest.ctl connected 1 || bad "the guest lost its connection"

    # live again: the guest side works during it
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate unix: again"
    wait_for 5 mig_is src.qmp pre-switchover || die "no pre-switchover: $(mig_status src.qmp)"
    if [ "$windows" ]; then
        # its one selection: the guest copies, copies again (RELEASE, then
        # GRAB) and releases; then the host sets it
        ctl guest.ctl "copy clipboard the guest's copy" >/dev/null || bad "guest copy"
        wait_for 5 q_match src.qmp '{"execute":"clipboard-get"}' "\"data\":\"the guest's copy\"" ||
            bad "the host reads $(clip_get src.qmp clipboard)"
        ctl guest.ctl "copy clipboard gone soon" >/dev/null || bad "guest copy again"
        wait_for 5 q_match src.qmp '{"execute":"clipboard-get"}' '"data":"gone soon"' ||
            bad "after the regrab the host reads $(clip_get src.qmp clipboard)"
        ctl guest.ctl "release clipboard" >/dev/null || bad "guest release"
        wait_for 5 q_match src.qmp '{"execute":"clipboard-query"}' '"owner":null' ||
            bad "the guest's release did not reach the host"
        host_to_guest src.qmp guest.ctl clipboard "newest, set during the live phase"
    else
    host_to_guest src.qmp guest.ctl clipboard "newest, set during the live phase"
    guest_to_host src.qmp guest.ctl primary "the guest's copy during the live phase"
    ctl guest.ctl "copy secondary gone soon" >/dev/null || bad "guest copy secondary"
    wait_for 5 q_match src.qmp '{"execute":"clipboard-query","arguments":{"selection":"secondary"}}' '"owner":"guest"' ||
        bad "no guest grab of secondary"
    ctl guest.ctl "release secondary" >/dev/null || bad "guest release secondary"
    wait_for 5 q_match src.qmp '{"execute":"clipboard-query","arguments":{"selection":"secondary"}}' '"owner":null' ||
        bad "the guest's release of secondary did not reach the host"
    fi
    # a guest request whose answer is in flight across the switchover
    ctl guest.ctl hold >/dev/null || die "guest: hold"
    start paste env VDCTL_TIMEOUT=20 "$CTL" line "unix:$D/guest.ctl" "paste clipboard"
    sleep 0.3
    "$CTL" qmp-until "unix:$D/src.qmp" "$cont" MIGRATION completed 10 >"$D/cont.log" ||
        bad "migrate-continue: $(cat "$D/cont.log")"
    # the switchover's events (held until the final frame went) before the
    # reply, then the completion
    seq=$(sed -n '/"return"/{s/.*/return/p;d};s/.*"status":"\([a-z-]*\)".*/\1/p' "$D/cont.log" | tr '\n' ' ')
    [ "$seq" = "device return completed " ] || bad "migrate-continue's events and reply: $seq"
    wait_for 10 mig_done src.qmp || die "the live migration did not finish"
    wait_for 5 mig_done dst.qmp
    r=$(qmp dst.qmp '{"execute":"query-migrate"}')
    [ "$(field "$r" status)" = completed ] || bad "destination: $r"
    [ "$(mig_status src.qmp)" = completed ] || bad "source: $(qmp src.qmp '{"execute":"query-migrate"}')"
    note "destination downtime-us: $(field "$r" downtime-us)"
    status_is src.qmp postmigrate || bad "source status $(run_status src.qmp)"
    status_is dst.qmp running || bad "destination status $(run_status dst.qmp)"
    ctl guest.ctl unhold >/dev/null || die "guest: unhold"
    exit_status paste 15 || bad "the guest's paste never ended: $(cat "$D/paste.log")"
    got=$(base64 -d <<<"$(sed -n 's/^ok [0-9]* //p' "$D/paste.log")")
    [ "$got" = "newest, set during the live phase" ] || bad "the guest pasted '$got'"
    got=$(get_data "$(clip_get dst.qmp clipboard)")
    [ "$got" = "newest, set during the live phase" ] || bad "destination's clipboard: '$got'"
    if [ -z "$windows" ]; then
        q_match dst.qmp '{"execute":"clipboard-query","arguments":{"selection":"primary"}}' '"owner":"guest"' ||
            bad "the guest's primary did not migrate"
        q_match dst.qmp '{"execute":"clipboard-query","arguments":{"selection":"secondary"}}' '"owner":null' ||
            bad "the released secondary came back"
    fi
    # one grab per clipboard-set, none from the switchover
    n=$(grep -c 'host grabbed clipboard' "$D/guest.log")
    [ "$n" = 2 ] || bad "the guest saw $n grabs of clipboard (2 clipboard-sets)"
    host_to_guest dst.qmp guest.ctl clipboard "after the live migration"
    no_reconnect guest.ctl "after the live migration"
    grep -q 'migration pre-switchover' "$D/src.log" || bad "no pre-switchover in the source's log"

    # large data by reference, across processes: dst sets 3 MiB (sealed
    # memory) and migrates live over unix: to dst2, which holds them and
    # serves the guest's paste of them byte-exact
    set_json "$D/set.json" clipboard "$size"
    qmp dst.qmp "@$D/set.json" >/dev/null || die "clipboard-set of $size bytes on dst"
    q_match dst.qmp "$caps" '"return"' || die "dst: migrate-set-capabilities: $(qmp dst.qmp "$caps")"
    start_host dst2 --incoming "unix:$D/mig2"
    wait_for 5 test -S "$D/mig2" || die "dst2 is not listening"
    migrate dst.qmp "unix:$D/mig2" >/dev/null || die "migrate unix: dst -> dst2"
    wait_for 5 mig_is dst.qmp pre-switchover || die "dst: no pre-switchover: $(mig_status dst.qmp)"
    q_match dst.qmp "$cont" '"return"' || bad "dst: migrate-continue: $(qmp dst.qmp "$cont")"
    wait_for 10 mig_done dst2.qmp || die "the live migration to dst2 did not finish"
    [ "$(mig_status dst2.qmp)" = completed ] ||
        bad "dst2: $(qmp dst2.qmp '{"execute":"query-migrate"}')"
    rm -f "$D/big"
    q_match dst2.qmp "{\"execute\":\"clipboard-get\",\"arguments\":{\"filename\":\"$D/big\"}}" '"return"' ||
        bad "dst2: clipboard-get to a file"
    same_pattern "$D/big" "$size" || bad "dst2 holds other bytes than the $size dst set"
    start paste2 env VDCTL_TIMEOUT=20 "$CTL" line "unix:$D/guest.ctl" "paste clipboard"
    exit_status paste2 15 || bad "the guest's paste from dst2 never ended"
    r=$(head -c 80 "$D/paste2.log")
    case $r in "ok $size "*) ;; *) bad "the guest's paste from dst2 answered '$r'";; esac
    cut -d' ' -f3 "$D/paste2.log" | base64 -d >"$D/got" 2>/dev/null
    same_pattern "$D/got" "$size" || bad "the guest pasted other bytes than the $size dst set"
    no_reconnect guest.ctl "after the second live migration"
}
# 16b. The same with a Windows guest (issue 22): CLIPBOARD only (the
#     guest's copy, regrab and release on it before the host's set), no
#     serials.
s_live_windows() { SIM_MODEL=windows s_live; }

# 17. A guest that writes requests whose answers carry no data and never
#     reads (issue 11): each answer is as large as its request, and the
#     host used to read and answer them all, so past the saver's bound
#     (max_message 64 KiB here) the migration failed.  The host now stops
#     reading while the device has 64 KiB of output unread: the flood
#     waits in the socket and in the agent, the save of a migration that
#     leaves the channel behind (tcp:, the socket's bytes drained first)
#     and of one that hands it over (unix:) succeeds, and the agent,
#     reading again, gets every answer.
s_quiet_flood() {
    local n=80000 i kind cur=h0 next port uri tries b total=0
    start_host h0 --max-message 65536 --guest "unix:$D/chan"
    wait_for 5 test -S "$D/chan" || die "h0 is not listening"
    start_sim g chan
    wait_for 5 ctl_match g.ctl wait-caps '^ok' || die "g: no caps from the host"
    for ((i = 0; i < 2; i++)); do
        kind=$([ "$i" = 0 ] && echo tcp || echo unix)
        next=h$((i + 1))
        ctl g.ctl hold >/dev/null || die "g: hold"
        ctl g.ctl "flood secondary $n" >/dev/null || die "g: flood"
        total=$((total + n))
        sleep 0.5
        b=$(bytes_in "$cur.qmp")
        [ -n "$b" ] && [ "$b" -lt $((total * 36 - 1000000)) ] ||
            bad "hop $i: $cur read $b of the flood's $((total * 36)) bytes"
        case $kind in
        tcp)
            for ((tries = 0; tries < 5; tries++)); do
                port=$(tcp_port)
                start_host "$next" --max-message 65536 --guest "unix:$D/chan$i" \
                    --incoming "tcp:127.0.0.1:$port"
                wait_for 5 q_match "$next.qmp" '{"execute":"query-migrate"}' '"setup"' && break
                stop "$next"
                rm -f "$D/$next.qmp"
            done
            uri=tcp:127.0.0.1:$port
            qmp "$cur.qmp" '{"execute":"stop"}' >/dev/null || die "stop $cur"
            ctl g.ctl freeze >/dev/null || die "g: freeze"
            ;;
        unix)
            start_host "$next" --max-message 65536 --incoming "unix:$D/mig$i"
            wait_for 5 test -S "$D/mig$i" || die "$next is not listening"
            uri=unix:$D/mig$i
            ;;
        esac
        migrate "$cur.qmp" "$uri" >/dev/null || die "migrate $cur -> $next ($uri)"
        wait_for 10 mig_done "$cur.qmp" || die "hop $i: the migration did not finish"
        [ "$(mig_status "$cur.qmp")" = completed ] ||
            die "hop $i: migration $(mig_status "$cur.qmp"): $(qmp "$cur.qmp" '{"execute":"query-migrate"}')"
        wait_for 5 mig_done "$next.qmp"
        [ "$(mig_status "$next.qmp")" = completed ] || die "hop $i: $next says $(mig_status "$next.qmp")"
        if [ "$kind" = tcp ]; then
            ctl g.ctl "move unix:$D/chan$i" >/dev/null || die "hop $i: the agent cannot move to $next"
            ctl g.ctl thaw >/dev/null || die "g: thaw"
        fi
        ctl g.ctl unhold >/dev/null || die "g: unhold"
        wait_for 20 stat_is g.ctl flood-answers "$total" ||
            bad "hop $i: $(sim_stat g.ctl flood-answers) of $total requests answered"
        stat_is g.ctl errors 0 || bad "hop $i: the agent saw $(sim_stat g.ctl errors) protocol errors"
        note "hop $i ($kind): $cur read $b bytes of $((total * 36)); $(grep -h 'before saving' "$D/$cur.log")"
        stop "$cur"
        cur=$next
    done
    host_to_guest "$cur.qmp" g.ctl clipboard "after the floods" ||
        bad "the session does not go on after the floods"
    stat_is g.ctl reconnects 0 || bad "the agent reconnected $(sim_stat g.ctl reconnects) times"
}

# 19. TLS (issue 17).
TLS_CERTS=$(cd "$(dirname "$0")" && pwd)/tls-certs.sh
tls_dest() { # NAME ARGS...: a destination on a free tcp: port ($port) of $TLS_ADDR
    local name=$1 tries
    shift
    for ((tries = 0; tries < 5; tries++)); do
        port=$(tcp_port)
        start_host "$name" --guest "unix:$D/$name.chan" \
            --incoming "tcp:${TLS_ADDR:-127.0.0.1}:$port" "$@"
        wait_for 5 q_match "$name.qmp" '{"execute":"query-migrate"}' '"setup"' && return 0
        stop "$name"
        rm -f "$D/$name.qmp"
    done
    die "no tcp destination $name"
}
tls_src() { # NAME ARGS...: a running source with the sim agent, clipboard set
    start_host "$1" --guest sim "${@:2}"
    clip_set "$1.qmp" clipboard "kept by $1" >/dev/null || die "clipboard-set on $1"
}
tls_serving() { # SRC WHEN: running, its clipboard there
    local r
    status_is "$1.qmp" running || bad "$1 is $(run_status "$1.qmp") after $2"
    r=$(clip_get "$1.qmp" clipboard)
    [ "$(get_data "$r")" = "kept by $1" ] || bad "$1's clipboard after $2: $r"
}
tls_refused() { # SRC URI SRC-TEXT [DST DST-TEXT]: fails, both say why
    local r
    migrate "$1.qmp" "$2" >/dev/null || die "migrate $1 $2"
    wait_for 10 mig_done "$1.qmp" || die "$1 -> $2: the migration did not end"
    r=$(qmp "$1.qmp" '{"execute":"query-migrate"}')
    if [ "$(field "$r" status)" = failed ] && grep -qF -- "$3" <<<"$r"; then
        note "$1: ${r:0:200}"
    else
        bad "$1 -> $2: expected a failure with '$3': $r"
    fi
    if [ $# -ge 5 ]; then
        wait_for 5 q_match "$4.qmp" '{"execute":"query-migrate"}' "$5" ||
            bad "$4: expected '$5': $(qmp "$4.qmp" '{"execute":"query-migrate"}')"
        status_is "$4.qmp" inmigrate || bad "$4 is $(run_status "$4.qmp")"
    fi
    tls_serving "$1" "$3"
}
s_tls() {
    local C=$D/certs G r size gsize prev b0 peerport px py TP=$B/tls-peer
    bash "$TLS_CERTS" "$C" || die "tls-certs.sh failed (certtool: make deps)"
    G=$C/good
    # a destination that takes only migration-client, from the CA
    tls_dest dst --tls-creds "$G" --tls-authz migration-client
    local dport=$port uri=tcp:127.0.0.1:$port
    # sources whose certificates it must refuse
    tls_src s_other --tls-creds "$C/otherca"
    tls_refused s_other "$uri" "the peer's certificate is not signed by our CA" \
        dst "did the source refuse this destination's certificate"
    tls_src s_exp --tls-creds "$C/expired"
    tls_refused s_exp "$uri" "did it refuse our certificate" dst "certificate has expired"
    tls_src s_fut --tls-creds "$C/future"
    tls_refused s_fut "$uri" "did it refuse our certificate" dst "certificate is not valid yet"
    tls_src s_intr --tls-creds "$C/intruder"
    tls_refused s_intr "$uri" "did it refuse our certificate or identity" \
        dst "TLS client identity 'O=vdagent-chardev tests,CN=intruder' is not authorized (--tls-authz migration-client)"
    tls_src s_plain
    tls_refused s_plain "$uri" "destination refused: a plain-text client: this destination requires TLS" \
        dst "a plain-text client: this destination requires TLS (--tls-creds)"
    # a handshake cut in the middle, garbage after a good handshake
    "$TP" cut-client "$dport" >"$D/peer1.log" 2>&1 || bad "tls-peer cut-client: $(cat "$D/peer1.log")"
    wait_for 5 q_match dst.qmp '{"execute":"query-migrate"}' 'TLS handshake failed' ||
        bad "dst after a cut handshake: $(qmp dst.qmp '{"execute":"query-migrate"}')"
    timeout 10 "$TP" garbage-client "$G" "$dport" >"$D/peer2.log" 2>&1 ||
        bad "tls-peer garbage-client: $(cat "$D/peer2.log")"
    grep -q "handshake ok" "$D/peer2.log" || bad "garbage-client: no handshake"
    wait_for 5 q_match dst.qmp '{"execute":"query-migrate"}' '"error-desc":"TLS: ' ||
        bad "dst after garbage: $(qmp dst.qmp '{"execute":"query-migrate"}')"

    # a source with good credentials, refused by destinations
    tls_src s_good --tls-creds "$G"
    tls_dest d_other --tls-creds "$C/otherca"
    tls_refused s_good "tcp:127.0.0.1:$port" "the peer's certificate is not signed by our CA" \
        d_other "did the source refuse this destination's certificate"
    tls_dest d_exp --tls-creds "$C/expired"
    tls_refused s_good "tcp:127.0.0.1:$port" "the peer's certificate has expired" \
        d_exp "did the source refuse"
    tls_dest d_fut --tls-creds "$C/future"
    tls_refused s_good "tcp:127.0.0.1:$port" "the peer's certificate is not valid yet" \
        d_fut "did the source refuse"
    tls_dest d_plain
    tls_refused s_good "tcp:127.0.0.1:$port" "TLS handshake failed" \
        d_plain "a TLS client, but this destination has no --tls-creds"
    # the destination's host name (the URI's): its certificate names
    # localhost and 127.0.0.1 (the URIs above), not 127.0.0.2
    TLS_ADDR=127.0.0.2 tls_dest d_name --tls-creds "$G"
    tls_refused s_good "tcp:127.0.0.2:$port" "the peer's certificate does not name the host" \
        d_name "did the source refuse"
    peerport=$(tcp_port)
    start peer3 "$TP" cut-server "$peerport"
    wait_for 5 grep -q listening "$D/peer3.log" || die "tls-peer cut-server did not listen"
    tls_refused s_good "tcp:127.0.0.1:$peerport" "TLS handshake failed"
    peerport=$(tcp_port)
    start peer4 timeout 10 "$TP" garbage-server "$G" "$peerport"
    wait_for 5 grep -q listening "$D/peer4.log" || die "tls-peer garbage-server did not listen"
    tls_refused s_good "tcp:127.0.0.1:$peerport" "TLS: "
    grep -q "handshake ok" "$D/peer4.log" || bad "garbage-server: no handshake: $(cat "$D/peer4.log")"
    for r in s_other s_exp s_fut s_intr s_plain; do stop "$r"; done

    # The good case, into the destination that refused all that: the
    # host's 1 MiB paste and the guest's 512 KiB copy in flight.
    start_host h0 --guest "unix:$D/chan" --tls-creds "$G"
    wait_for 5 test -S "$D/chan" || die "h0 is not listening"
    start_sim g chan
    wait_for 5 q_match h0.qmp '{"execute":"query-vdagent"}' '"connected":true' || die "g never connected"
    size=1048576 gsize=524288
    prev=$(guest_serial h0.qmp primary)
    ctl g.ctl "throttle 8" >/dev/null || die "g: throttle"
    ctl g.ctl "slowread 64" >/dev/null || die "g: slowread"
    ctl g.ctl "copy-bytes primary $gsize" >/dev/null || die "g: copy-bytes"
    wait_for 5 guest_grabbed h0.qmp primary "$prev" || die "h0 saw no grab of primary"
    b0=$(bytes_in h0.qmp)
    start get0 env VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$D/h0.qmp" \
        '{"execute":"clipboard-get","arguments":{"selection":"primary"}}'
    wait_for 5 bytes_in_ge h0.qmp $((b0 + 65536)) || bad "the guest's copy does not flow"
    set_json "$D/set.json" clipboard "$size"
    qmp h0.qmp "@$D/set.json" >/dev/null || die "clipboard-set of $size bytes"
    ctl g.ctl hold >/dev/null || die "g: hold"
    start paste0 env VDCTL_TIMEOUT=30 "$CTL" line "unix:$D/g.ctl" "paste clipboard"
    wait_for 5 bytes_out_ge h0.qmp 100000 || bad "h0 wrote no reply"
    px=$((RANDOM % 32768)) py=$((RANDOM % 32768))
    abs_btn h0.qmp 0 "$px" "$py" left false >/dev/null || bad "input-send-event"
    sleep 0.1
    qmp h0.qmp '{"execute":"stop"}' >/dev/null || die "stop h0"
    sleep 0.05
    ctl g.ctl freeze >/dev/null || die "g: freeze"
    migrate h0.qmp "tcp:localhost:$dport" >/dev/null || die "migrate h0 over TLS"
    wait_for 10 mig_done h0.qmp || die "the TLS migration did not finish"
    [ "$(mig_status h0.qmp)" = completed ] || die "TLS migration: $(qmp h0.qmp '{"execute":"query-migrate"}')"
    wait_for 5 mig_done dst.qmp
    [ "$(mig_status dst.qmp)" = completed ] || die "dst says $(qmp dst.qmp '{"execute":"query-migrate"}')"
    note "TLS migration: $(qmp dst.qmp '{"execute":"query-migrate"}')"
    ctl g.ctl "move unix:$D/dst.chan" >/dev/null || die "the agent cannot move to dst"
    ctl g.ctl thaw >/dev/null || die "g: thaw"
    ctl g.ctl unhold >/dev/null || die "g: unhold"
    exit_status paste0 30
    r=$(head -c 80 "$D/paste0.log")
    case $r in "ok $size "*) ;; *) bad "the paste of $size bytes answered '$r'";; esac
    cut -d' ' -f3 "$D/paste0.log" | base64 -d >"$D/got" 2>/dev/null
    same_pattern "$D/got" "$size" || bad "the $size bytes pasted differ from what the host set"
    stat_is g.ctl errors 0 || bad "the agent saw $(sim_stat g.ctl errors) protocol errors"
    pointer_is g.ctl "$((px * 1023 / 32767)) $((py * 767 / 32767)) 0 0" ||
        bad "the pointer move in flight did not arrive"
    exit_status get0 10
    r=$(VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$D/dst.qmp" \
        '{"execute":"clipboard-get","arguments":{"selection":"primary"}}')
    get_data "$r" | tr -d '\n' >"$D/gget"
    same_pattern "$D/gget" "$gsize" ||
        bad "dst read $(wc -c <"$D/gget") bytes of the guest's $gsize (${r:0:60})"
    host_to_guest dst.qmp g.ctl clipboard "after the TLS migration" || true
    # a live migration (pause-before-switchover) over TLS: the handshake
    # in the live phase, frames and keepalives through the relay
    tls_dest d_live --tls-creds "$G" --tls-authz 'O=vdagent-chardev tests,CN=migration-client'
    qmp s_good.qmp '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"pause-before-switchover","state":true}]}}' \
        >/dev/null || die "s_good: caps"
    migrate s_good.qmp "tcp:localhost:$port" >/dev/null || die "migrate s_good live"
    wait_for 10 mig_is s_good.qmp pre-switchover ||
        die "live TLS: $(qmp s_good.qmp '{"execute":"query-migrate"}')"
    sleep 1.2                   # a keepalive goes through the relay
    qmp s_good.qmp '{"execute":"migrate-continue","arguments":{"state":"pre-switchover"}}' \
        >/dev/null || die "migrate-continue"
    wait_for 10 mig_done d_live.qmp
    [ "$(mig_status d_live.qmp)" = completed ] ||
        bad "live TLS: $(qmp d_live.qmp '{"execute":"query-migrate"}')"
    r=$(clip_get d_live.qmp clipboard)
    [ "$(get_data "$r")" = "kept by s_good" ] || bad "d_live's clipboard: $r"
    # a destination that quits in a TLS live phase: at once (its thread
    # is woken through the relay), and the source resumes
    tls_src s_q --tls-creds "$G"
    tls_dest d_q --tls-creds "$G"
    qmp s_q.qmp '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"pause-before-switchover","state":true}]}}' \
        >/dev/null || die "s_q: caps"
    migrate s_q.qmp "tcp:localhost:$port" >/dev/null || die "migrate s_q live"
    wait_for 10 mig_is s_q.qmp pre-switchover ||
        die "s_q: $(qmp s_q.qmp '{"execute":"query-migrate"}')"
    qmp d_q.qmp '{"execute":"quit"}' >/dev/null
    exit_status d_q 3
    r=$?
    [ $r = 0 ] || bad "d_q did not quit within 3 s in a TLS live phase (status $r)"
    qmp s_q.qmp '{"execute":"migrate-continue","arguments":{"state":"pre-switchover"}}' >/dev/null
    wait_for 10 mig_done s_q.qmp || bad "s_q: the migration did not end"
    [ "$(mig_status s_q.qmp)" = failed ] || bad "s_q: $(qmp s_q.qmp '{"execute":"query-migrate"}')"
    wait_for 5 status_is s_q.qmp running
    tls_serving s_q "its destination quit"
    # bad options: clear at start
    "$HOST" --guest sim --tls-creds "$D/none" >"$D/o1.log" 2>&1
    r=$?
    [ $r = 1 ] && grep -q -- "--tls-creds: no $D/none/ca-cert.pem" "$D/o1.log" ||
        bad "--tls-creds without a CA: status $r, $(cat "$D/o1.log")"
    "$HOST" --incoming tcp:127.0.0.1:0 --tls-creds "$C/intruder" >"$D/o2.log" 2>&1
    r=$?
    [ $r = 1 ] && grep -q -- "--tls-creds: no server-cert.pem in $C/intruder" "$D/o2.log" ||
        bad "--incoming tcp: without a server pair: status $r, $(cat "$D/o2.log")"
    "$HOST" --guest sim --tls-authz x >"$D/o3.log" 2>&1
    r=$?
    [ $r = 2 ] && grep -q -- "--tls-authz needs --tls-creds" "$D/o3.log" ||
        bad "--tls-authz alone: status $r, $(cat "$D/o3.log")"
    # tcp:: without --tls-creds says it is plain text on every interface
    start_host d_any --incoming "tcp::0"
    grep -q "warning: tcp::0 listens on every interface, for unauthenticated plain text" "$D/d_any.log" ||
        bad "no warning for tcp::0: $(cat "$D/d_any.log")"
}

# 20. A Windows guest (issue 22): sim-agent --model windows (caps 0x46B7:
#     no selection prefix, no serial, GUEST_LINEEND_CRLF; 2048-byte chunks;
#     RELEASE before a regrab; NONE answers).  Text gets CRLF towards it
#     and LF from it, images are untouched, a request it cannot serve fails
#     at once, and a live migration (pause-before-switchover) with a host
#     answer in flight to it delivers the text converted once.
b64() { base64 -w0; }
s_windows() {
    local r caps got want t0 ms lines=200000 sum

    start_host src --guest "unix:$D/chan"
    wait_for 5 test -S "$D/chan" || die "src is not listening on chan"
    start_sim guest chan --model windows
    wait_for 5 ctl_match guest.ctl wait-caps '^ok' || die "no caps from the host"
    r=$(qmp src.qmp '{"execute":"query-vdagent"}') || die "query-vdagent: $r"
    caps=$(array "$r" guest-caps)
    note "guest caps: $caps"
    grep -q '"guest-lineend-crlf"' <<<"$caps" || bad "no guest-lineend-crlf: $caps"
    grep -q '"clipboard-selection"' <<<"$caps" && bad "clipboard-selection: $caps"

    # host -> guest: CRLF, an existing CRLF not doubled
    clip_set src.qmp clipboard 'one\ntwo\r\nthree\n' >/dev/null || bad "clipboard-set"
    r=$(ctl guest.ctl "paste clipboard")
    want=$(printf 'one\r\ntwo\r\nthree\r\n' | b64)
    [ "${r##* }" = "$want" ] || bad "the guest pasted ${r##* }, expected $want"
    # guest -> host: LF (a lone CR stays)
    ctl guest.ctl "copy-base64 clipboard text $(printf 'a\r\nb\r\n\r\nc\r' | b64)" >/dev/null ||
        bad "guest copy"
    wait_for 5 q_match src.qmp '{"execute":"clipboard-query"}' '"owner":"guest"' || bad "no guest grab"
    r=$(clip_get src.qmp clipboard)
    grep -qF '{"return":{"data":"a\nb\n\nc\r"}}' <<<"$r" || bad "the host read $r"
    # a copy again while it owns: RELEASE then GRAB, the new text arrives
    ctl guest.ctl "copy clipboard second copy" >/dev/null || bad "guest copy again"
    wait_for 5 q_match src.qmp '{"execute":"clipboard-get"}' '"data":"second copy"' ||
        bad "after the regrab the host reads $(clip_get src.qmp clipboard)"
    r=$(qmp src.qmp '{"execute":"query-vdagent"}')
    grep -q '"clipboard-release":1[,}]' <<<"$r" || bad "no RELEASE before the regrab: $r"
    # images both ways, CR and LF bytes untouched
    want=$(printf '\x89PNG\r\n\x1a\n\n\r\r\n' | b64)
    qmp src.qmp "{\"execute\":\"clipboard-set\",\"arguments\":{\"type\":\"png\",\"data-base64\":\"$want\"}}" \
        >/dev/null || bad "clipboard-set png"
    r=$(ctl guest.ctl "paste clipboard png")
    [ "${r##* }" = "$want" ] || bad "the guest's PNG: ${r##* }, expected $want"
    ctl guest.ctl "copy-base64 clipboard bmp $want" >/dev/null || bad "guest copy bmp"
    wait_for 5 q_match src.qmp '{"execute":"clipboard-query"}' '"types":\["bmp"\]' || bad "no bmp grab"
    r=$(qmp src.qmp '{"execute":"clipboard-get","arguments":{"type":"bmp"}}')
    grep -qF "\"data-base64\":\"$want\"" <<<"$r" || bad "the host's BMP: $r"

    # a live migration with the host's multi-line text in flight to it
    { printf '{"execute":"clipboard-set","arguments":{"data":"'
      yes 'line of text\n' | head -n "$lines" | tr -d '\n'
      printf '"}}'; } >"$D/set.json"
    qmp src.qmp "@$D/set.json" >/dev/null || die "clipboard-set of $lines lines"
    yes 'line of text' | head -n "$lines" | sed 's/$/\r/' >"$D/want.txt"
    wait_for 5 grep -q 'host grabbed clipboard' "$D/guest.log" || die "the guest saw no grab"
    start_host dst --incoming "unix:$D/mig"
    wait_for 5 test -S "$D/mig" || die "destination not listening"
    q_match src.qmp '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"pause-before-switchover","state":true}]}}' \
        '"return"' || die "migrate-set-capabilities"
    migrate src.qmp "unix:$D/mig" >/dev/null || die "migrate"
    wait_for 5 mig_is src.qmp pre-switchover || die "no pre-switchover: $(mig_status src.qmp)"
    # the live phase: the guest asks, and the answer is in flight across
    # the switchover (the guest does not read)
    ctl guest.ctl hold >/dev/null || die "guest: hold"
    start paste env VDCTL_TIMEOUT=20 "$CTL" line "unix:$D/guest.ctl" "paste clipboard"
    sleep 0.3
    q_match src.qmp '{"execute":"migrate-continue","arguments":{"state":"pre-switchover"}}' \
        '"return"' || bad "migrate-continue"
    wait_for 10 mig_done src.qmp || die "the migration did not finish"
    [ "$(mig_status src.qmp)" = completed ] || bad "source: $(qmp src.qmp '{"execute":"query-migrate"}')"
    ctl guest.ctl unhold >/dev/null || die "guest: unhold"
    exit_status paste 15 || bad "the guest's paste never ended"
    base64 -d <<<"$(sed -n 's/^ok [0-9]* //p' "$D/paste.log")" >"$D/got.txt"
    note "the guest pasted $(wc -c <"$D/got.txt") bytes ($(wc -c <"$D/want.txt") expected)"
    cmp -s "$D/got.txt" "$D/want.txt" || bad "the text in flight did not arrive converted once"
    # and from the guest through the destination
    ctl guest.ctl "copy-base64 clipboard text $(printf 'after\r\nmigration' | b64)" >/dev/null
    wait_for 5 q_match dst.qmp '{"execute":"clipboard-get"}' '"data":"after\\nmigration"' ||
        bad "the destination reads $(clip_get dst.qmp clipboard)"
    sum=$(ctl guest.ctl stats)
    grep -q ' errors=0 ' <<<"$sum" || bad "the Windows agent saw protocol errors: $sum"
    no_reconnect guest.ctl "after the migration"

    # a request the guest cannot serve (over MAX_CLIPBOARD): NONE, at once
    start_host nh --guest "unix:$D/chan2" --max-message 65536
    wait_for 5 test -S "$D/chan2" || die "nh is not listening on chan2"
    start_sim g2 chan2 --model windows
    wait_for 5 ctl_match g2.ctl wait-caps '^ok' || die "g2: no caps from the host"
    ctl g2.ctl "copy-bytes clipboard 100000" >/dev/null || bad "copy-bytes"
    wait_for 5 q_match nh.qmp '{"execute":"clipboard-query"}' '"types":\["text"\]' || bad "no text grab"
    t0=$(date +%s%N)
    r=$(clip_get nh.qmp clipboard)
    ms=$((($(date +%s%N) - t0) / 1000000))
    note "clipboard-get answered NONE in $ms ms: $r"
    grep -q 'the guest has no text data on the clipboard selection' <<<"$r" ||
        bad "clipboard-get of what the guest cannot give: $r"
    [ "$ms" -lt 2000 ] || bad "the NONE answer took $ms ms"
    r=$(qmp nh.qmp '{"execute":"query-vdagent"}')
    grep -q '"drops":{}' <<<"$r" || bad "drops counted: $r"
}

echo "1..24"
run demo s_demo 30
run refused s_refused 30
run dest-dies s_dest_dies 20
run file-tcp s_file_tcp 20
run malformed s_malformed 20
run cli s_cli 15
run quit s_quit 20
run fd-uri s_fd_uri 20
run inflight s_inflight 60
run inflight-windows s_inflight_windows 40
run moved s_moved 30
run inflight-stopped s_inflight_stopped 30
run hostile-qmp s_hostile_qmp 30
run hostile-mig s_hostile_mig 30
run heads s_heads 20
run max-message s_max_message 15
run live s_live 30
run live-windows s_live_windows 30
run quiet-flood s_quiet_flood 60
run clip-files s_clip_files 30
run tls s_tls 60
run windows s_windows 30
run file-send s_file_send 60
run file-migrate s_file_migrate 60

for d in "${FAILED_DIRS[@]}"; do
    echo "# ---- logs of $(basename "$d") ($d)"
    echo "# -- trace.log"
    sed 's/^/#   /' "$d/trace.log"
    for f in "$d"/*.log; do
        [ "$f" = "$d/trace.log" ] && continue
        echo "# -- $(basename "$f") (last 15 lines)"
        tail -15 "$f" | cut -c1-300 | sed 's/^/#   /'
    done
done
echo "# $PASSED passed, $FAILED failed, $((SECONDS - START)) s"
[ "$FAILED" = 0 ]
