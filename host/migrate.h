/*
 * migrate.h: live migration of vdagent-host (migrate, migrate-incoming,
 * query-migrate; SPEC section 5).
 *
 * Sections on the registry: the device's ("vdagent") and the program's own
 * ("vdagent-host": the host peer's selections and the bytes queued for
 * the guest).  URIs as QEMU spells them: file:PATH, unix:PATH, fd:N,
 * tcp:HOST:PORT; over unix: the guest channel is handed over too.  The
 * wire format is described in migrate.c.
 *
 * Migration knows neither the guest transport nor the clipboard peer: it
 * asks for their state through HostMigrateOps, which main.c wires.  It
 * reports progress through the MIGRATION event and sets the run status
 * (host.c).  Main-loop thread only; the blocking transfers run in threads
 * of their own, whose results come back through the main loop.
 */
#ifndef HOST_MIGRATE_H
#define HOST_MIGRATE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "clipboard/vdc-clipboard-vmstate.h"
#include "host/host.h"
#include "migration/vdc-savevm.h"

typedef enum HostMigStatus {
    HOST_MIG_NONE,
    HOST_MIG_SETUP,
    HOST_MIG_ACTIVE,
    HOST_MIG_COMPLETED,
    HOST_MIG_FAILED,
    /* pause-before-switchover (QEMU's names) */
    HOST_MIG_PRE_SWITCHOVER,    /* the live phase is done: migrate-continue */
    HOST_MIG_DEVICE,            /* stopped, the final state on its way */
    HOST_MIG_CANCELLING,
    HOST_MIG_CANCELLED,
    HOST_MIG__COUNT,
} HostMigStatus;

/*
 * What migration asks of the rest of the program; every call comes from
 * the main loop with the @opaque given to host_migration_new().
 */
typedef struct HostMigrateOps {
    /* Source, saving: the host peer's selections into @saved (cleared
     * first), and a copy of the bytes not yet written to the guest
     * (*@out newly allocated, NULL when *@out_len is 0). */
    void (*save)(void *opaque, VdcClipboardSaved *saved, uint8_t **out,
                 uint32_t *out_len);
    /* Source, starting a unix: migration: the guest channel to hand over
     * (descriptors borrowed).  False when there is none. */
    bool (*guest_channel)(void *opaque, HostGuestChannel *ch);
    /* Source, the destination took the channel: let go of it (close our
     * descriptors, unlink nothing) and keep no transport. */
    void (*guest_released)(void *opaque);
    /* Destination, after a good load: own @saved's selections (their data
     * taken), queue @out_len bytes of @out (borrowed) for the guest first;
     * @continuing: the next open of the guest side continues the migrated
     * session. */
    void (*restore)(void *opaque, VdcClipboardSaved *saved, const uint8_t *out,
                    uint32_t out_len, bool continuing);
    /* Destination: adopt a channel the source handed over (the
     * descriptors are taken; @ch->path borrowed). */
    void (*guest_adopt)(void *opaque, const HostGuestChannel *ch);
    /* Destination, loaded and running: open the guest side if it waited. */
    void (*guest_activate)(void *opaque);
    /* Source, stopped, before saving for a migration that leaves the guest
     * channel behind (file:, fd:, tcp:): read what the guest already wrote
     * into the device, so that it travels in the state.  The emulator has
     * paused the VM (its pause-before-switchover): nothing more comes.
     * NULL: a host without a guest channel. */
    void (*guest_drain)(void *opaque);
} HostMigrateOps;

typedef struct HostMigration HostMigration;

/*
 * Set up migration for @h: register the device's section ("vdagent" / 0)
 * and the program's ("vdagent-host" / 0) on @reg.  @h, @reg, @ops and
 * @opaque are borrowed and must outlive the result.  Returns NULL with
 * @errp set when @reg already holds one of them (VDC_VMSTATE_ERROR_DUPLICATE);
 * @reg then holds none of ours.
 */
HostMigration *host_migration_new(Host *h, VdcMigrationRegistry *reg,
                                  const HostMigrateOps *ops, void *opaque,
                                  GError **errp);

/*
 * Close and unlink an incoming listener still open, unregister our two
 * sections from the registry, free.  NULL: no-op.  A transfer thread must
 * not be running.
 */
void host_migration_free(HostMigration *m);

/*
 * tcp: migrations (both directions) run over TLS with @creds (borrowed,
 * must outlive @m; NULL: plain text, as before).  unix: and fd: stay
 * plain.  Set before any migration starts.
 */
typedef struct HostTlsCreds HostTlsCreds;
void host_migration_set_tls(HostMigration *m, HostTlsCreds *creds);

