#!/usr/bin/env bash
# make demo: vdagent-host against the built-in guest agent (sim-agent), with
# a readable transcript: caps, clipboard both ways, pointer, and a live
# migration over unix: in the middle of a large guest-to-host clipboard
# transfer, then clipboard and pointer through the destination; then, when
# Xvfb and xclip are there, the host desktop's clipboard both ways
# (--desktop-clipboard on, a private Xvfb as the desktop).  Exits
# non-zero with a clear verdict when anything does not hold.
set -u
B=${1:-build}
B=$(cd "$B" && pwd)
HOST=$B/vdagent-host SIM=$B/sim-agent CTL=$B/vdctl
W=$(mktemp -d /tmp/vdagent-demo.XXXXXX)
PIDS=()
FAILED=0

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "$FAILED" != 0 ]; then
        echo "--- logs kept in $W"
        for f in "$W"/*.log; do echo "--- $f"; tail -20 "$f"; done
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
step() { printf '   %s\n' "$*"; }
fail() { printf '   FAILED: %s\n' "$*"; FAILED=1; exit 1; }
qmp() { "$CTL" qmp "unix:$1" "$2"; }
ctl() { "$CTL" line "unix:$W/guest.ctl" "$1"; }
json() { # json FILE-CONTENT KEY: crude extraction of a string or number
    sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[0-9-]*\).*/\1/p" <<<"$1" | tr -d '"'
}
wait_for() { # wait_for SECONDS CMD...
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.05
    done
}

say "Start the source vdagent-host and the built-in guest agent"
"$HOST" --guest "unix:$W/chan" --qmp "unix:$W/src.qmp" --verbose 2>"$W/src.log" &
PIDS+=($!)
wait_for 5 test -S "$W/src.qmp" || fail "source did not start"
"$SIM" --connect "unix:$W/chan" --control "unix:$W/guest.ctl" --name guest \
    >"$W/guest.log" 2>&1 &
PIDS+=($!)
wait_for 5 test -S "$W/guest.ctl" || fail "guest agent did not start"
wait_for 5 ctl wait-caps || fail "no caps from the host"
step "source pid ${PIDS[0]}, guest agent pid ${PIDS[1]}, work dir $W"

say "Capabilities negotiated"
r=$(qmp "$W/src.qmp" '{"execute":"query-vdagent"}') || fail "query-vdagent: $r"
caps=$(sed -n 's/.*"guest-caps":\[\([^]]*\)\].*/\1/p' <<<"$r" | tr -d '"' | tr ',' ' ')
step "guest agent caps: $caps"
grep -q clipboard-grab-serial <<<"$caps" || fail "guest caps missing"
step "mouse active: $(sed -n 's/.*"mouse-active":\([a-z]*\).*/\1/p' <<<"$r")"

say "Text copied host -> guest"
qmp "$W/src.qmp" '{"execute":"clipboard-set","arguments":{"selection":"clipboard","data":"Hello from the host"}}' >/dev/null \
    || fail "clipboard-set"
r=$(ctl "paste clipboard") || fail "guest paste: $r"
text=$(base64 -d <<<"${r##* }")
step "the guest pasted: \"$text\""
[ "$text" = "Hello from the host" ] || fail "guest got '$text'"

say "Text copied guest -> host"
ctl "copy clipboard Hello from the guest" >/dev/null || fail "guest copy"
wait_for 5 sh -c "'$CTL' qmp unix:$W/src.qmp '{\"execute\":\"clipboard-query\"}' | grep -q guest" \
    || fail "host never saw the guest's grab"
r=$(qmp "$W/src.qmp" '{"execute":"clipboard-get","arguments":{"selection":"clipboard"}}') \
    || fail "clipboard-get: $r"
text=$(json "$r" data)
step "the host read: \"$text\""
[ "$text" = "Hello from the guest" ] || fail "host got '$text'"

say "Pointer moves and clicks (head 1024x768)"
qmp "$W/src.qmp" '{"execute":"input-send-event","arguments":{"events":[
  {"type":"abs","data":{"axis":"x","value":16384}},
  {"type":"abs","data":{"axis":"y","value":8192}},
  {"type":"btn","data":{"down":true,"button":"left"}}]}}' >/dev/null || fail "input"
