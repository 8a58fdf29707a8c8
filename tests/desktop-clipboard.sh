#!/usr/bin/env bash
# tests/desktop-clipboard.sh [BUILD_DIR]: `vdagent-host --desktop-clipboard
# on` (issue 13) with an Xvfb as the host's desktop and xclip as the
# desktop application, or a headless sway (a Wayland compositor with the
# data-control protocol) and wl-clipboard's wl-copy / wl-paste.
#
#   cli     the option without a display (no $DISPLAY / $WAYLAND_DISPLAY,
#           a display that does not open) fails at start, naming them
#   sim     against the scripted guest agent (BUILD_DIR/sim-agent): desktop
#           -> guest and guest -> desktop for ASCII, UTF-8, 16 MiB text and
#           a PNG image, CLIPBOARD and PRIMARY; QMP clipboard-set on the
#           desktop; 20 alternating copies each way, every grab counted
#           exactly once (the host's trace and query-vdagent's counters);
#           a desktop paste the guest never answers comes back empty; a
#           paused VM; the desktop owner (xclip) exiting; the host quitting
#   real    against the real Linux agent (spice-vdagentd + spice-vdagent on
#           its own Xvfb, the recipe of tests/real-agent.sh): the same
#           matrix both ways, and 20 alternating copies
#   two     two hosts with the desktop peer on one desktop: 6 copies from
#           alternating guests each reach the other guest, each counted
#           once on each host (no ping-pong)
#   windows against the scripted agent's Windows model (GUEST_LINEEND_CRLF,
#           no selections): a desktop's LF text reaches the guest with
#           CRLF, the guest's CRLF text reaches the desktop with LF (the
#           device's peer converts, issue 22)
#   max     --max-message 4096: a desktop copy above the clipboard's
#           maximum reaches the guest empty, one at the maximum whole
#   wayland-cli  a compositor without data-control (weston) and no
#           $DISPLAY fails at start naming the protocol; with $DISPLAY the
#           X11 clipboard is used instead (traced); GDK_BACKEND=x11; a
#           Wayland display that does not open; the compositor going away
#           under a running host (it warns and goes on serving)
#   wayland the sim group's checks on a Wayland desktop (sway): the matrix
#           both ways, clipboard-set, 20 alternating copies, a frozen guest,
#           a paused VM and a desktop copy made while paused, the owner
#           exiting, the host quitting
#   wayland-real, wayland-two   the real and two groups on a Wayland desktop
#
# One TAP-like line per scenario group, then a summary; exit 0 only when
# all passed.  Every process is ended by PID; every wait is bounded; a
# watchdog bounds the run (DESKTOP_BUDGET seconds, default 180).  Logs are
# kept on failure.  Without Xvfb/xclip (or, for "real", the guest agent)
# it fails, or prints SKIP and exits 0 when ALLOW_SKIP=1.  As root, sway
# runs as nobody (setpriv): it refuses to run as root.
# DESKTOP_ONLY="cli sim real two windows max wayland-cli wayland
# wayland-real wayland-two" selects groups.
set -u
export LC_ALL=C.UTF-8 2>/dev/null || export LC_ALL=C

B=${1:-build}
B=$(cd "$B" 2>/dev/null && pwd) || { echo "usage: $0 [BUILD_DIR]" >&2; exit 2; }
for f in "$B/vdagent-host" "$B/vdctl" "$B/sim-agent"; do
    [ -x "$f" ] || { echo "Bail out! $f missing: run make host" >&2; exit 2; }
done
PATH=$PATH:/usr/sbin
ONLY=${DESKTOP_ONLY:-cli sim real two windows max wayland-cli wayland wayland-real wayland-two}
skip_or_fail() { # WHAT
    echo "##################################################################"
    echo "# desktop-clipboard: MISSING $1"
    echo "# install: apt-get install xvfb xclip spice-vdagent dbus sway wl-clipboard weston"
    echo "##################################################################"
    if [ "${ALLOW_SKIP:-0}" = 1 ]; then
        echo "1..0 # SKIP $1"
        exit 0
    fi
    exit 1
}
for t in Xvfb xclip; do
    command -v "$t" >/dev/null 2>&1 || skip_or_fail "the desktop's programs ($t)"
done
case " $ONLY " in *" real "*|*" wayland-real "*)
    for t in spice-vdagentd spice-vdagent dbus-daemon; do
        command -v "$t" >/dev/null 2>&1 || skip_or_fail "the real guest agent ($t)"
    done
esac
case " $ONLY " in *" wayland"*)
    for t in sway wl-copy wl-paste weston; do
        command -v "$t" >/dev/null 2>&1 || skip_or_fail "the Wayland desktop's programs ($t)"
    done
esac

export VDCTL_TIMEOUT=20
# A sanitizer build: GTK's own leak is not ours (see the file); the slow
# unwinder, since glib and GTK have no frame pointers and the suppression
# needs the frame above g_malloc.
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan-gtk.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
BUDGET=${DESKTOP_BUDGET:-180}
START=$SECONDS
exec 3>&1
W=$(mktemp -d /tmp/vdagent-desktop.XXXXXX)
# Private copies: other builds may relink build/ while we run.
cp "$B/vdagent-host" "$B/vdctl" "$B/sim-agent" "$W/" || exit 2
HOST=$W/vdagent-host CTL=$W/vdctl SIM=$W/sim-agent
PNG=$(cd "$(dirname "$0")" && pwd)/data/desktop-clipboard.png
PASSED=0 FAILED=0 CURRENT='' REASONS='' INTERRUPTED=0 WATCHDOG=''
D=

