#!/bin/sh
# check_sim_agent.sh - smoke test of the sim-agent program (tests/tools/sim-agent.c)
#
#   tests/check_sim_agent.sh [PATH/TO/sim-agent]     (default: $SIM_AGENT,
#                                                     then build/sim-agent)
#
# A throwaway VDAgent host written in Python (its own encoder and decoder,
# nothing from vdagent/) drives sim-agent over --fd, --pty and --connect,
# and its control socket: caps handshake, copy/paste both ways with grab
# serials, no-cache requests, stale grabs, MOUSE_STATE, MONITORS_CONFIG and
# its REPLY, a multi-MiB reply written while the control socket stays
# responsive, MAX_CLIPBOARD, a bad chunk, caps request=1 as a new client,
# paste timeout, reconnect (no caps, RELEASE, decoder reset), quit, usage
# errors.  Takes about 7 s (one paste waits for its 5 s timeout); bounded
# by `timeout`; every child is killed by PID.  Exit 0 on success, 1 on a
# failure, 77 when python3 is missing (skip).
set -u

here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-${SIM_AGENT:-$here/../build/sim-agent}}

if ! command -v python3 >/dev/null 2>&1; then
    echo "check_sim_agent: python3 not found, skipping"
    exit 77
fi
if [ ! -x "$sim" ]; then
    echo "check_sim_agent: $sim is not an executable (build it first)"
    exit 1
fi

bound=
if command -v timeout >/dev/null 2>&1; then
    bound="timeout -k 5 120"
fi

exec $bound python3 - "$sim" <<'PY'
import base64, ctypes, os, pty, select, signal, socket, struct, subprocess
import sys, tempfile, time, tty

SIM = sys.argv[1]

MOUSE_STATE, MONITORS_CONFIG, REPLY, CLIPBOARD = 1, 2, 3, 4
CAPS, GRAB, REQUEST, RELEASE = 6, 7, 8, 9
CLIENT_DISCONNECTED, MAX_CLIPBOARD = 13, 14
TEXT, PNG, NONE = 1, 2, 0
# mouse-state monitors-config reply by-demand selection max-clipboard
# no-release-on-regrab grab-serial
HOST_CAPS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6) | \
            (1 << 10) | (1 << 16) | (1 << 17)

failures = 0
checks = 0
children = []


def on_term(signum, frame):
    raise SystemExit("check_sim_agent: terminated")


signal.signal(signal.SIGTERM, on_term)


def die_with_parent():
    # children get SIGTERM if this script dies (Linux; best effort)
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except Exception:
        pass


def spawn(args, **kw):
    p = subprocess.Popen([SIM] + args, preexec_fn=die_with_parent, **kw)
    children.append(p)
    return p


def reap():
    for p in children:
        if p.poll() is None:
            p.kill()
            p.wait()


def check(cond, what):
    global failures, checks
    checks += 1
    if cond:
        print("  ok   " + what)
    else:
        failures += 1
        print("  FAIL " + what)


def msg(mtype, data=b"", max_chunk=2048):
    body = struct.pack("<IIQI", 1, mtype, 0, len(data)) + data
    out = []
    for i in range(0, len(body), max_chunk):
        part = body[i:i + max_chunk]
        out.append(struct.pack("<II", 1, len(part)))
        out.append(part)
    return b"".join(out)


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xffffffffffffffff
    return "%016x" % h


class Chan:
    def __init__(self, sock):
        self.s = sock
        self.buf = bytearray()
        self.chunks = []          # chunk sizes seen

    def send(self, data):
        self.s.sendall(data)

    def _fill(self, deadline):
        t = deadline - time.time()
        if t <= 0:
            return False
        r, _, _ = select.select([self.s], [], [], t)
        if not r:
            return False
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError
        self.buf += d
        return True

    def recv_msg(self, timeout=3.0):
        """One message (type, data); None on timeout."""
        deadline = time.time() + timeout
        while True:
            if len(self.buf) >= 8:
                port, size = struct.unpack_from("<II", self.buf)
                if len(self.buf) >= 8 + size:
                    payload = bytes(self.buf[8:8 + size])
                    del self.buf[:8 + size]
                    self.chunks.append(size)
                    assert port == 1, port
                    proto, mtype, _op, msize = struct.unpack_from("<IIQI", payload)
                    assert proto == 1 and msize == size - 20, (proto, msize, size)
                    return mtype, payload[20:]
            if not self._fill(deadline):
                return None

    def expect(self, mtype, timeout=3.0):
        m = self.recv_msg(timeout)
        if m is None or m[0] != mtype:
            return None
        return m[1]

    def quiet(self, timeout=0.3):
        return self.recv_msg(timeout) is None


