/*
 * sim-control.h: the sim-agent's control socket.
 *
 * A unix socket (--control unix:PATH) where tests drive the simulated
 * guest: one command per line, exactly one reply line per command, "ok
 * ..." or "error ...", in command order (a client's later commands wait
 * while a paste or wait-caps is pending).  SEL is
 * clipboard|primary|secondary (or 0..2), TYPE text|png|bmp|tiff|jpg.
 *   copy SEL TEXT...        a guest app owns SEL with that text: GRAB
 *   copy-bytes SEL N [TYPE] the same with N pattern bytes, TYPE text by
 *                           default: text byte i = 'a' + (i * 7 + 3) % 26,
 *                           others (i * 7 + 3) & 0xff
 *   copy-base64 SEL TYPE B64  the same with given bytes
 *       the copies answer "ok", or "ok not-sent: REASON" when the real
 *       agent would not forward the GRAB (no connection, host lacks
 *       clipboard-by-demand, or clipboard-selection for SEL != clipboard)
 *   paste SEL [TYPE]        REQUEST (text by default); "ok LEN BASE64"
 *                           ("ok 0" when empty) when the data arrives,
 *                           "error timeout" after 5 s, "error not owned by
 *                           host", "error host did not offer TYPE",
 *                           "error no data ..." if the host answers NONE
 *   release SEL             RELEASE of a guest-owned selection
 *   checksum SEL            "ok LEN FNV1A64HEX" of the X contents, from
 *                           either side (LEN 0 when none)
 *   owner SEL               "ok guest TYPE" | "ok host TYPES..." | "ok none"
 *   pointer                 "ok X Y BUTTONS DISPLAY" (last MOUSE_STATE)
 *   monitors                "ok N WxH+X+Y ..." (last MONITORS_CONFIG)
 *   stats                   "ok caps=0x%08x errors=N ignored=N chunks=N
 *                           reconnects=N sessions=N messages=N
 *                           unsolicited=N
 *                           max-chunk=N serials=A,B,C max-clipboard=N
 *                           out-bytes=N connected=0|1" (caps: the host's
 *                           first word; counters from the guest agent;
 *                           errors: protocol violations; sessions: host
 *                           caps with request=1, each a new session)
 *   wait-caps               "ok" once host caps have arrived
 *   announce                send caps with request=1 (an agent restart)
 *   reconnect               drop the channel (--connect only)
 *   move unix:PATH          the emulator's chardev moves to the backend
 *                           at PATH, the guest's port staying open: the
 *                           session goes on (--connect only)
 *   hold, unhold            stop / resume reading the host (its bytes
 *                           wait in the kernel; the host's writes block)
 *   freeze, thaw            stop / resume all traffic both ways (a paused
 *                           VM: queued output waits in the queue)
 *   throttle KIB            at most KIB KiB per 10 ms to the host; 0: off
 *   help, quit              quit: "ok", then the process ends, status 0
 *
 * Commands act on the session (tests/tools/sim-session.h) and the
 * transport (tests/tools/sim-transport.h); a client's replies are written
 * as its socket takes them, and reading from it pauses while too much
 * waits, so a client that does not read cannot grow our memory.
 */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <stdbool.h>

#include "tests/tools/sim-session.h"
#include "tests/tools/sim-transport.h"

typedef struct SimControl SimControl;

/* The "quit" command: the process should end with exit @status. */
typedef void (*SimQuitFn)(void *opaque, int status);

/*
 * Listen on the unix socket @path (borrowed; a stale socket there from an
 * earlier run is replaced, never any other file) for commands on @s and
 * @t (both borrowed, must outlive the control); the control becomes @s's
 * SimSessionOps.  Returns NULL, with why on stderr, on failure.  Free
 * with sim_control_free().
 */
SimControl *sim_control_new(const char *path, SimSession *s,
                            SimTransport *t, SimQuitFn quit, void *opaque);

/*
 * Write what each client's socket takes of its replies (an "ok" to a
 * quit, best effort), close the clients and the socket, remove its file.
 * NULL is a no-op.
 */
void sim_control_free(SimControl *c);

#endif /* SIM_CONTROL_H */