# ---- processes and cleanup: tests/lib.sh ------------------------------------

. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap on_signal INT TERM
start_watchdog

# ---- helpers ----------------------------------------------------------------

note() { printf '# %s\n' "$*" >&3; }
bad() { REASONS+="${REASONS:+; }$*"; printf '# FAIL: %s\n' "$*" >&3; }

HN=host GN=guest                # the host and guest the helpers talk to
qmp() { "$CTL" qmp "unix:$D/$HN.qmp" "$1"; }
ctl() { "$CTL" line "unix:$D/$GN.ctl" "$1"; }
field() { # JSON KEY: a string or number value (crude)
    sed -n "s/.*\"$2\":\(\"[^\"]*\"\|-\?[0-9][0-9]*\|true\|false\|null\).*/\1/p" <<<"$1" | tr -d '"'
}
# The host's trace: how many times a "desktop: ..." line appeared.
count() { grep -c -- "desktop: $1" "$D/$HN.log"; }
count_gt() { [ "$(count "$1")" -gt "$2" ]; }
# query-vdagent's message counters: "in"/"out" clipboard-grab
grabs_msg() { # in|out
    qmp '{"execute":"query-vdagent"}' |
        sed -n "s/.*\"$1\":{\([^}]*\)}.*/\1/p" | tr ',' '\n' |
        sed -n 's/^"clipboard-grab":\([0-9]*\)$/\1/p' | grep . || echo 0
}
owner_is() { # SEL OWNER: clipboard-query names OWNER (null: nobody)
    [ "$(field "$(qmp "{\"execute\":\"clipboard-query\",\"arguments\":{\"selection\":\"$1\"}}")" owner)" = "$2" ]
}
mime() { case $1 in text) echo UTF8_STRING;; png) echo image/png;; esac; }
wmime() { case $1 in text) echo 'text/plain;charset=utf-8';; png) echo image/png;; esac; }

# The host's desktop: X11 (HD, xclip) or Wayland (HW, wl-clipboard).
DESKTOP=x11
hx() { DISPLAY=$HD timeout 10 "$@"; }
d_paste() { # SEL [TYPE]: what a desktop application pastes
    case $DESKTOP in
    x11) hx xclip -o -selection "$1" -t "$(mime "${2:-text}")" 2>>"$D/xclip.log" ;;
    wayland)
        local p=()
        [ "$1" = primary ] && p=(-p)
        WAYLAND_DISPLAY=$HW timeout 10 wl-paste -n "${p[@]}" -t "$(wmime "${2:-text}")" \
            2>>"$D/wl-paste.log" ;;
    esac
}
NCOPY=0
d_copy() { # SEL FILE [TYPE]: a desktop application owns SEL with FILE
    local n=dcopy$((NCOPY += 1))
    LAST_COPY=$n
    case $DESKTOP in
    x11) DISPLAY=$HD start "$n" xclip -i -quiet -selection "$1" -t "$(mime "${3:-text}")" "$2" ;;
    wayland)
        local p=()
        [ "$1" = primary ] && p=(-p)
        WAYLAND_DISPLAY=$HW start "$n" sh -c 'f=$1; shift; exec wl-copy --foreground "$@" <"$f"' \
            wl-copy "$2" "${p[@]}" -t "$(wmime "${3:-text}")" ;;
    esac
}
LETTERS=abcdefghijklmnopqrstuvwxyz
pattern() { # N: the bytes of sim-agent's copy-bytes N (text)
    local u="" i
    for ((i = 0; i < 26; i++)); do u+=${LETTERS:$(((i * 7 + 3) % 26)):1}; done
    yes "$u" | tr -d '\n' | head -c "$1"
}
same() { cmp -s "$1" "$2"; }
size() { wc -c <"$1"; }

start_host() { # ARGS...: a host HN with the desktop peer on HD or HW, control HN.qmp
    if [ "$DESKTOP" = wayland ]; then
        WAYLAND_DISPLAY=$HW start "$HN" env -u DISPLAY "$HOST" --qmp "unix:$D/$HN.qmp" \
            --verbose --desktop-clipboard on "$@"
    else
        DISPLAY=$HD start "$HN" "$HOST" --qmp "unix:$D/$HN.qmp" --verbose \
            --desktop-clipboard on "$@"
    fi
    wait_for 5 test -S "$D/$HN.qmp" ||
        { bad "vdagent-host did not start: $(tail -3 "$D/host.log")"; return 1; }
}
quit_host() { # the host HN quits cleanly (exit 0: a sanitizer build's leaks count)
    qmp '{"execute":"quit"}' >/dev/null
    exit_status "$HN" 5 || bad "$HN quit: exit status $?: $(grep -m1 'ERROR\|runtime error' "$D/$HN.log")"
}
start_sway() { # NAME VAR: a headless sway, its socket's path in VAR
    local rt=$D/$1.rt as=()
    mkdir -p "$rt" && chmod 700 "$rt" || return 1
    printf 'xwayland disable\n' >"$rt/config"
    if [ "$(id -u)" = 0 ]; then     # sway refuses root
        chown 65534:65534 "$rt"
        chmod o+x "$W" "$D"         # nobody passes through to it
        as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    fi
    XDG_RUNTIME_DIR=$rt HOME=$rt WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 \
        WLR_RENDERER=pixman start "$1" "${as[@]}" sway -c "$rt/config"
    wait_for 10 eval 'ls "$rt" | grep -q "^wayland-[0-9]*$"' ||
        { bad "sway gave no socket: $(tail -3 "$D/$1.log")"; return 1; }
    printf -v "$2" '%s/%s' "$rt" "$(ls "$rt" | grep -m1 '^wayland-[0-9]*$')"
}
start_desktop() { # the host's desktop, as DESKTOP says: HD or HW
    case $DESKTOP in
    x11) start_xvfb hxvfb HD ;;
    wayland) start_sway hsway HW ;;
    esac
}