class Ctl:
    def __init__(self, path):
        deadline = time.time() + 5
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.02)
        self.buf = bytearray()

    def send(self, line):
        self.s.sendall(line.encode() + b"\n")

    def reply(self, timeout=8.0):
        deadline = time.time() + timeout
        scanned = 0
        while b"\n" not in self.buf[scanned:]:
            scanned = len(self.buf)
            t = deadline - time.time()
            r, _, _ = select.select([self.s], [], [], max(t, 0))
            if not r:
                return None
            d = self.s.recv(1 << 20)
            if not d:
                return None
            self.buf += d
        i = self.buf.index(b"\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 1]
        return line.decode()

    def cmd(self, line, timeout=8.0):
        self.send(line)
        return self.reply(timeout)


def caps_msg(request, word=HOST_CAPS):
    return msg(CAPS, struct.pack("<II", request, word))


def sel_req(sel, t):
    return struct.pack("<BxxxI", sel, t)


def test_connect(tmp):
    print("== --connect")
    chan_path = os.path.join(tmp, "chan.sock")
    ctl_path = os.path.join(tmp, "ctl.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(chan_path)
    ls.listen(4)
    log = open(os.path.join(tmp, "connect.log"), "w")
    p = spawn(["--connect", "unix:" + chan_path, "--control",
           "unix:" + ctl_path, "--name", "g"], stdout=log)
    try:
        ls.settimeout(5)
        conn, _ = ls.accept()
        ch = Chan(conn)
        ctl = Ctl(ctl_path)
        d = ch.expect(CAPS)
        check(d == struct.pack("<II", 1, 0x00038de7), "guest announces caps request=1 0x00038de7")
        check(ctl.cmd("stats").startswith("ok caps=0x00000000"), "no host caps yet")
        # a waiter before caps
        ctl2 = Ctl(ctl_path)
        ctl2.send("wait-caps")
        time.sleep(0.1)
        ch.send(caps_msg(1))
        d = ch.expect(CAPS)
        check(d == struct.pack("<II", 0, 0x00038de7), "caps reply request=0")
        check(ctl2.reply(3) == "ok", "wait-caps answered after caps")
        check(ctl.cmd("wait-caps") == "ok", "wait-caps immediate")
        st = ctl.cmd("stats")
        check(("caps=0x%08x" % HOST_CAPS) in st, "stats shows host caps: " + st)

        # guest copy -> GRAB serial 0, host request -> data
        check(ctl.cmd("copy clipboard hello world") == "ok", "copy")
        d = ch.expect(GRAB)
        check(d == struct.pack("<BxxxII", 0, 0, TEXT), "GRAB sel 0 serial 0 [text]")
        ch.send(msg(REQUEST, sel_req(0, TEXT)))
        d = ch.expect(CLIPBOARD)
        check(d == struct.pack("<BxxxI", 0, TEXT) + b"hello world", "CLIPBOARD hello world")
        ch.send(msg(REQUEST, sel_req(0, PNG)))
        d = ch.expect(CLIPBOARD)
        check(d == struct.pack("<BxxxI", 0, NONE), "request png -> NONE")
        ch.send(msg(REQUEST, sel_req(1, TEXT)))
        d = ch.expect(CLIPBOARD)
        check(d == struct.pack("<BxxxI", 1, NONE), "request primary (not owned) -> NONE")
        check(ctl.cmd("owner clipboard") == "ok guest text", "owner guest")

        # host grab serial 1 (guest counter is 1 after its grab) -> owned by host
        ch.send(msg(GRAB, struct.pack("<BxxxIII", 0, 1, TEXT, PNG)))
        time.sleep(0.1)
        check(ctl.cmd("owner clipboard") == "ok host text png", "owner host text png")
        check(ctl.cmd("checksum clipboard") == "ok 0 cbf29ce484222325", "no data after host grab")
        ctl.send("paste clipboard")
        d = ch.expect(REQUEST)
        check(d == sel_req(0, TEXT), "paste -> REQUEST text")
        # split the answer byte by byte
        for b in msg(CLIPBOARD, struct.pack("<BxxxI", 0, TEXT) + b"world"):
            ch.send(bytes([b]))
        r = ctl.reply()
        check(r == "ok 5 " + base64.b64encode(b"world").decode(), "paste reply: %r" % r)
        check(ctl.cmd("checksum clipboard") == "ok 5 " + fnv(b"world"), "checksum of pasted data")
        # no cache: a second paste asks again
        ctl.send("paste clipboard")
        check(ch.expect(REQUEST) == sel_req(0, TEXT), "second paste -> new REQUEST")
        ch.send(msg(CLIPBOARD, struct.pack("<BxxxI", 0, NONE)))
        r = ctl.reply()
        check(r is not None and r.startswith("error no data"), "NONE answer: %r" % r)
        check(ctl.cmd("paste primary").startswith("error not owned by host"), "paste not owned")
        check(ctl.cmd("paste clipboard bmp").startswith("error host did not offer"), "paste unoffered type")

        # stale host grab (serial 7, S is 2) ignored
        ch.send(msg(GRAB, struct.pack("<BxxxII", 0, 7, PNG)))
        time.sleep(0.1)
        st = ctl.cmd("stats")
        check("ignored=1" in st, "stale grab ignored: " + st)
        check(ctl.cmd("owner clipboard") == "ok host text png", "owner unchanged")
        # host grab with S-1 (tie, host wins) accepted
        ch.send(msg(GRAB, struct.pack("<BxxxII", 0, 1, TEXT)))
        time.sleep(0.1)
        check(ctl.cmd("owner clipboard") == "ok host text", "tie grab accepted")
        ch.send(msg(RELEASE, struct.pack("<Bxxx", 0)))
        time.sleep(0.1)
        check(ctl.cmd("owner clipboard") == "ok none", "host release")

        # mouse and monitors
        ch.send(msg(MOUSE_STATE, struct.pack("<IIIB", 100, 200, 2, 0)))
        time.sleep(0.1)
        check(ctl.cmd("pointer") == "ok 100 200 2 0", "pointer")
        mon = struct.pack("<II", 2, 0) + struct.pack("<IIIii", 768, 1024, 32, 0, 0) + \
            struct.pack("<IIIii", 600, 800, 32, 1024, -10)
        ch.send(msg(MONITORS_CONFIG, mon))
        check(ch.expect(REPLY) == struct.pack("<II", MONITORS_CONFIG, 1), "REPLY monitors success")
        check(ctl.cmd("monitors") == "ok 2 1024x768+0+0 800x600+1024-10", "monitors")
        ch.send(msg(MONITORS_CONFIG, mon[:-4]))     # wrong size: dropped, no reply
        check(ch.quiet(), "bad MONITORS_CONFIG not answered")

        # big transfer: the host does not read while the guest writes 8 MiB
        n = 4 * 1024 * 1024
        check(ctl.cmd("copy-bytes clipboard %d png" % n) == "ok", "copy-bytes 4 MiB png")
        d = ch.expect(GRAB)
        check(d == struct.pack("<BxxxII", 0, 2, PNG), "GRAB serial 2 [png]")
        ch.send(msg(REQUEST, sel_req(0, PNG)))
        time.sleep(0.3)
        t0 = time.time()
        st = ctl.cmd("stats", timeout=2)
        check(st is not None and st.startswith("ok") and time.time() - t0 < 1,
              "control answers while the reply waits (%s)" % (st or "").split(" out-bytes")[-1])
        nchunks = len(ch.chunks)
        d = ch.expect(CLIPBOARD, timeout=10)
        want = bytes(((i * 7 + 3) & 0xff) for i in range(256)) * (n // 256)
        check(d is not None and d[8:] == want and d[:8] == struct.pack("<BxxxI", 0, PNG),
              "4 MiB png data intact")
        check(ch.chunks[nchunks:] == [n + 28], "one chunk of %d bytes" % (n + 28))
        check(ctl.cmd("checksum clipboard") == "ok %d %s" % (n, fnv(want)), "checksum of copy-bytes")
        # text pattern
        check(ctl.cmd("copy-bytes clipboard 30") == "ok", "copy-bytes text")
        ch.expect(GRAB)
        ch.send(msg(REQUEST, sel_req(0, TEXT)))
        d = ch.expect(CLIPBOARD)
        check(d[8:] == bytes(ord('a') + (i * 7 + 3) % 26 for i in range(30)), "text pattern")

        # MAX_CLIPBOARD
        ch.send(msg(MAX_CLIPBOARD, struct.pack("<i", 10)))
        ch.send(msg(REQUEST, sel_req(0, TEXT)))
        d = ch.expect(CLIPBOARD)
        check(d == struct.pack("<BxxxI", 0, TEXT), "MAX_CLIPBOARD 10: type, no data")
        ch.send(msg(MAX_CLIPBOARD, struct.pack("<i", -1)))

        # protocol error: a chunk on port 2 is counted, the stream goes on
        ch.send(struct.pack("<II", 2, 4) + b"abcd")
        ch.send(msg(MOUSE_STATE, struct.pack("<IIIB", 5, 6, 0, 1)))
        time.sleep(0.1)
        check(ctl.cmd("pointer") == "ok 5 6 0 1", "stream in sync after a bad chunk")
        check("errors=1" in ctl.cmd("stats"), "error counted")

        # release
        check(ctl.cmd("release clipboard") == "ok", "release")
        check(ch.expect(RELEASE) == struct.pack("<Bxxx", 0), "RELEASE sel 0")
        check(ctl.cmd("release clipboard").startswith("error"), "release when not owned")

        # caps request=1 again: new client -> reply, serials reset, RELEASE
        check(ctl.cmd("copy primary p") == "ok", "copy primary")
        check(ch.expect(GRAB) == struct.pack("<BxxxII", 1, 0, TEXT), "GRAB primary serial 0")
        ch.send(msg(GRAB, struct.pack("<BxxxII", 2, 0, TEXT)))   # host owns secondary
        ch.send(caps_msg(1))
        check(ch.expect(CAPS) == struct.pack("<II", 0, 0x00038de7), "caps reply again")
        check(ch.expect(RELEASE) == struct.pack("<Bxxx", 1), "RELEASE primary for the new client")
        check(ch.quiet(), "nothing else")
        check(ctl.cmd("owner secondary") == "ok none", "host secondary dropped")
        check(ctl.cmd("copy clipboard x") == "ok", "copy after reset")
        check(ch.expect(GRAB) == struct.pack("<BxxxII", 0, 0, TEXT), "serial restarted at 0")

        # paste timeout, then a late answer still matches the abandoned request
        ch.send(msg(GRAB, struct.pack("<BxxxII", 1, 0, TEXT)))
        time.sleep(0.1)
        t0 = time.time()
        r = ctl.cmd("paste primary", timeout=8)
        check(r == "error timeout" and 4.5 < time.time() - t0 < 6.5, "paste timeout after 5 s")
        ch.expect(REQUEST)
        ch.send(msg(CLIPBOARD, struct.pack("<BxxxI", 1, TEXT) + b"late"))
        time.sleep(0.1)
        check("unsolicited=0" in ctl.cmd("stats"), "late answer matched the abandoned request")
        ch.send(msg(CLIPBOARD, struct.pack("<BxxxI", 1, TEXT) + b"late"))
        time.sleep(0.1)
        check("unsolicited=1" in ctl.cmd("stats"), "unsolicited data counted")

        # reconnect: drop the connection, the guest comes back within ~100 ms,
        # sends no caps, releases its clipboard
        conn.close()
        t0 = time.time()
        conn, _ = ls.accept()
        ch = Chan(conn)
        check(time.time() - t0 < 1, "reconnected in %.0f ms" % ((time.time() - t0) * 1000))
        check(ch.expect(RELEASE) == struct.pack("<Bxxx", 0), "RELEASE clipboard after reconnect")
        check(ch.quiet(), "no caps after reconnect")
        st = ctl.cmd("stats")
        check("reconnects=1" in st and ("caps=0x%08x" % HOST_CAPS) in st, "caps kept: " + st)
        ch.send(caps_msg(1))
        check(ch.expect(CAPS) == struct.pack("<II", 0, 0x00038de7), "caps after reconnect")
        # a partial message at disconnect does not leak into the next connection
        ch.send(msg(MOUSE_STATE, struct.pack("<IIIB", 1, 2, 0, 0))[:10])
        conn.close()
        conn, _ = ls.accept()
        ch = Chan(conn)
        ch.send(msg(MOUSE_STATE, struct.pack("<IIIB", 7, 8, 4, 0)))
        time.sleep(0.1)
        check(ctl.cmd("pointer") == "ok 7 8 4 0", "decoder reset on reconnect")
        check(ctl.cmd("reconnect") == "ok", "reconnect command")
        conn, _ = ls.accept()
        check(ctl.cmd("frobnicate").startswith("error"), "unknown command")
        check(ctl.cmd("copy nosuch x").startswith("error"), "unknown selection")
        check(ctl.cmd("quit") == "ok", "quit")
        check(p.wait(5) == 0, "exit 0 after quit")
        check(not os.path.exists(ctl_path), "control socket removed")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()


def test_fd(tmp):
    print("== --fd")
    a, b = socket.socketpair()
    p = spawn(["--fd", str(b.fileno()), "--quiet"], pass_fds=[b.fileno()])
    b.close()
    try:
        ch = Chan(a)
        check(ch.expect(CAPS) == struct.pack("<II", 1, 0x00038de7), "caps over fd")
        ch.send(caps_msg(1))
        check(ch.expect(CAPS) is not None, "caps reply over fd")
        a.close()
        check(p.wait(5) == 0, "exit 0 at EOF")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_pty(tmp):
    print("== --pty")
    master, slave = pty.openpty()
    tty.setraw(master)
    link = os.path.join(tmp, "pty-link")
    os.symlink(os.ttyname(slave), link)
    # keep a slave fd until the sim has it open: reading a master with no
    # slave open fails with EIO
    log = open(os.path.join(tmp, "pty.log"), "w")
    p = spawn(["--pty", link, "--caps", "0x21"], stdout=log,
                         stderr=log)
    try:
        class PtyChan(Chan):
            def __init__(self, fd):
                self.fd = fd
                self.buf = bytearray()
                self.chunks = []

            def send(self, data):
                os.write(self.fd, data)

            def _fill(self, deadline):
                t = deadline - time.time()
                if t <= 0:
                    return False
                r, _, _ = select.select([self.fd], [], [], t)
                if not r:
                    return False
                self.buf += os.read(self.fd, 1 << 16)
                return True
        ch = PtyChan(master)
        check(ch.expect(CAPS) == struct.pack("<II", 1, 0x21), "caps over pty (--caps 0x21)")
        os.close(slave)
        ch.send(caps_msg(1))
        check(ch.expect(CAPS) == struct.pack("<II", 0, 0x21), "caps reply over pty")
        ch.send(msg(MONITORS_CONFIG, struct.pack("<II", 1, 0) + struct.pack("<IIIii", 600, 800, 32, 0, 0)))
        check(ch.expect(REPLY) == struct.pack("<II", MONITORS_CONFIG, 1), "REPLY over pty")
        os.close(master)
        check(p.wait(5) == 1, "exit 1 when the pty cannot be reopened")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()


def test_args():
    print("== arguments")
    for args in ([], ["--fd"], ["--fd", "x"], ["--connect", "/x"], ["--bogus"],
                 ["--fd", "0", "--pty", "/x"], ["--fd", "0", "--caps", "0xzz"]):
        r = subprocess.run([SIM] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        check(r.returncode == 2 and b"usage:" in r.stderr, "usage error %r -> 2" % args)
    r = subprocess.run([SIM, "--connect", "unix:/nonexistent/x.sock"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    check(r.returncode == 1 and b"cannot connect" in r.stderr, "connect failure -> 1")


tmpbase = os.environ.get("TMPDIR", "/tmp")
if len(tmpbase) > 60:           # unix socket paths are short
    tmpbase = "/tmp"
try:
    with tempfile.TemporaryDirectory(prefix="sim-agent-", dir=tmpbase) as tmp:
        try:
            test_args()
            test_fd(tmp)
            test_pty(tmp)
            test_connect(tmp)
        except Exception as e:
            failures += 1
            print("  FAIL exception: %r" % (e,))
        finally:
            reap()
        if failures or os.environ.get("SHOWLOG"):
            for f in ("connect.log", "pty.log"):
                path = os.path.join(tmp, f)
                if os.path.exists(path):
                    print("---- " + f)
                    print(open(path).read())
finally:
    reap()
print("check_sim_agent: %d checks, %d failures" % (checks, failures))
sys.exit(1 if failures else 0)
PY