/*
 * --incoming-prealloc: @size bytes faulted in now for the live part of
 * the incoming migration to come (host_prefault_pool()), given back once
 * one completes.  False with @errp set when they cannot be reserved.
 */
bool host_migration_prealloc(HostMigration *m, size_t size, GError **errp);

/*
 * migrate: stop, save, and send the state to @uri (borrowed).  Returns
 * false with @errp set, changing nothing, when the migration cannot start:
 * one already in progress (G_FILE_ERROR_AGAIN), an incoming one expected
 * (PERM), an unsupported URI (INVAL), a bad fd:N (host_parse_fd()'s
 * errors).  Otherwise returns true with @errp untouched: the migration
 * has started (status "active"), and how it ends shows only in the
 * migration status and the MIGRATION event: "completed" (the host is
 * postmigrate) or "failed" with the reason (a section that cannot save, a
 * file that cannot be written, a channel that breaks or a refusing
 * destination; the host runs again as before).  file: ends before
 * returning.  @errp may be NULL.
 */
bool host_migrate_start(HostMigration *m, const char *uri, GError **errp);

/*
 * migrate-incoming (and --incoming): take the state from @uri (borrowed).
 * Only while the host is "inmigrate" with no incoming migration set up.
 * Returns false with @errp set, changing nothing, on a bad state
 * (G_FILE_ERROR_AGAIN, PERM), an unsupported URI (INVAL), a bad fd:N
 * (host_parse_fd()'s errors), a file that cannot be read or a socket that
 * cannot listen.  A peer on unix: or tcp: has 3 s to send a valid channel
 * header and 60 s for the whole transfer; one that fails either, sends
 * descriptors that do not fit its guest kind, or a stream that does not
 * load is refused, and the listener waits for the next.  file: loads before returning: a stream that does not
 * load returns false with @errp set and also sets the status "failed"
 * (the host stays inmigrate, ready for another try).  unix: and tcp:
 * listen (status "setup"); fd:N starts reading at once (status
 * "active"); how those end shows only in the status and the MIGRATION
 * event.  @errp may be NULL.
 */
bool host_incoming_start(HostMigration *m, const char *uri, GError **errp);

/* query-migrate's view of the last migration. */
typedef struct HostMigInfo {
    HostMigStatus status;
    bool live;                  /* an outgoing migration in its live phase:
                                   the state is still here and runs */
    const char *error;          /* why it failed (borrowed), else NULL */
    gint64 downtime_us;         /* a completed incoming one's, else -1;
                                   also -1 when the source's stop time is
                                   not in this host's last 120 s of
                                   CLOCK_MONOTONIC (another machine, or a
                                   peer's nonsense) */
    bool final_on_loop;         /* a completed live migration's final
                                   frame went through the main loop here
                                   (no thread hand-off in the downtime):
                                   the source's sent it whole, the
                                   destination's received it; else false */
    uint64_t spliced;           /* a completed incoming live migration's
                                   bytes that went from the socket into
                                   the files of its large clipboard slots
                                   without passing through our memory
                                   (splice(), plain tcp:); else 0 */
} HostMigInfo;

/* Fill @info; its error stays valid until the status next changes. */
void host_migration_info(const HostMigration *m, HostMigInfo *info);

/*
 * migrate-set-capabilities: pause-before-switchover.  With it, migrate
 * over unix:, tcp: or fd: has a live phase: the host keeps running while
 * the clipboard's data moves (changes are sent again), the status becomes
 * "pre-switchover" once what is left is small, and
 * host_migrate_continue() stops the host and sends the rest (status
 * "device", then "completed" as without it).  file: is refused with it.
 * Refused (G_FILE_ERROR_AGAIN) while a migration runs.
 */
bool host_migration_set_pause(HostMigration *m, bool on, GError **errp);
bool host_migration_pause(const HostMigration *m);

/*
 * migrate-continue {"state": @state}: only in "pre-switchover", which
 * @state must name (QEMU's check); else false with @errp set.
 */
bool host_migrate_continue(HostMigration *m, const char *state,
                           GError **errp);

/*
 * migrate-cancel: an outgoing live migration before migrate-continue
 * ends, the host runs on as before and the destination sees a broken
 * channel (a failed load: it stays fresh and waits for another).  No
 * migration: nothing (QEMU's answer).  Refused (G_FILE_ERROR_PERM) once
 * the final state is on its way (status "device"), or for a migration
 * without a live phase (it stops the host and sends everything at once).
 */
bool host_migrate_cancel(HostMigration *m, GError **errp);

/*
 * "none", "setup", "active", "completed", "failed", "pre-switchover",
 * "device", "cancelling", "cancelled"; NULL out of range.
 */
const char *host_mig_status_name(HostMigStatus status);

#endif /* HOST_MIGRATE_H */