# ---- the guest side, as seen through one of two guests ----------------------
# sim: the guest's clipboard is sim-agent's (copy-base64 / paste);
# real: an X client on the guest's Xvfb (xclip on GX).

g_copy() { # SEL FILE [TYPE]
    local type=${3:-text}
    case $GUEST in
    sim)
        if [ "$2" = "$D/big" ]; then    # too long for a command line
            ctl "copy-bytes $1 $(size "$2")" >/dev/null
        else
            ctl "copy-base64 $1 $type $(base64 -w0 "$2")" >/dev/null
        fi ;;
    real) DISPLAY=$GX start "gcopy$((NCOPY += 1))" xclip -i -quiet -selection "$1" \
              -t "$(mime "$type")" "$2" ;;
    esac
}
g_paste() { # SEL TYPE OUT: what the guest pastes, into OUT
    case $GUEST in
    sim)
        "$CTL" line "unix:$D/$GN.ctl" "paste $1 $2" >"$D/paste.out" 2>&1 || return 1
        [ "$(head -c 3 "$D/paste.out")" = "ok " ] || return 1
        cut -d' ' -f3 "$D/paste.out" | base64 -d >"$3" 2>/dev/null
        ;;
    real)
        DISPLAY=$GX timeout 20 xclip -o -selection "$1" -t "$(mime "$2")" >"$3" 2>>"$D/xclip.log"
        ;;
    esac
}
g_paste_is() { g_paste "$1" "$2" "$D/g.got" && same "$D/g.got" "$3"; }
g_sees_host() { # SEL: the guest's SEL is the host's
    case $GUEST in
    sim) ctl "owner $1" | grep -q '^ok host' ;;
    real) true ;;
    esac
}

# Desktop -> guest: a desktop copy of FILE reaches a guest paste.
d2g() { # SEL FILE [TYPE]
    local sel=$1 file=$2 type=${3:-text} n out
    n=$(count "grab $sel from the desktop")
    out=$(grabs_msg out)
    d_copy "$sel" "$file" "$type"
    wait_for 5 count_gt "grab $sel from the desktop" "$n" ||
        { bad "d2g $sel $type: the host never saw the desktop copy"; return 1; }
    wait_for 5 eval '[ "$(grabs_msg out)" -gt "$out" ]' ||
        { bad "d2g $sel $type: no grab sent to the guest"; return 1; }
    wait_for 5 g_sees_host "$sel" || { bad "d2g $sel $type: the guest never saw the grab"; return 1; }
    # the real agent takes its X selection a moment after the GRAB
    wait_for 15 g_paste_is "$sel" "$type" "$file" || {
        g_paste "$sel" "$type" "$D/g.got"
        bad "d2g $sel $type: the guest pasted $(size "$D/g.got") bytes, not the $(size "$file") copied"
        return 1
    }
    note "desktop->guest $sel $type: $(size "$file") bytes"
}
# Guest -> desktop: a guest copy of FILE reaches a desktop paste.
g2d() { # SEL FILE [TYPE]
    local sel=$1 file=$2 type=${3:-text} n
    n=$(count "offer $sel on the desktop")
    g_copy "$sel" "$file" "$type"
    wait_for 10 count_gt "offer $sel on the desktop" "$n" ||
        { bad "g2d $sel $type: the desktop was never offered the guest's copy"; return 1; }
    d_paste "$sel" "$type" >"$D/d.got"
    same "$D/d.got" "$file" ||
        { bad "g2d $sel $type: the desktop pasted $(size "$D/d.got") bytes, not the $(size "$file") copied"; return 1; }
    note "guest->desktop $sel $type: $(size "$file") bytes"
}

# Texts and the image, both ways, both selections.
matrix() {
    printf '%s' "Hello from the desktop" >"$D/ascii"
    printf '%s' "héllo wörld ✓ — ünïcödé 日本語" >"$D/utf8"
    printf '%s' "primary: ñandú ✓" >"$D/utf8p"
    printf '%s' "plain primary" >"$D/asciip"
    pattern $((16 * 1024 * 1024)) >"$D/big"
    d2g clipboard "$D/ascii"
    d2g clipboard "$D/utf8"
    d2g primary "$D/asciip"
    d2g primary "$D/utf8p"
    d2g clipboard "$PNG" png
    d2g clipboard "$D/big"
    g2d clipboard "$D/ascii"
    g2d clipboard "$D/utf8"
    g2d primary "$D/asciip"
    g2d primary "$D/utf8p"
    g2d clipboard "$PNG" png
    g2d clipboard "$D/big"
}

