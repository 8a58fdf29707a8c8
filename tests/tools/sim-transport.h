/*
 * sim-transport.h: the sim-agent's channel to the host.
 *
 * One byte stream, as spice-vdagentd has: an inherited fd (--fd: the host
 * spawned us; EOF there ends the process), a unix socket we connect to
 * (--connect: after a drop, retried every 100 ms for ever), or a pty slave
 * opened raw (--pty: reopened once after EOF or EIO, the process ends if
 * that fails).  Every fd is non-blocking on the GLib main loop.
 *
 * Output is a queue of GBytes segments written as the channel takes them,
 * at most WRITE_BUDGET bytes per main-loop dispatch and, when throttled,
 * at most the throttle per 10 ms tick.  Segments are queued by reference,
 * so a large clipboard is never copied, and the process stays responsive
 * while it is written.  Reading from the host pauses while too many
 * segments wait.
 *
 * The transport knows nothing of the protocol: the host's bytes and the
 * channel opening and closing go to its user through SimTransportOps.
 */
#ifndef SIM_TRANSPORT_H
#define SIM_TRANSPORT_H

#include <glib.h>
#include <glib-unix.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum SimChanMode {
    SIM_CHAN_FD,
    SIM_CHAN_CONNECT,
    SIM_CHAN_PTY,
} SimChanMode;

typedef struct SimTransport SimTransport;

typedef struct SimTransportOps {
    /*
     * @len bytes from the host (borrowed for the call).  The channel may
     * close from inside (a write error): sim_transport_generation()
     * changes then, and the rest of @p must be dropped.
     */
    void (*input)(void *opaque, const uint8_t *p, size_t len);
    /* The channel is open: @first at the start, else after a reconnect
     * (--connect) or a reopen (--pty). */
    void (*opened)(void *opaque, bool first);
    /* The channel closed; its queued output is gone already. */
    void (*closed)(void *opaque);
    /* The process should end with exit @status. */
    void (*quit)(void *opaque, int status);
} SimTransportOps;

/*
 * A transport of @mode on @path (--connect, --pty; borrowed, must outlive
 * it) or on @fd (--fd).  Nothing is opened yet.  @ops is borrowed;
 * @opaque goes to every callback.  Free with sim_transport_free().
 */
SimTransport *sim_transport_new(SimChanMode mode, const char *path, int fd,
                                const SimTransportOps *ops, void *opaque);

/*
 * Close the channel (no callback) and free @t.  NULL is a no-op.
 */
void sim_transport_free(SimTransport *t);

/*
 * Open the channel: connect, open the pty, or check the inherited fd.
 * On failure (nobody there at start is fatal, like spice-vdagentd) prints
 * why on stderr and returns false.
 */
bool sim_transport_open(SimTransport *t);

/*
 * Start using the channel opened by sim_transport_open(): a transcript
 * line, then ops->opened(first = true).
 */
void sim_transport_start(SimTransport *t);

/*
 * Queue @b (taking ownership) behind earlier output.  Dropped when the
 * channel is closed, like the real agent's writes with no port, and when
 * empty.  sim_transport_write() writes it.
 */
void sim_transport_queue(SimTransport *t, GBytes *b);

/* Write what the channel takes now (bounded), then wait for it. */
void sim_transport_write(SimTransport *t);

/* The channel is open. */
bool sim_transport_connected(const SimTransport *t);

/* A number bumped each time the channel closes. */
unsigned sim_transport_generation(const SimTransport *t);

/* Bytes queued and not written yet. */
uint64_t sim_transport_out_bytes(const SimTransport *t);

/* Reconnects (--connect) and reopens (--pty) so far. */
unsigned sim_transport_reconnects(const SimTransport *t);

/*
 * Stop (@hold) or resume reading the host: its bytes wait in the kernel,
 * and the host's writes block once the socket is full, as with an agent
 * that is busy or a guest that is paused.
 */
void sim_transport_set_hold(SimTransport *t, bool hold);

/*
 * Stop (@frozen) or resume all traffic, both ways, as a paused VM (the
 * emulator's pause-before-switchover): nothing is read, queued output
 * waits in the queue.
 */
void sim_transport_set_frozen(SimTransport *t, bool frozen);

/*
 * The emulator's chardev moves to another backend while the guest's port
 * stays open (a VM migration, SPEC 4 (b)): read what the current channel
 * still holds (it reached the guest before the switch), then connect to
 * the unix socket @path and go on with the same session: no open or
 * close callback, queued output kept, the decoder's state kept.  False
 * (nothing changed) unless --connect with an open channel and @path
 * accepts the connection.  Later reconnects go to @path.
 */
bool sim_transport_move(SimTransport *t, const char *path);

/* At most @bytes per 10 ms tick to the host; 0: no limit. */
void sim_transport_set_throttle(SimTransport *t, size_t bytes);

/*
 * At most @bytes per 10 ms tick read from the host (a slow agent: the
 * rest waits in the kernel and the host's writes block); 0: no limit.
 */
void sim_transport_set_read_throttle(SimTransport *t, size_t bytes);

/*
 * Drop the channel as if the host had gone, and reconnect (the control
 * socket's "reconnect").  Returns false, doing nothing, unless the mode
 * is SIM_CHAN_CONNECT.
 */
bool sim_transport_drop(SimTransport *t);

/*
 * Keep *@id a watch of @fd for @cond calling @cb with @data exactly while
 * @want: added when missing, removed (*@id 0) when not wanted.  The
 * helper of every fd of the process (the channel, control clients).
 */
void sim_watch_fd(guint *id, bool want, int fd, GIOCondition cond,
                  GUnixFDSourceFunc cb, void *data);

#endif /* SIM_TRANSPORT_H */