wait_for 5 sh -c "'$CTL' line unix:$W/guest.ctl pointer | grep -q 'ok 511 191 2 0'" \
    || fail "pointer: $(ctl pointer)"
step "abs (16384, 8192) + left down -> guest pointer at 511,191 with the left button"
qmp "$W/src.qmp" '{"execute":"input-send-event","arguments":{"events":[
  {"type":"abs","data":{"axis":"x","value":32767}},
  {"type":"abs","data":{"axis":"y","value":32767}},
  {"type":"btn","data":{"down":false,"button":"left"}}]}}' >/dev/null || fail "input"
wait_for 5 sh -c "'$CTL' line unix:$W/guest.ctl pointer | grep -q 'ok 1023 767 0 0'" \
    || fail "pointer: $(ctl pointer)"
step "abs (32767, 32767) + left up -> guest pointer at 1023,767 (the last pixel)"

say "Live migration over unix: in the middle of a large guest -> host transfer"
"$HOST" --incoming "unix:$W/mig" --qmp "unix:$W/dst.qmp" --verbose 2>"$W/dst.log" &
PIDS+=($!)
wait_for 5 test -S "$W/mig" || fail "destination did not start"
step "destination pid ${PIDS[2]} waiting on unix:$W/mig"
SIZE=$((16 * 1024 * 1024))
ctl "throttle 64" >/dev/null || fail "throttle"
ctl "copy-bytes clipboard $SIZE" >/dev/null || fail "guest copy-bytes"
sum=$(ctl "checksum clipboard") || fail "checksum"
step "the guest copied $SIZE bytes (checksum ${sum#ok })"
wait_for 5 sh -c "'$CTL' qmp unix:$W/src.qmp '{\"execute\":\"clipboard-query\"}' | grep -q guest" \
    || fail "host never saw the big grab"
# The source asks the guest for the data; the guest streams it slowly.
( "$CTL" qmp "unix:$W/src.qmp" '{"execute":"clipboard-get"}' >"$W/src-get.out" 2>&1 ) &
wait_for 10 sh -c "'$CTL' qmp unix:$W/src.qmp '{\"execute\":\"query-vdagent\"}' | grep -q '\"bytes-in\":[0-9]\{7,\}'" \
    || fail "the transfer did not start"
r=$(qmp "$W/src.qmp" '{"execute":"query-vdagent"}')
step "source has received $(json "$r" bytes-in) bytes: migrating now"
qmp "$W/src.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:$W/mig\"}}" >/dev/null \
    || fail "migrate"
wait_for 20 sh -c "'$CTL' qmp unix:$W/src.qmp '{\"execute\":\"query-migrate\"}' | grep -q '\"completed\\|\"failed'" \
    || fail "migration did not finish"
r=$(qmp "$W/src.qmp" '{"execute":"query-migrate"}')
[ "$(json "$r" status)" = completed ] || fail "source: $r"
r=$(qmp "$W/dst.qmp" '{"execute":"query-migrate"}')
step "migration completed; guest channel handed over (downtime $(json "$r" downtime-us) us)"
r=$(qmp "$W/src.qmp" '{"execute":"query-status"}')
step "source status: $(json "$r" status)"
ctl "throttle 0" >/dev/null

say "The transfer completes on the destination"
VDCTL_TIMEOUT=30 r=$(VDCTL_TIMEOUT=30 "$CTL" qmp "unix:$W/dst.qmp" '{"execute":"clipboard-get"}') \
    || fail "clipboard-get on the destination: ${r:0:200}"
got=$(json "$r" data | head -c 16)
len=$(printf '%s' "$(json "$r" data)" | wc -c)
step "destination read $len bytes from the guest's clipboard (starts \"$got\")"
[ "$len" = "$SIZE" ] || fail "expected $SIZE bytes, got $len"
r=$(ctl stats)
step "guest agent: ${r#ok }"
grep -q "reconnects=0" <<<"$r" || fail "the guest agent saw a reconnect"
grep -q "errors=0" <<<"$r" || fail "the guest agent saw protocol errors"

say "Clipboard and pointer through the destination"
qmp "$W/dst.qmp" '{"execute":"clipboard-set","arguments":{"data":"Hello after migration"}}' >/dev/null \
    || fail "clipboard-set on the destination"