# 20 alternating copies: each desktop copy one grab to the guest, each
# guest copy one offer on the desktop, nothing more (no echo, no ping-pong).
alternate() {
    local i g0 o0 own0 in0 out0 t
    g0=$(count "grab clipboard from the desktop")
    o0=$(count "offer clipboard on the desktop")
    own0=$(count "clipboard changed owner: our own")
    in0=$(grabs_msg in) out0=$(grabs_msg out)
    for ((i = 1; i <= 20; i++)); do
        printf 'desktop copy %d' "$i" >"$D/alt.d"
        d2g clipboard "$D/alt.d" >/dev/null 3>&1 || { bad "round $i: desktop->guest"; return 1; }
        printf 'guest copy %d ✓' "$i" >"$D/alt.g"
        g2d clipboard "$D/alt.g" >/dev/null 3>&1 || { bad "round $i: guest->desktop"; return 1; }
    done
    sleep 0.5                   # anything late would show now
    t="grabs $(($(count "grab clipboard from the desktop") - g0))"
    t+=" offers $(($(count "offer clipboard on the desktop") - o0))"
    t+=" own-changes $(($(count "clipboard changed owner: our own") - own0))"
    t+=" GRAB-out $(($(grabs_msg out) - out0)) GRAB-in $(($(grabs_msg in) - in0))"
    note "20 rounds: $t"
    [ "$t" = "grabs 20 offers 20 own-changes 20 GRAB-out 20 GRAB-in 20" ] ||
        bad "20 alternating copies: $t, expected 20 of each"
}

# A desktop copy of PRIMARY made before the host starts, then the host and
# sim-agent: the copy is the desktop's current one, and the guest's.
start_after_copy() {
    printf 'copied before the host started' >"$D/before"
    d_copy primary "$D/before"
    wait_for 5 eval '[ "$(d_paste primary)" = "copied before the host started" ]' ||
        { bad "the desktop's application did not take PRIMARY"; return 1; }
    start_host --guest "unix:$D/chan" || return 1
    sim_guest_up || return 1
    wait_for 5 g_sees_host primary && g_paste_is primary text "$D/before" ||
        bad "a desktop copy made before the start: the guest pasted '$(cat "$D/g.got" 2>/dev/null)'"
}
sim_guest_up() { # [ARGS...]: sim-agent "guest" on D/chan, caps exchanged
    start guest "$SIM" --connect "unix:$D/chan" --control "unix:$D/guest.ctl" --name guest "$@"
    wait_for 5 test -S "$D/guest.ctl" || { bad "sim-agent did not start"; return 1; }
    wait_for 5 ctl wait-caps || { bad "no caps from the host"; return 1; }
}

# Checks the sim and wayland groups share (the scripted guest, HN/GN).
check_qmp() { # QMP clipboard-set shows on the desktop; clipboard-get reads a desktop copy
    local n r
    n=$(count "offer primary on the desktop")
    qmp '{"execute":"clipboard-set","arguments":{"selection":"primary","data":"set by QMP ✓"}}' \
        >/dev/null || bad "clipboard-set"
    wait_for 5 count_gt "offer primary on the desktop" "$n" || bad "clipboard-set: no offer"
    [ "$(d_paste primary)" = "set by QMP ✓" ] || bad "clipboard-set: the desktop pasted '$(d_paste primary)'"
    # a desktop copy is read by clipboard-get too, owner "desktop"
    printf 'for QMP' >"$D/forqmp"
    d_copy clipboard "$D/forqmp"
    wait_for 5 owner_is clipboard desktop || bad "clipboard-query: $(qmp '{"execute":"clipboard-query"}')"
    r=$(qmp '{"execute":"clipboard-get"}')
    [ "$r" = '{"return":{"data":"for QMP"}}' ] || bad "clipboard-get of a desktop copy: $r"
}
check_paused() { # a paused VM: the desktop copy reaches the guest on resume only
    local n
    qmp '{"execute":"stop"}' >/dev/null || bad "stop"
    printf 'copied while paused' >"$D/paused"
    n=$(count "grab clipboard from the desktop")
    d_copy clipboard "$D/paused"
    wait_for 5 count_gt "grab clipboard from the desktop" "$n" || bad "paused: the host saw no desktop copy"
    sleep 0.5
    ctl "owner clipboard" | grep -q '^ok host' && bad "paused: the guest saw a grab while stopped"
    qmp '{"execute":"cont"}' >/dev/null || bad "cont"
    wait_for 5 g_sees_host clipboard || bad "resumed: the guest never saw the grab"
    wait_for 5 g_paste_is clipboard text "$D/paused" || bad "resumed: the guest pasted '$(cat "$D/g.got")'"
}
check_owner_exits() { # APP: the desktop owner (the last d_copy) exiting releases the grab everywhere
    local app=$1 n
    n=$(count "owner quit: released")
    stop "$LAST_COPY"
    wait_for 5 count_gt "the clipboard owner quit: released" "$n" ||
        bad "$app exited: no release traced"
    wait_for 5 owner_is clipboard null || bad "$app exited: $(qmp '{"execute":"clipboard-query"}')"
    wait_for 5 eval 'ctl "owner clipboard" | grep -q "^ok none"' ||
        bad "$app exited: the guest's clipboard is '$(ctl "owner clipboard")'"
}
check_quit() { # the host quitting while it owns the desktop's selection gives it up
    local r
    printf 'last' >"$D/last"
    g2d clipboard "$D/last"
    quit_host
    grep -q 'desktop: [0-9]* grabs, ' "$D/host.log" || bad "no summary at the end"
    note "$(grep -o 'desktop: [0-9]* grabs, .*' "$D/host.log")"
    r=$(d_paste clipboard)
    [ -z "$r" ] || bad "after quit the desktop still pastes '$r'"
}

