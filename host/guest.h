/*
 * guest.h: the guest transports of vdagent-host and the device frontend.
 *
 * A HostGuest carries the device's bytes to and from the guest agent over
 * one transport (guest.c describes each): unix:PATH (we listen), pty:LINK,
 * fd:N, or sim (the sim agent as our child).  It reads the guest only
 * while the host runs (a run hook on host.c), reports the guest side
 * opening and closing to the device and as VDAGENT_CONNECTED /
 * VDAGENT_DISCONNECTED events, and can give its channel away to another
 * host and adopt one (a unix: migration).
 */
#ifndef HOST_GUEST_H
#define HOST_GUEST_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/host.h"
#include "vdagent/vdc-vdagent.h"

typedef struct HostGuest HostGuest;

/*
 * The device frontend: pass it to vdc_chardev_new() with the
 * HostGuest as the opaque.
 */
extern const VdcFrontendOps host_guest_frontend_ops;

/*
 * A guest side with no transport yet (kind HOST_GUEST_NONE), reading
 * while @h runs.  @h is borrowed and must outlive it; h->dev may be set
 * only after this (the device needs the HostGuest as its frontend), but
 * before any other call below.
 */
HostGuest *host_guest_new(Host *h);

/*
 * Set up the transport @spec (borrowed): "unix:PATH", "pty:LINK", "fd:N",
 * "sim", or NULL for none.  While the host is inmigrate the guest side is
 * not opened yet (host_guest_activate() does that after the load).
 * Returns false with @errp set: G_FILE_ERROR (a socket path too long, in
 * use or not a socket, no pty, a bad fd:N as host_parse_fd() says, a link
 * that cannot be made), G_SPAWN_ERROR (the sim agent), or
 * G_OPTION_ERROR_BAD_VALUE for any other spec.
 */
bool host_guest_setup(HostGuest *g, const char *spec, GError **errp);

/* Open the guest side that waited for an incoming migration (else no-op). */
void host_guest_activate(HostGuest *g);

/*
 * The channel a unix: migration hands over: the connection (none for a
 * unix: transport without an agent), our listening socket (unix: only)
 * and the path; descriptors and path borrowed.  False when there is
 * nothing to hand over.
 */
bool host_guest_channel(HostGuest *g, HostGuestChannel *ch);

/*
 * After the channel was handed over: close our descriptors, unlink
 * nothing, keep no transport (kind HOST_GUEST_NONE), and drop the output
 * not yet written (the destination writes it, from the first unsent byte).
 */
void host_guest_release(HostGuest *g);

/*
 * Drop the current transport (without unlinking it) and take @ch's
 * (descriptors taken, path copied): open at once when there is a
 * connection, else accept on the listening socket.  Output already queued
 * (host_guest_restore()) stays queued and goes out first once the host
 * runs.
 */
void host_guest_adopt(HostGuest *g, const HostGuestChannel *ch);

/* The bytes queued for the guest and not yet written (borrowed, valid
 * until the next call into the device or the main loop). */
const uint8_t *host_guest_pending(HostGuest *g, size_t *len);

/*
 * After a load: queue @len bytes of @data (borrowed) for the guest,
 * written as soon as the host runs and the guest side is open (not before
 * the host runs: a destination writes nothing while in migration);
 * @continuing: the next open of the guest side continues the migrated
 * session (it is logged as such).
 */
void host_guest_restore(HostGuest *g, const uint8_t *data, size_t len,
                        bool continuing);

/*
 * Quitting: close the transport; a unix: socket we still listen on is
 * unlinked (one handed over is not ours any more).  The HostGuest stays
 * valid (the device may still call its frontend, which then writes
 * nothing).
 */
void host_guest_close(HostGuest *g);

/*
 * Read what the guest has written and the channel holds now, into the
 * device, without waiting (at most HOST_DRAIN_MAX bytes: a guest that
 * keeps writing cannot hold the caller).  For a source whose migration
 * leaves the channel behind: bytes still in the kernel would be lost with
 * it.  End of stream or an error stops it; the main loop closes the
 * channel afterwards as usual.
 */
#define HOST_DRAIN_MAX (16u * 1024 * 1024)
void host_guest_drain(HostGuest *g);

/* Close the transport (no unlink) and free.  NULL: no-op.  Call after
 * vdc_chardev_free(), which calls no frontend callback. */
void host_guest_free(HostGuest *g);

#endif /* HOST_GUEST_H */
