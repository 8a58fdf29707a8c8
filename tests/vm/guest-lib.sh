# /guest-lib.sh: the check-vm guest's helpers (bash), sourced by
# /guest-init and exported to every command the host sends on the command
# port.  Logs and scratch files live in /run/vm (tmpfs; the root is
# read-only).
export DISPLAY=:0 NO_AT_BRIDGE=1
export DBUS_SESSION_BUS_ADDRESS=unix:path=/run/vm/dbus.sock
export VM_CHAN=/dev/virtio-ports/com.redhat.spice.0
export VM_CMD=/dev/virtio-ports/org.test.cmd

# A sleep without a fork (TCG makes every fork expensive).
nap() { [ -p /run/vm/nap ] || mkfifo /run/vm/nap; read -r -t "$1" _ <>/run/vm/nap; true; }

# No udev: link the ports by name, as udev's rule would.
vm_link_ports() {
    local i f n
    mkdir -p /dev/virtio-ports
    for ((i = 0; i < 200; i++)); do
        for f in /sys/class/virtio-ports/*/name; do
            [ -r "$f" ] || continue
            n=$(<"$f")
            [ -n "$n" ] && ln -sf "/dev/$(basename "$(dirname "$f")")" "/dev/virtio-ports/$n"
        done
        [ -e "$VM_CHAN" ] && [ -e "$VM_CMD" ] && return 0
        nap 0.1
    done
    return 1
}

vm_x_start() {
    local i
    Xvfb :0 -screen 0 1024x768x24 -nolisten tcp </dev/null >>/run/vm/xvfb.log 2>&1 &
    for ((i = 0; i < 300; i++)); do [ -S /tmp/.X11-unix/X0 ] && break; nap 0.1; done
    dbus-daemon --session --nofork --nopidfile --address="$DBUS_SESSION_BUS_ADDRESS" \
        </dev/null >>/run/vm/dbus.log 2>&1 &
    for ((i = 0; i < 100; i++)); do [ -S /run/vm/dbus.sock ] && break; nap 0.1; done
}

# The real agent: the system daemon on the virtio port, the session agent
# on the X display.  PIDs in /run/vm/{daemon,agent}.pid.
vm_daemon_start() {
    local i
    G_MESSAGES_DEBUG=all setsid spice-vdagentd -x -X -d -d -u /dev/uinput -s "$VM_CHAN" \
        -S /run/vm/agent.sock </dev/null >>/run/vm/daemon.log 2>&1 3>&- &
    echo $! >/run/vm/daemon.pid
    for ((i = 0; i < 100; i++)); do [ -S /run/vm/agent.sock ] && break; nap 0.1; done
    [ -S /run/vm/agent.sock ]
}
vm_session_start() {
    G_MESSAGES_DEBUG=all setsid spice-vdagent -x -d -s "$VM_CHAN" -S /run/vm/agent.sock \
        </dev/null >>/run/vm/agent.log 2>&1 3>&- &
    echo $! >/run/vm/agent.pid
}
vm_agent_start() { vm_daemon_start && vm_session_start; }
vm_stop() { # daemon|agent: TERM, wait up to 5 s, then KILL
    local p i
    p=$(cat "/run/vm/$1.pid" 2>/dev/null) || return 0
    kill "$p" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; nap 0.1; done
    kill -KILL "$p" 2>/dev/null
    rm -f "/run/vm/$1.pid" /run/vm/agent.sock.dummy
}
vm_pids() { echo "daemon=$(pidof spice-vdagentd) agent=$(pidof spice-vdagent)"; }
# how often the daemon logged each connection mark
vm_marks() {
    local k
    for k in 'New client connected' 'opening vdagent virtio channel' \
             'closed vdagent virtio channel' 'reconnect'; do
        printf '%s;' "$(grep -c -i -- "$k" /run/vm/daemon.log)"
    done
    echo
}

# X selections.  SEL: clipboard|primary; TARGET: UTF8_STRING, image/png...
paste() { # SEL [TARGET]
    timeout 10 xclip -o -selection "$1" ${2:+-t "$2"} 2>>/run/vm/xclip.log
}
# Paste until the bytes have sha256 SUM (the agent needs up to about a
# second to own a selection after a host grab under TCG); prints the tries.
paste_wait() { # SEL TARGET SUM SECS
    local end=$((SECONDS + $4)) n=0 got=
    while :; do
        n=$((n + 1))
        got=$(paste "$1" "$2" | sha256sum | cut -c1-64)
        [ "$got" = "$3" ] && { echo "tries=$n"; return 0; }
        [ $SECONDS -ge $end ] && break
        nap 0.2
    done
    echo "after $n pastes: $(paste "$1" "$2" | wc -c) bytes, sha256 $got"
    return 1
}
# An X client owns SEL with FILE's bytes (it exits when it loses SEL).
copy() { # SEL TARGET FILE
    setsid xclip -i -quiet -selection "$1" -t "$2" "$3" </dev/null >/dev/null 2>&1 3>&- &
}
# N random printable bytes in FILE; prints their sha256
gen() { # FILE N
    head -c "$2" /dev/urandom | base64 -w0 | tr -d "/+=" | head -c "$2" >"$1"
    sha256sum <"$1" | cut -c1-64
}

# The agent's uinput device, read as input_event records (24 bytes on
# x86_64: time 16, type u16, code u16, value s32) into /run/vm/ev.bin.
ev_start() {
    local d
    [ -f /run/vm/ev.pid ] && kill "$(cat /run/vm/ev.pid)" 2>/dev/null
    for d in /sys/class/input/event*; do
        grep -qi 'spice\|vdagent' "$d/device/name" 2>/dev/null || continue
        setsid cat "/dev/input/${d##*/}" </dev/null >>/run/vm/ev.bin 2>/dev/null 3>&- &
        echo $! >/run/vm/ev.pid
        echo "${d##*/}: $(cat "$d/device/name")"
        return 0
    done
    echo "no uinput device of the agent: $(cat /sys/class/input/*/name 2>/dev/null | tr '\n' ,)"
    return 1
}
ev_count() { echo $(($(stat -c %s /run/vm/ev.bin 2>/dev/null || echo 0) / 24)); }
ev_since() { # FROM-RECORD: "type code value" lines (EV_SYN left out)
    od -An -v -tu2 -w24 /run/vm/ev.bin 2>/dev/null |
        awk -v from="$1" 'NR > from && NF == 12 && $9 != 0 {
            v = $11 + $12 * 65536; if (v >= 2147483648) v -= 4294967296;
            print $9, $10, v }'
}