# ---- groups -------------------------------------------------------------------

g_cli() {
    local rc
    D=$W/cli
    mkdir -p "$D"
    env -u DISPLAY -u WAYLAND_DISPLAY "$HOST" --desktop-clipboard on --guest sim \
        >"$D/nodisplay.log" 2>&1
    rc=$?
    [ "$rc" = 1 ] || bad "no display: exit $rc, expected 1"
    grep -q 'desktop-clipboard on: no display: neither \$DISPLAY nor \$WAYLAND_DISPLAY is set' \
        "$D/nodisplay.log" || bad "no display: '$(cat "$D/nodisplay.log")'"
    env -u WAYLAND_DISPLAY DISPLAY=:4242 "$HOST" --desktop-clipboard on --guest sim \
        >"$D/baddisplay.log" 2>&1
    rc=$?
    [ "$rc" = 1 ] || bad "bad display: exit $rc, expected 1"
    grep -q 'cannot open the display (\$DISPLAY=:4242, \$WAYLAND_DISPLAY=unset)' \
        "$D/baddisplay.log" || bad "bad display: '$(cat "$D/baddisplay.log")'"
    "$HOST" --desktop-clipboard maybe >"$D/badvalue.log" 2>&1
    rc=$?
    [ "$rc" = 2 ] || bad "--desktop-clipboard maybe: exit $rc, expected 2"
    grep -q "desktop-clipboard expects on or off, not 'maybe'" "$D/badvalue.log" ||
        bad "--desktop-clipboard maybe: '$(head -1 "$D/badvalue.log")'"
    # off (the default): no display needed, nothing of GTK
    env -u DISPLAY -u WAYLAND_DISPLAY "$HOST" --desktop-clipboard off --help \
        >"$D/off.log" 2>&1 || bad "--desktop-clipboard off --help failed"
}

g_sim() {
    local r n
    D=$W/sim GUEST=sim
    mkdir -p "$D"
    start_xvfb hxvfb HD || return
    start_after_copy || return
    matrix

    check_qmp

    alternate

    # a desktop paste the guest does not answer: empty after the hub's 5 s
    # (xclip then asks for STRING, which the guest answers once thawed)
    printf 'frozen' >"$D/frozen"
    g2d clipboard "$D/frozen" >/dev/null 3>&1
    n=$(count "offer clipboard on the desktop")
    ctl "copy clipboard never sent" >/dev/null
    wait_for 5 count_gt "offer clipboard on the desktop" "$n" || bad "frozen: no offer"
    ctl freeze >/dev/null
    T1=$SECONDS
    n=$(count "a desktop paste of clipboard answered empty")
    DISPLAY=$HD start frozenpaste timeout 15 xclip -o -selection clipboard -t UTF8_STRING
    wait_for 9 count_gt "a desktop paste of clipboard answered empty" "$n" ||
        bad "frozen guest: no empty answer within 9 s"
    note "frozen guest: the desktop paste answered empty after $((SECONDS - T1)) s"
    ctl thaw >/dev/null
    exit_status frozenpaste 10 || bad "frozen guest: xclip -o failed ($?)"
    [ "$(cat "$D/frozenpaste.log")" = "never sent" ] ||
        bad "frozen guest: after the thaw, the desktop pasted '$(cat "$D/frozenpaste.log")'"

    check_paused

    check_owner_exits xclip

    # Resuming replays the guest's grab, offered before the pause; a desktop
    # copy made while paused, whose targets have not come back yet (its
    # owner is stopped), must not lose the selection to that replay.
    printf 'guest, before the pause' >"$D/prepause"
    g2d clipboard "$D/prepause" >/dev/null 3>&1 || bad "replay: the guest's copy"
    qmp '{"execute":"stop"}' >/dev/null || bad "stop"
    kill -STOP "${PID[$HN]}"
    printf 'desktop, while paused' >"$D/inpause"
    d_copy clipboard "$D/inpause"
    wait_for 5 sh -c "DISPLAY=$HD timeout 2 xclip -o -selection clipboard -t TARGETS | grep -q UTF8_STRING" ||
        bad "replay: xclip did not take the clipboard"
    kill -STOP "${PID[$LAST_COPY]}"
    n=$(count "offer clipboard on the desktop")
    kill -CONT "${PID[$HN]}"
    sleep 0.3                   # the host asks the stopped xclip for targets
    qmp '{"execute":"cont"}' >/dev/null || bad "cont"
    sleep 0.5
    [ "$(count "offer clipboard on the desktop")" = "$n" ] ||
        bad "replay: the resumed host took the clipboard back from the desktop's newer copy"
    kill -CONT "${PID[$LAST_COPY]}"
    wait_for 5 g_sees_host clipboard && wait_for 5 g_paste_is clipboard text "$D/inpause" ||
        bad "replay: the guest pasted '$(cat "$D/g.got" 2>/dev/null)', not the desktop's copy"

    check_quit
}