r=$(ctl "paste clipboard") || fail "paste"
text=$(base64 -d <<<"${r##* }")
step "the guest pasted: \"$text\""
[ "$text" = "Hello after migration" ] || fail "guest got '$text'"
ctl "copy primary Guest primary after migration" >/dev/null || fail "copy primary"
wait_for 5 sh -c "'$CTL' qmp unix:$W/dst.qmp '{\"execute\":\"clipboard-query\",\"arguments\":{\"selection\":\"primary\"}}' | grep -q guest" \
    || fail "destination never saw the guest's primary grab"
r=$(qmp "$W/dst.qmp" '{"execute":"clipboard-get","arguments":{"selection":"primary"}}') \
    || fail "clipboard-get primary"
step "the destination read primary: \"$(json "$r" data)\""
[ "$(json "$r" data)" = "Guest primary after migration" ] || fail "primary: $r"
qmp "$W/dst.qmp" '{"execute":"input-send-event","arguments":{"events":[
  {"type":"abs","data":{"axis":"x","value":0}},
  {"type":"abs","data":{"axis":"y","value":32767}},
  {"type":"btn","data":{"down":true,"button":"right"}}]}}' >/dev/null || fail "input"
wait_for 5 sh -c "'$CTL' line unix:$W/guest.ctl pointer | grep -q 'ok 0 767 8 0'" \
    || fail "pointer: $(ctl pointer)"
step "abs (0, 32767) + right down through the destination -> guest at 0,767, right button"
r=$(ctl stats)
grep -q "reconnects=0" <<<"$r" && grep -q "errors=0" <<<"$r" || fail "guest: $r"

say "The host desktop's clipboard (--desktop-clipboard on)"
DESKTOP=""
if command -v Xvfb >/dev/null 2>&1 && command -v xclip >/dev/null 2>&1; then
    # A private Xvfb as the desktop: the user's own clipboard is left alone.
    Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3>"$W/xvfb.display" \
        </dev/null >"$W/xvfb.log" 2>&1 &
    PIDS+=($!)
    wait_for 10 grep -q '^[0-9][0-9]*$' "$W/xvfb.display" || fail "Xvfb did not start"
    XD=:$(head -1 "$W/xvfb.display")
    DISPLAY=$XD "$HOST" --guest "unix:$W/dchan" --qmp "unix:$W/desk.qmp" \
        --desktop-clipboard on --verbose 2>"$W/desk.log" &
    PIDS+=($!)
    wait_for 5 test -S "$W/desk.qmp" || fail "the desktop host did not start"
    "$SIM" --connect "unix:$W/dchan" --control "unix:$W/dguest.ctl" --name dguest \
        >"$W/dguest.log" 2>&1 &
    PIDS+=($!)
    wait_for 5 test -S "$W/dguest.ctl" || fail "the second guest agent did not start"
    dctl() { "$CTL" line "unix:$W/dguest.ctl" "$1"; }
    wait_for 5 dctl wait-caps || fail "no caps from the desktop host"
    step "a vdagent-host with --desktop-clipboard on, its desktop an Xvfb on $XD"
    printf 'Copied on the host desktop' >"$W/desk.txt"
    DISPLAY=$XD xclip -i -quiet -selection clipboard "$W/desk.txt" >/dev/null 2>&1 &
    PIDS+=($!)
    wait_for 5 sh -c "'$CTL' line unix:$W/dguest.ctl 'owner clipboard' | grep -q '^ok host'" \
        || fail "the guest never saw the desktop's copy"
    r=$(dctl "paste clipboard") || fail "guest paste: $r"
    text=$(base64 -d <<<"${r##* }")
    step "a desktop application (xclip) copied; the guest pasted: \"$text\""
    [ "$text" = "Copied on the host desktop" ] || fail "guest got '$text'"
    dctl "copy clipboard Copied in the guest" >/dev/null || fail "guest copy"
    wait_for 5 sh -c "DISPLAY=$XD timeout 5 xclip -o -selection clipboard | grep -qx 'Copied in the guest'" \
        || fail "the desktop pasted '$(DISPLAY=$XD timeout 5 xclip -o -selection clipboard)'"
    step "the guest copied; a desktop application pasted: \"Copied in the guest\""
    DESKTOP=", the host desktop's clipboard both ways"
else
    step "skipped: needs Xvfb and xclip (make deps installs them)"
fi

say "VERDICT: PASS: caps, clipboard both ways, pointer, and a live migration the guest never noticed$DESKTOP"