# The command port: lines "ID BASE64-COMMAND"; each command runs in bash
# (these helpers exported, a 100 s limit) and is answered by one line
# "ok ID STATUS BASE64-STDOUT BASE64-STDERR" ("-" for nothing).
vm_serve() {
    local line id cmd rc out err
    export -f $(compgen -A function)
    mkfifo /run/vm/nap 2>/dev/null
    while :; do
        if ! [ -e "$VM_CMD" ] || ! exec 3<>"$VM_CMD"; then
            nap 1
            continue
        fi
        while :; do
            # EOF while the host side is not connected: look again shortly
            if ! IFS= read -r -u 3 line; then
                nap 0.05
                continue
            fi
            id=${line%% *}
            cmd=$(base64 -d <<<"${line#* }" 2>/dev/null)
            timeout -s KILL 100 bash -c "$cmd" </dev/null >/run/vm/out 2>/run/vm/err 3>&-
            rc=$?
            out=$(base64 -w0 </run/vm/out)
            err=$(head -c 2000 /run/vm/err | base64 -w0)
            printf 'ok %s %s %s %s\n' "$id" "$rc" "${out:--}" "${err:--}" >&3
        done
    done
}

# The gap the agent sees across a switchover: paste SEL every ~50 ms into
# /run/vm/loop.log ("EPOCHREALTIME ok|bad", the guest's clock) until
# loop_stats stops it and sums it up.
paste_loop() { # SEL TARGET SUM
    rm -f /run/vm/loop.stop /run/vm/loop.log
    (
        while [ ! -e /run/vm/loop.stop ]; do
            s=$(paste "$1" "$2" | sha256sum | cut -c1-64)
            if [ "$s" = "$3" ]; then r=ok; else r=bad; fi
            echo "$EPOCHREALTIME $r" >>/run/vm/loop.log
            nap 0.05
        done
    ) </dev/null >/dev/null 2>&1 3>&- &
}
loop_stats() { # prints "pastes=N bad=N max-gap-ms=N median-gap-ms=N"
    touch /run/vm/loop.stop
    nap 0.5
    awk '{ if ($2 != "ok") bad++; else { if (n) g[n - 1] = ($1 - last) * 1000; last = $1; n++ } }
         END { m = 0; for (i = 0; i < n - 1; i++) { if (g[i] > m) m = g[i]; s[i] = g[i] }
               k = n - 1; for (i = 0; i < k; i++) for (j = i + 1; j < k; j++)
                   if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
               printf "pastes=%d bad=%d max-gap-ms=%d median-gap-ms=%d\n",
                      n + bad, bad, m, (k > 0 ? s[int(k / 2)] : 0) }' /run/vm/loop.log
}