g_real() {
    local i
    D=$W/$CURRENT GUEST=real
    mkdir -p "$D"
    start_desktop || return
    start_xvfb gxvfb GX || return
    start_host --guest "unix:$D/chan" || return
    wait_for 5 test -S "$D/chan" || { bad "the host is not listening"; return; }
    mkfifo "$D/uinput" || return
    cat 0<>"$D/uinput" >/dev/null 2>&1 3>&- &
    PID[uinput]=$!
    PIDS+=("$!")
    start dbus dbus-daemon --session --nofork --nopidfile --address="unix:path=$D/dbus.sock"
    wait_for 5 test -S "$D/dbus.sock" || { bad "dbus-daemon did not start"; return; }
    start daemon spice-vdagentd -x -X -f -u "$D/uinput" -s "$D/chan" -S "$D/agent.sock"
    wait_for 5 test -S "$D/agent.sock" || { bad "spice-vdagentd did not start"; return; }
    DISPLAY=$GX DBUS_SESSION_BUS_ADDRESS=unix:path=$D/dbus.sock NO_AT_BRIDGE=1 \
        start agent spice-vdagent -x -s "$D/chan" -S "$D/agent.sock"
    wait_for 10 eval 'qmp "{\"execute\":\"query-vdagent\"}" | grep -q clipboard-grab-serial' ||
        { bad "no caps from the real agent"; return; }
    note "real agent up after $((SECONDS - T0)) s (host desktop: $DESKTOP, guest $GX)"
    matrix
    alternate
    quit_host
}

# Two hosts with the desktop peer on one desktop: each guest's copy reaches
# the other guest through the desktop, and nothing bounces back.
g_two() {
    local i from to n0 r k
    local -A c0=()
    D=$W/$CURRENT GUEST=sim
    mkdir -p "$D"
    start_desktop || return
    for i in a b; do
        HN=host$i GN=guest$i
        start_host --guest "unix:$D/chan$i" || return
        start "$GN" "$SIM" --connect "unix:$D/chan$i" --control "unix:$D/$GN.ctl" --name "$GN"
        wait_for 5 test -S "$D/$GN.ctl" || { bad "$GN did not start"; return; }
        wait_for 5 ctl wait-caps || { bad "$GN: no caps"; return; }
    done
    for i in a b; do
        HN=host$i
        for k in "grab clipboard from the desktop" "offer clipboard on the desktop" \
                 "clipboard changed owner: our own"; do
            c0[$i $k]=$(count "$k")
        done
    done
    for ((r = 1; r <= 6; r++)); do
        if ((r % 2)); then from=a to=b; else from=b to=a; fi
        printf 'round %d from guest %s ✓' "$r" "$from" >"$D/r.txt"
        HN=host$from GN=guest$from
        n0=$(count "offer clipboard on the desktop")
        g_copy clipboard "$D/r.txt"
        wait_for 5 count_gt "offer clipboard on the desktop" "$n0" ||
            { bad "round $r: host $from never offered guest $from's copy"; return; }
        HN=host$to GN=guest$to
        wait_for 5 count_gt "grab clipboard from the desktop" "$(( ${c0[$to grab clipboard from the desktop]} + (r - 1) / 2 ))" ||
            { bad "round $r: host $to never saw the desktop copy"; return; }
        wait_for 5 g_sees_host clipboard && wait_for 5 g_paste_is clipboard text "$D/r.txt" ||
            { bad "round $r: guest $to pasted '$(cat "$D/g.got" 2>/dev/null)'"; return; }
    done
    sleep 0.5                   # a bounce would show now
    for i in a b; do
        HN=host$i
        r=""
        for k in "grab clipboard from the desktop" "offer clipboard on the desktop" \
                 "clipboard changed owner: our own"; do
            r+="$(( $(count "$k") - ${c0[$i $k]} )) "
        done
        note "host $i: grabs, offers, own owner changes: $r"
        [ "$r" = "3 3 3 " ] || bad "host $i: grabs, offers, own owner changes: $r, expected 3 of each"
    done
    for i in a b; do HN=host$i quit_host; done
    HN=host GN=guest
}

# --max-message 4096: a desktop copy above the clipboard's maximum (4088
# bytes, what the guest is told) is answered empty, as clipboard-set
# refuses it; one at the maximum goes through.
g_windows() {
    D=$W/windows GUEST=sim
    mkdir -p "$D"
    start_xvfb hxvfb HD || return
    start_host --guest "unix:$D/chan" || return
    sim_guest_up --model windows || return
    # desktop -> guest: LF becomes CRLF, an existing CRLF stays one
    printf 'line one\nline two\r\nline three\n' >"$D/lf"
    printf 'line one\r\nline two\r\nline three\r\n' >"$D/crlf"
    d_copy clipboard "$D/lf"
    wait_for 5 g_sees_host clipboard || { bad "windows: the guest never saw the grab"; return; }
    wait_for 5 g_paste_is clipboard text "$D/crlf" ||
        bad "windows: the guest pasted '$(od -c "$D/g.got" | head -3)'"
    # guest -> desktop: CRLF becomes LF
    printf 'from windows\r\nsecond line\r\n' >"$D/gcrlf"
    printf 'from windows\nsecond line\n' >"$D/glf"
    g_copy clipboard "$D/gcrlf"
    wait_for 10 eval '[ "$(count "offer clipboard on the desktop")" -gt 0 ]' ||
        { bad "windows: the desktop was never offered the guest's copy"; return; }
    d_paste clipboard >"$D/d.got"
    same "$D/d.got" "$D/glf" ||
        bad "windows: the desktop pasted '$(od -c "$D/d.got" | head -3)'"
    quit_host
}

g_max() {
    D=$W/max GUEST=sim
    mkdir -p "$D"
    start_xvfb hxvfb HD || return
    start_host --guest "unix:$D/chan" --max-message 4096 || return
    sim_guest_up || return
    pattern 4088 >"$D/fits"
    d2g clipboard "$D/fits"
    pattern 4089 >"$D/over"
    d_copy clipboard "$D/over"
    wait_for 5 count_gt "grab clipboard from the desktop" 1 || { bad "no grab of 4089 bytes"; return; }
    wait_for 5 eval '[ "$(ctl "paste clipboard")" = "ok 0" ]' ||
        bad "4089 bytes: the guest pasted '$(ctl "paste clipboard" | head -c 40)'"
    count_gt "4089 bytes is more than the clipboard's maximum (4088)" 0 ||
        bad "no trace of the refusal"
    quit_host
}

# ---- on a Wayland desktop -------------------------------------------------------

g_wayland_cli() {
    local rc ww
    D=$W/$CURRENT
    mkdir -p "$D/wrt" && chmod 700 "$D/wrt"
    # weston: a compositor without data-control (as GNOME's)
    XDG_RUNTIME_DIR=$D/wrt start weston weston --backend=headless-backend.so \
        --socket=wl-weston --idle-time=0
    ww=$D/wrt/wl-weston
    wait_for 10 test -S "$ww" || { bad "weston did not start: $(tail -3 "$D/weston.log")"; return; }
    env -u DISPLAY WAYLAND_DISPLAY="$ww" "$HOST" --desktop-clipboard on --guest sim \
        >"$D/nodc.log" 2>&1
    rc=$?
    [ "$rc" = 1 ] || bad "no data-control: exit $rc, expected 1"
    grep -q "desktop-clipboard on: the Wayland compositor (\$WAYLAND_DISPLAY=$ww) offers no data-control protocol (zwlr_data_control_manager_v1), and \$DISPLAY is not set" \
        "$D/nodc.log" || bad "no data-control: '$(cat "$D/nodc.log")'"
    env -u DISPLAY WAYLAND_DISPLAY="$D/nothing-here" "$HOST" --desktop-clipboard on \
        --guest sim >"$D/nowl.log" 2>&1
    rc=$?
    [ "$rc" = 1 ] || bad "no Wayland display: exit $rc, expected 1"
    grep -q "cannot connect to the Wayland display (\$WAYLAND_DISPLAY=$D/nothing-here)" \
        "$D/nowl.log" || bad "no Wayland display: '$(cat "$D/nowl.log")'"
    # with an X display beside it: X11 (XWayland's, on a real desktop)
    DESKTOP=x11
    start_xvfb hxvfb HD || return
    WAYLAND_DISPLAY=$ww start_host --guest "unix:$D/chan" || return
    wait_for 5 count_gt "clipboard peer on display $HD" 0 || bad "no fallback on X11: $(grep desktop: "$D/host.log")"
    count_gt "the Wayland compositor .* offers no data-control protocol .*: the X11 clipboard on \$DISPLAY=$HD instead" 0 ||
        bad "the fallback is not traced: $(grep desktop: "$D/host.log")"
    printf 'through X11' >"$D/x"
    d_copy clipboard "$D/x"
    wait_for 5 owner_is clipboard desktop || bad "fallback: the desktop copy did not reach the hub"
    quit_host
    # GDK_BACKEND=x11: X11 without asking the compositor
    : >"$D/host.log"
    GDK_BACKEND=x11 WAYLAND_DISPLAY=$ww start_host --guest "unix:$D/chan2" || return
    wait_for 5 count_gt "clipboard peer on display $HD" 0 || bad "GDK_BACKEND=x11: $(grep desktop: "$D/host.log")"
    count_gt "Wayland" 0 && bad "GDK_BACKEND=x11: the compositor was asked"
    quit_host
    # the compositor going away under a running host
    DESKTOP=wayland
    : >"$D/host.log"
    start_sway hsway HW || return
    start_host --guest "unix:$D/chan3" || return
    wait_for 5 count_gt "clipboard peer on Wayland display" 0 || bad "no Wayland peer: $(grep desktop: "$D/host.log")"
    printf 'before the compositor went' >"$D/w"
    d_copy clipboard "$D/w"
    wait_for 5 owner_is clipboard desktop || bad "the desktop copy did not reach the hub"
    stop hsway
    wait_for 5 grep -q "the Wayland display is gone" "$D/host.log" ||
        bad "no warning when the compositor went: $(tail -3 "$D/host.log")"
    wait_for 5 owner_is clipboard null || bad "the desktop's grab was not released: $(qmp '{"execute":"clipboard-query"}')"
    qmp '{"execute":"clipboard-set","arguments":{"data":"still serving"}}' | grep -q return ||
        bad "the host stopped serving QMP"
    quit_host
}

g_wayland() {
    local r n
    D=$W/$CURRENT GUEST=sim DESKTOP=wayland
    mkdir -p "$D"
    start_sway hsway HW || return
    start_after_copy || return
    matrix

    check_qmp

    alternate

    # a desktop paste the guest does not answer: empty after the hub's 5 s,
    # the paste's pipe closed (never a blocked host: QMP answers meanwhile)
    n=$(count "offer clipboard on the desktop")
    ctl "copy clipboard never sent" >/dev/null
    wait_for 5 count_gt "offer clipboard on the desktop" "$n" || bad "frozen: no offer"
    ctl freeze >/dev/null
    T1=$SECONDS
    n=$(count "a desktop paste of clipboard answered empty")
    WAYLAND_DISPLAY=$HW start frozenpaste timeout 15 wl-paste -n -t 'text/plain;charset=utf-8'
    sleep 0.5
    qmp '{"execute":"query-status"}' | grep -q running || bad "frozen guest: QMP did not answer while a paste waits"
    wait_for 9 count_gt "a desktop paste of clipboard answered empty" "$n" ||
        bad "frozen guest: no empty answer within 9 s"
    exit_status frozenpaste 5
    [ -s "$D/frozenpaste.log" ] && bad "frozen guest: the desktop pasted '$(cat "$D/frozenpaste.log")'"
    note "frozen guest: the desktop paste answered empty after $((SECONDS - T1)) s"
    ctl thaw >/dev/null
    wait_for 10 eval '[ "$(d_paste clipboard)" = "never sent" ]' ||
        bad "after the thaw, the desktop pasted '$(d_paste clipboard)'"

    # a desktop paste that stops reading (16 MiB into a pipe nobody drains):
    # given up once it made no progress for the hub's timeout and a second
    n=$(count "offer clipboard on the desktop")
    ctl "copy-bytes clipboard $((16 * 1024 * 1024))" >/dev/null
    wait_for 5 count_gt "offer clipboard on the desktop" "$n" || bad "stalled: no offer"
    n=$(count "a desktop paste of clipboard answered empty: the paste stopped reading")
    T1=$SECONDS
    WAYLAND_DISPLAY=$HW start stalled sh -c 'wl-paste -n -t "text/plain;charset=utf-8" | sleep 30'
    sleep 1
    qmp '{"execute":"query-status"}' | grep -q running || bad "stalled: QMP did not answer while a paste stalls"
    wait_for 10 count_gt "a desktop paste of clipboard answered empty: the paste stopped reading" "$n" ||
        bad "stalled: the paste was not given up within 10 s"
    note "a stalled desktop paste given up after $((SECONDS - T1)) s"
    stop stalled

    check_paused

    check_owner_exits wl-copy

    # resuming replays the guest's grab offered before the pause: a desktop
    # copy made while paused is newer and keeps the selection
    printf 'guest, before the pause' >"$D/prepause"
    g2d clipboard "$D/prepause" >/dev/null 3>&1 || bad "replay: the guest's copy"
    qmp '{"execute":"stop"}' >/dev/null || bad "stop"
    printf 'desktop, while paused' >"$D/inpause"
    n=$(count "grab clipboard from the desktop")
    d_copy clipboard "$D/inpause"
    wait_for 5 count_gt "grab clipboard from the desktop" "$n" || bad "replay: the host saw no desktop copy"
    n=$(count "offer clipboard on the desktop")
    qmp '{"execute":"cont"}' >/dev/null || bad "cont"
    sleep 0.5
    [ "$(count "offer clipboard on the desktop")" = "$n" ] ||
        bad "replay: the resumed host took the clipboard back from the desktop's newer copy"
    wait_for 5 g_sees_host clipboard && wait_for 5 g_paste_is clipboard text "$D/inpause" ||
        bad "replay: the guest pasted '$(cat "$D/g.got" 2>/dev/null)', not the desktop's copy"

    check_quit
}

for g in cli sim real two windows max wayland-cli wayland wayland-real wayland-two; do
    case " $ONLY " in *" $g "*) ;; *) continue;; esac
    CURRENT=$g REASONS='' T0=$SECONDS
    case $g in
    wayland-cli) g_wayland_cli ;;
    wayland-real) DESKTOP=wayland g_real ;;
    wayland-two) DESKTOP=wayland g_two ;;
    *) "g_$g" ;;
    esac
    DESKTOP=x11
    stop_all
    if [ -z "$REASONS" ]; then
        echo "ok - $g ($((SECONDS - T0)) s)"
        PASSED=$((PASSED + 1))
    else
        echo "not ok - $g: $REASONS"
        FAILED=$((FAILED + 1))
        for f in "$D"/host*.log "$D"/daemon.log; do
            [ -f "$f" ] && { echo "# --- tail of $f"; tail -15 "$f" | sed 's/^/#   /'; }
        done
    fi
    CURRENT=
done
echo "# desktop-clipboard: $PASSED passed, $FAILED failed in $((SECONDS - START)) s"
[ "$FAILED" = 0 ]
