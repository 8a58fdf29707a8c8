/*
 * migrate.c: vdagent-host's live migration.
 *
 * URIs as QEMU spells them: file:PATH, unix:PATH, fd:N, tcp:HOST:PORT.
 * file: carries the bare QEVM stream (QEMU's tools can read it).  The
 * others carry a small channel protocol around it, with a check step:
 *
 *   source -> destination   "VDMG" u8 version(1) u8 guest-kind u8 n-fds
 *                           u8 0, be64 stop time (CLOCK_MONOTONIC, us),
 *                           be32 path length, path, be64 stream length,
 *                           the QEVM stream.  Over unix: the guest
 *                           channel (and its listening socket) ride on the
 *                           first bytes as SCM_RIGHTS.
 *   destination -> source   the answer: "VDMR" u8 version(1) u8 status,
 *                           be32 length, message: status 0 with length 0
 *                           (loaded, the destination owns the guest now)
 *                           or status 1 with an error message of at most
 *                           4096 bytes.
 *
 * The source stops reading the guest, saves, sends, and waits.  Only on
 * exactly the ok answer does it give up its descriptors (and stays
 * postmigrate until quit); on anything else (a refusal, a broken channel,
 * or bytes that are not an answer at all: a peer that is no vdagent-host)
 * it resumes as if nothing had happened.
 * Bytes the guest wrote meanwhile wait in the kernel for whoever owns the
 * descriptor.  Blocking transfers run in a thread; the main loop (and the
 * control socket) stays responsive.
 *
 * A destination takes one peer at a time.  The peer has MIG_HELLO_MS
 * (3 s) for a whole valid header (path and stream length included), so a
 * silent or garbled one holds the port only that long, however often it
 * comes back; a transfer that began has MIG_TIMEOUT_MS (60 s) from its
 * start.  The header's descriptors are checked against its guest kind
 * before anything is adopted (in_check_fds()), and its stop time enters
 * the downtime only within bounds (in_downtime()).
 */
#define G_LOG_DOMAIN "vdagent-host"
#define _GNU_SOURCE

#include "host/migrate.h"
#include "host/prefault.h"
#include "host/sealed.h"
#include "host/tls.h"
#include "clipboard/clipboard-live.h"
#include "migration/channel.h"
#include "migration/stream-live.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define MIG_MAGIC "VDMG"
#define MIG_VERSION 1
#define MIG_ANSWER_MAGIC "VDMR"
#define MIG_ANSWER_VERSION 1
#define MIG_ANSWER_LEN 10                   /* magic, version, status, be32 */
#define MIG_ANSWER_MAX_MSG 4096u
#define MIG_TIMEOUT_MS 60000                /* a transfer, once it began */
#define MIG_HELLO_MS 3000                   /* a peer's whole valid header */
#define MIG_DOWNTIME_MAX_US (2ll * MIG_TIMEOUT_MS * 1000) /* believable */
#define MIG_MAX_STREAM (2ull * 1024 * 1024 * 1024)   /* fits a guint */
#define MIG_RECV_PIECE (1u << 20)
#define MIG_MAX_PATH 4096
/* The live phase (pause-before-switchover): see live_pump(). */
#define MIG_LIVE_VERSION 2                  /* the channel's version */
#define MIG_LIVE_IDSTR "vdagent-host-clipboard"
#define MIG_LIVE_FRAME_DATA (4u << 20)      /* data per live frame */
#define MIG_LIVE_FRAME_MAX (MIG_LIVE_FRAME_DATA + 4096u) /* on receipt */
/* A live frame's bytes are received in steps of this, each once its
 * pages are faulted in (host_prefault_wait()). */
#define IN_PULL_STEP (1u << 20)
#define MIG_LIVE_QUEUE (2 * MIG_LIVE_FRAME_DATA) /* queued, not yet sent */
#define MIG_LIVE_REMAINDER (256u * 1024)    /* small enough to switch over */
#define MIG_LIVE_KEEPALIVE_MS 1000          /* an empty frame when idle */
#define MIG_LIVE_IDLE_MS 10000              /* destination: between frames */
#define MIG_LIVE_POLL_MS 20                 /* source: looks for changes */
#define MIG_FRAME_LIVE 0x01
#define MIG_FRAME_FINAL 0x02
#define MIG_ACK_MAGIC "VDMK"                /* destination: live bytes loaded */

/* The program's migration section ("vdagent-host"). */
typedef struct HostSaved {
    VdcClipboardSaved cb;          /* selections the host peer owns */
    uint32_t out_len;           /* transport bytes not yet written */
    uint8_t *out;
    uint32_t live;              /* cb's slots whose data the live phase
                                   carried (subsection vdagent-host/live) */
} HostSaved;

typedef struct LiveOut LiveOut;
typedef struct HostMigration HostMigration;
static bool live_running(const HostMigration *m);
static bool live_start(HostMigration *m, const char *uri, int chan,
                       GError **errp);

struct HostMigration {
    Host *h;
    VdcMigrationRegistry *reg;         /* borrowed */
    const HostMigrateOps *ops;
    void *opaque;
    HostSaved saved;

    HostMigStatus status;
    HostStatus before;              /* the run state an outgoing migration
                                       found, restored when it fails */
    char *error;                    /* why it failed, or NULL */
    gint64 downtime_us;             /* of the last incoming one, or -1 */
    bool final_on_loop;             /* its final frame: see HostMigInfo */
    uint64_t spliced;               /* see HostMigInfo */
    int incoming_listen_fd;
    char *incoming_path;            /* its unix socket, unlinked when done */
    guint incoming_watch;

    bool cap_pause;                 /* pause-before-switchover */
    VdcClipboardLive *live;            /* the live section's slots, both ends */
    HostPrefault *prefault;         /* its large slots' memory, ahead */
    LiveOut *lo;                    /* an outgoing live migration */
    GThread *in_thread;             /* an incoming transfer's, joinable */
    HostTlsCreds *tls;              /* tcp: over TLS (borrowed), or NULL */
    bool incoming_tls;              /* the listener is tcp: with TLS */
    struct InJob *in_job;           /* its job, until in_done() runs */
    GPtrArray *frame_refs;          /* GBytes the live frame being made
                                       passes by reference (ref_send()) */
};

static const char *const mig_status_names[HOST_MIG__COUNT] = {
    [HOST_MIG_NONE] = "none",
    [HOST_MIG_SETUP] = "setup",
    [HOST_MIG_ACTIVE] = "active",
    [HOST_MIG_COMPLETED] = "completed",
    [HOST_MIG_FAILED] = "failed",
    [HOST_MIG_PRE_SWITCHOVER] = "pre-switchover",
    [HOST_MIG_DEVICE] = "device",
    [HOST_MIG_CANCELLING] = "cancelling",
    [HOST_MIG_CANCELLED] = "cancelled",
};

const char *host_mig_status_name(HostMigStatus status)
{
    return (unsigned)status < HOST_MIG__COUNT ? mig_status_names[status] : NULL;
}

void host_migration_info(const HostMigration *m, HostMigInfo *info)
{
    info->status = m->status;
    info->live = live_running(m);
    info->error = m->status == HOST_MIG_FAILED ? m->error : NULL;
    info->downtime_us = m->status == HOST_MIG_COMPLETED ? m->downtime_us : -1;
    info->final_on_loop = m->status == HOST_MIG_COMPLETED && m->final_on_loop;
    info->spliced = m->status == HOST_MIG_COMPLETED ? m->spliced : 0;
}

static void mig_set_status(HostMigration *m, HostMigStatus status,
                           const char *error)
{
    Host *h = m->h;
    json_object *data = json_object_new_object();

    m->status = status;
    g_free(m->error);
    m->error = g_strdup(error);
    json_object_object_add(data, "status",
                           json_object_new_string(host_mig_status_name(status)));
    if (error) {
        json_object_object_add(data, "error-desc", json_object_new_string(error));
    }
    host_log(h, "migration %s%s%s", host_mig_status_name(status),
             error ? ": " : "", error ? error : "");
    host_event(h, "MIGRATION", data);
}

static HostMigration *saved_owner(HostSaved *saved)
{
    return (HostMigration *)(void *)((char *)saved -
                                     offsetof(HostMigration, saved));
}

/* An fd: channel that is TCP: no Nagle (channel.c's sockets have it). */
static void tcp_nodelay(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- the host's own section ------------------------------------------------ */

void host_migration_set_tls(HostMigration *m, HostTlsCreds *creds)
{
    m->tls = creds;
}

bool host_migration_prealloc(HostMigration *m, size_t size, GError **errp)
{
    return host_prefault_pool(m->prefault, size, errp);
}

/* The credentials a migration to or from @uri uses: tcp: only. */
static HostTlsCreds *uri_tls(const HostMigration *m, const char *uri)
{
    return g_str_has_prefix(uri, "tcp:") ? m->tls : NULL;
}

/*
 * The TLS handshake on the connected socket @fd (taken) of a sender to
 * @uri, until @deadline: the descriptor to use (the relay's), or -1 with
 * @errp set.
 */
static int tls_connect(HostTlsCreds *creds, const char *uri, int fd,
                       gint64 deadline, HostTlsChannel **tls, GError **errp)
{
    g_autofree char *host = host_tls_uri_host(uri);

    *tls = host_tls_channel_new(creds, fd, false, host, deadline, errp);
    return *tls ? host_tls_channel_fd(*tls) : -1;
}

/* A failed channel's reason: the TLS relay's first, else @err's. */
static char *channel_error(HostTlsChannel *tls, const GError *err)
{
    char *e = tls ? host_tls_channel_error(tls) : NULL;

    return e ? e : g_strdup(err ? err->message : "migration failed");
}

/* Close a channel: through its relay (what was written goes first). */
static void channel_close(HostTlsChannel *tls, int fd)
{
    if (tls) {
        host_tls_channel_free(tls);
    } else if (fd >= 0) {
        close(fd);
    }
}

static bool host_pre_save(void *opaque, GError **errp)
{
    HostSaved *saved = opaque;
    HostMigration *m = saved_owner(saved);

    (void)errp;
    g_clear_pointer(&saved->out, g_free);
    saved->cb.live_skip = vdc_clipboard_live_final_skip(m->live);
    saved->cb.live = 0;
    m->ops->save(m->opaque, &saved->cb, &saved->out, &saved->out_len);
    saved->live = saved->cb.live;
    return true;
}

static void host_saved_clear(HostSaved *saved)
{
    vdc_clipboard_saved_clear(&saved->cb);
    g_clear_pointer(&saved->out, g_free);
    saved->out_len = 0;
    saved->live = 0;
}

static bool host_live_needed(void *opaque)
{
    return ((HostSaved *)opaque)->live != 0;
}

/*
 * Every slot the final section says the live phase carried: a selection
 * of the section, with the type available and no data inline, whose slot
 * came whole.  Nothing is taken yet (host_commit_load() does).
 */
static bool host_live_post_load(void *opaque, int version_id, GError **errp)
{
    HostSaved *saved = opaque;
    HostMigration *m = saved_owner(saved);

    (void)version_id;
    return vdc_clipboard_live_check_refs(m->live, &saved->cb, saved->live, errp);
}

static const VdcVMStateDescription vmstate_host_live = {
    .name = "vdagent-host/live",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = host_live_needed,
    .post_load = host_live_post_load,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(live, HostSaved),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static void host_post_save(void *opaque)
{
    host_saved_clear(opaque);
}

static bool host_pre_load(void *opaque, GError **errp)
{
    (void)errp;
    host_saved_clear(opaque);
    return true;
}

static const VdcVMStateDescription vmstate_host = {
    .name = "vdagent-host",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = host_pre_save,
    .post_save = host_post_save,
    .pre_load = host_pre_load,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_STRUCT(cb, HostSaved, vdc_vmstate_clipboard_saved, VdcClipboardSaved),
        VDC_VMSTATE_UINT32(out_len, HostSaved),
        VDC_VMSTATE_VBUFFER_UINT32(out, HostSaved, out_len, HOST_OUT_MAX),
        VDC_VMSTATE_END_OF_LIST()
    },
    .subsections = (const VdcVMStateDescription *const[]){
        &vmstate_host_live,
        NULL
    },
};

static void live_out_detach(HostMigration *m);
static void in_job_stop(HostMigration *m);

/* Close and unlink the incoming listener, if any. */
static void incoming_close(HostMigration *m)
{
    if (m->incoming_watch) {
        g_source_remove(m->incoming_watch);
        m->incoming_watch = 0;
    }
    if (m->incoming_listen_fd >= 0) {
        close(m->incoming_listen_fd);
        m->incoming_listen_fd = -1;
    }
    if (m->incoming_path) {
        unlink(m->incoming_path);
        g_clear_pointer(&m->incoming_path, g_free);
    }
}

static bool fd_is_stream_socket(int fd, int family, bool listening);

/* Large clipboard data by reference: see ref_send() below. */
static bool ref_send(void *opaque, GBytes *data);
static GBytes *ref_receive(void *opaque, uint32_t len, GError **errp);

static const VdcClipboardLiveRefOps host_ref_ops = {
    .send = ref_send,
    .receive = ref_receive,
};

/* Large slots received into memfds: see file_open() below. */
static int file_open(void *opaque, uint32_t total);
static GBytes *file_adopt(void *opaque, int fd, uint32_t total, GError **errp);

static const VdcClipboardLiveFileOps host_file_ops = {
    .open = file_open,
    .adopt = file_adopt,
};

/* A live frame's GBytes passed by reference (none yet). */
static GPtrArray *refs_new(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
}

HostMigration *host_migration_new(Host *h, VdcMigrationRegistry *reg,
                                  const HostMigrateOps *ops, void *opaque,
                                  GError **errp)
{
    HostMigration *m = g_new0(HostMigration, 1);

    m->h = h;
    m->reg = reg;
    m->ops = ops;
    m->opaque = opaque;
    m->downtime_us = -1;
    m->incoming_listen_fd = -1;
    if (!vdc_chardev_register_migration(h->dev, reg, 0, errp)) {
        g_free(m);
        return NULL;
    }
    if (!vdc_migration_register(reg, "vdagent-host", 0, &vmstate_host, &m->saved,
                                errp)) {
        vdc_migration_unregister(reg, "vdagent", 0);
        g_free(m);
        return NULL;
    }
    m->live = vdc_clipboard_live_new(h->hub, MIG_MAX_STREAM);
    vdc_clipboard_live_attach(m->live);
    m->prefault = host_prefault_new();
    vdc_clipboard_live_set_prefault(m->live, &host_prefault_ops, m->prefault);
    vdc_clipboard_live_set_ref_ops(m->live, &host_ref_ops, m);
    vdc_clipboard_live_set_file_ops(m->live, &host_file_ops, m);
    m->frame_refs = refs_new();
    if (!vdc_migration_register_live(reg, MIG_LIVE_IDSTR, 0, 1,
                                     &vdc_clipboard_live_ops, m->live, errp)) {
        vdc_migration_unregister(reg, "vdagent-host", 0);
        vdc_migration_unregister(reg, "vdagent", 0);
        vdc_clipboard_live_free(m->live);
        host_prefault_free(m->prefault);
        g_ptr_array_unref(m->frame_refs);
        g_free(m);
        return NULL;
    }
    return m;
}

void host_migration_free(HostMigration *m)
{
    if (!m) {
        return;
    }
    incoming_close(m);
    in_job_stop(m);
    live_out_detach(m);
    vdc_migration_unregister(m->reg, MIG_LIVE_IDSTR, 0);
    vdc_migration_unregister(m->reg, "vdagent-host", 0);
    vdc_migration_unregister(m->reg, "vdagent", 0);
    host_saved_clear(&m->saved);
    vdc_clipboard_live_free(m->live);   /* finishes every prefault */
    host_prefault_free(m->prefault);
    g_ptr_array_unref(m->frame_refs);
    g_free(m->error);
    g_free(m);
}

/* ---- outgoing --------------------------------------------------------------- */

/*
 * What goes with the state over "unix:", the plain and the live migration
 * alike (take_guest_channel()): the guest connection and our listening
 * socket, those open (n_fds of them), the channel's kind and path.
 */
typedef struct Handover {
    int fds[2];
    unsigned n_fds;
    uint8_t kind;
    char *path;
} Handover;

typedef struct OutJob {
    HostMigration *m;
    char *uri;
    int chan;                 /* an fd: channel (borrowed), or -1 */
    HostTlsCreds *tls;        /* tcp: over TLS, or NULL */
    GBytes *stream;
    Handover ho;
    gint64 stop_us;
    bool ok;
    char *error;
} OutJob;

/*
 * What the destination says on @fd: the answer of the check step, or
 * (version 2, @acks) an acknowledgement "VDMK" be64 N: the first N bytes
 * of the live part have loaded.  Returns 1 on exactly ok, 2 on an ack
 * (*@ack set), 0 otherwise with *@error (a refusal, not an answer) or
 * @errp (the channel) set.  The magic is read a byte at a time, so a peer
 * that is no vdagent-host (a wrong service answering one byte and
 * waiting) is told apart at its first wrong byte, not at the deadline.
 */
static int out_read_msg(int fd, gint64 deadline, bool acks, uint64_t *ack,
                        char **error, GError **errp)
{
    g_autoptr(GArray) nofds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(VdcMigrationStream) r = NULL;
    uint8_t answer[MIG_ANSWER_LEN], magic[4], version, status, a8[8];
    uint32_t n;
    unsigned i;

    for (i = 0; i < 4; i++) {
        if (!vdc_migration_channel_recv(fd, answer + i, 1, nofds, deadline,
                                        errp)) {
            return 0;
        }
        if (i == 3 && acks && answer[i] == (uint8_t)MIG_ACK_MAGIC[3] &&
            memcmp(answer, MIG_ACK_MAGIC, 3) == 0) {
            if (!vdc_migration_channel_recv(fd, a8, 8, nofds, deadline, errp)) {
                return 0;
            }
            r = vdc_migration_stream_new_reader(a8, 8);
            vdc_migration_get_be64(r, ack);             /* 8 of 8 */
            return 2;
        }
        if (answer[i] != (uint8_t)MIG_ANSWER_MAGIC[i]) {
            *error = g_strdup("the destination's answer is not a "
                              "vdagent-host migration answer");
            return 0;
        }
    }
    if (!vdc_migration_channel_recv(fd, answer + 4, MIG_ANSWER_LEN - 4, nofds,
                                    deadline, errp)) {
        return 0;
    }
    r = vdc_migration_stream_new_reader(answer, MIG_ANSWER_LEN);
    vdc_migration_get_bytes(r, magic, 4);   /* 10 bytes of 10: cannot fail */
    vdc_migration_get_u8(r, &version);
    vdc_migration_get_u8(r, &status);
    vdc_migration_get_be32(r, &n);
    /* Only exactly ok lets go: anything else is not an answer. */
    if (memcmp(magic, MIG_ANSWER_MAGIC, 4) != 0 ||
        version != MIG_ANSWER_VERSION || status > 1 ||
        (status == 0 && n != 0) || n > MIG_ANSWER_MAX_MSG) {
        *error = g_strdup("the destination's answer is not a "
                          "vdagent-host migration answer");
        return 0;
    }
    if (status == 0) {
        return 1;
    } else {
        g_autofree char *msg = g_malloc0(n + 1);

        if (vdc_migration_channel_recv(fd, msg, n, nofds, deadline, errp)) {
            *error = g_strdup_printf("destination refused: %s", msg);
        }
        return 0;
    }
}

/* The check step of version 1: exactly ok, or false as out_read_msg(). */
static bool out_read_answer(int fd, gint64 deadline, char **error,
                            GError **errp)
{
    return out_read_msg(fd, deadline, false, NULL, error, errp) == 1;
}

/*
 * The part a version 1 header and a version 2 final frame share: the
 * source's stop time, the guest path, the stream's length.
 */
static void put_header_tail(VdcMigrationStream *hdr, uint64_t stop_us,
                            const char *path, size_t path_len,
                            uint64_t stream_len)
{
    vdc_migration_put_be64(hdr, stop_us);
    vdc_migration_put_be32(hdr, (uint32_t)path_len);
    vdc_migration_put_bytes(hdr, path, path_len);
    vdc_migration_put_be64(hdr, stream_len);
}

static gpointer out_thread(gpointer opaque)
{
    OutJob *job = opaque;
    gint64 deadline = g_get_monotonic_time() + (gint64)MIG_TIMEOUT_MS * 1000;
    g_autoptr(GError) err = NULL;
    g_autoptr(VdcMigrationStream) hdr = vdc_migration_stream_new_buffer();
    size_t path_len = job->ho.path ? strlen(job->ho.path) : 0;
    size_t hlen, slen;
    const uint8_t *sdata = g_bytes_get_data(job->stream, &slen);
    const uint8_t *hdata;
    int fd = job->chan;             /* an fd: channel, or connect now */
    HostTlsChannel *tls = NULL;

    if (fd < 0) {
        fd = vdc_migration_channel_uri_socket(job->uri, false, &err);
        if (fd >= 0 && job->tls) {
            fd = tls_connect(job->tls, job->uri, fd, g_get_monotonic_time() +
                             (gint64)MIG_HELLO_MS * 1000, &tls, &err);
        }
    }
    if (fd < 0) {
        goto out;
    }
    vdc_migration_put_bytes(hdr, MIG_MAGIC, 4);
    vdc_migration_put_u8(hdr, MIG_VERSION);
    vdc_migration_put_u8(hdr, job->ho.kind);
    vdc_migration_put_u8(hdr, job->ho.n_fds);
    vdc_migration_put_u8(hdr, 0);
    put_header_tail(hdr, job->stop_us, job->ho.path, path_len, slen);
    hdata = vdc_migration_stream_data(hdr, &hlen);
    if (!vdc_migration_channel_send(fd, hdata, hlen, job->ho.fds, job->ho.n_fds,
                                    deadline, &err) ||
        !vdc_migration_channel_send(fd, sdata, slen, NULL, 0, deadline, &err)) {
        goto out;
    }
    job->ok = out_read_answer(fd, deadline, &job->error, &err);
out:
    if (!job->ok && !job->error) {
        job->error = channel_error(tls, err);
    }
    if (job->chan < 0) {
        channel_close(tls, fd);
    }
    return NULL;
}

/*
 * The destination took the state: the source is done.  With the guest
 * channel handed over (@handed_over), the destination owns the guest: let
 * go, unlink nothing.  The guest's answers now go to the destination.
 */
static void source_completed(HostMigration *m, bool handed_over)
{
    Host *h = m->h;

    if (handed_over) {
        host_log(h, "guest channel handed over");
        m->ops->guest_released(m->opaque);
        vdc_chardev_reset(h->dev);
    }
    m->downtime_us = -1;
    host_fail_waiting(h, "migrated: ask the destination");
    mig_set_status(m, HOST_MIG_COMPLETED, NULL);
    host_set_status(h, HOST_POSTMIGRATE);
}

static void resume_after_failure(HostMigration *m, const char *error)
{
    mig_set_status(m, HOST_MIG_FAILED, error);
    host_set_status(m->h, m->before);
}

static gboolean out_done(gpointer opaque)
{
    OutJob *job = opaque;
    HostMigration *m = job->m;

    if (!job->ok) {
        /* Nothing was given up: carry on as if nothing had happened. */
        resume_after_failure(m, job->error);
    } else {
        source_completed(m, job->ho.n_fds > 0);
    }
    g_bytes_unref(job->stream);
    g_free(job->uri);
    g_free(job->ho.path);
    g_free(job->error);
    g_free(job);
    return G_SOURCE_REMOVE;
}

static gboolean out_thread_done_idle(gpointer opaque)
{
    return out_done(opaque);
}

static gpointer out_thread_main(gpointer opaque)
{
    out_thread(opaque);
    g_idle_add(out_thread_done_idle, opaque);
    return NULL;
}

/* Save everything into memory. */
static GBytes *host_save(HostMigration *m, GError **errp)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    const uint8_t *data;
    size_t len;

    if (!vdc_migration_save(m->reg, s, errp)) {
        return NULL;
    }
    data = vdc_migration_stream_data(s, &len);
    return g_bytes_new(data, len);
}

/*
 * Over "unix:" the guest channel goes with the state: its fds, kind and
 * path into @ho (zeroed before).  Over tcp, or with no guest channel,
 * @ho stays empty.
 */
static void take_guest_channel(HostMigration *m, const char *uri,
                               Handover *ho)
{
    HostGuestChannel ch;

    if (!g_str_has_prefix(uri, "unix:") ||
        !m->ops->guest_channel(m->opaque, &ch)) {
        return;
    }
    ho->kind = ch.kind;
    if (ch.conn_fd >= 0) {
        ho->fds[ho->n_fds++] = ch.conn_fd;
    }
    if (ch.listen_fd >= 0) {
        ho->fds[ho->n_fds++] = ch.listen_fd;
    }
    ho->path = g_strdup(ch.path);
}

bool host_migrate_start(HostMigration *m, const char *uri, GError **errp)
{
    Host *h = m->h;
    g_autoptr(GBytes) stream = NULL;
    g_autoptr(GError) err = NULL;
    OutJob *job;
    gint64 stop_us;
    int chan = -1;

    if (m->status == HOST_MIG_ACTIVE || m->status == HOST_MIG_SETUP ||
        m->lo) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
                    "a migration is already in progress");
        return false;
    }
    m->final_on_loop = false;
    if (host_status(h) == HOST_INMIGRATE) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "an incoming migration is expected");
        return false;
    }
    if (g_str_has_prefix(uri, "fd:")) {
        if (!host_parse_fd(uri + 3, &chan, errp)) {
            return false;
        }
    } else if (!g_str_has_prefix(uri, "file:") &&
               !g_str_has_prefix(uri, "unix:") &&
               !g_str_has_prefix(uri, "tcp:")) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "unsupported migration URI '%s' (file:, unix:, fd:, tcp:)",
                    uri);
        return false;
    }
    if (m->cap_pause) {
        if (g_str_has_prefix(uri, "file:")) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "pause-before-switchover needs a channel (unix:, "
                        "tcp:, fd:), not file:");
            return false;
        }
        return live_start(m, uri, chan, errp);
    }

    /*
     * Started: from here on a failure shows only in the migration status
     * and the MIGRATION event (the host resumes), never through @errp.
     * The source stops reading the guest: bytes wait in the kernel.
     */
    stop_us = g_get_monotonic_time();
    m->before = host_status(h);
    mig_set_status(m, HOST_MIG_ACTIVE, NULL);
    host_set_status(h, host_status(h) == HOST_POSTMIGRATE ? HOST_POSTMIGRATE
                                                          : HOST_PAUSED);
    if (!g_str_has_prefix(uri, "unix:") && m->ops->guest_drain) {
        /* The channel stays here: what the guest wrote must not. */
        m->ops->guest_drain(m->opaque);
    }
    stream = host_save(m, &err);
    if (!stream) {
        resume_after_failure(m, err->message);
        return true;
    }
    if (g_str_has_prefix(uri, "file:")) {
        int fd = open(uri + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        size_t len;
        const uint8_t *p = g_bytes_get_data(stream, &len);
        g_autoptr(VdcMigrationStream) s = NULL;

        if (fd < 0) {
            g_autofree char *msg = g_strdup_printf("cannot open %s: %s",
                                                   uri + 5, g_strerror(errno));

            resume_after_failure(m, msg);
            return true;
        }
        s = vdc_migration_stream_new_fd(fd, true);
        vdc_migration_put_bytes(s, p, len);
        if (!vdc_migration_stream_flush(s, &err)) {
            close(fd);
            resume_after_failure(m, err->message);
            return true;
        }
        g_clear_pointer(&s, vdc_migration_stream_free);
        close(fd);
        mig_set_status(m, HOST_MIG_COMPLETED, NULL);
        host_set_status(h, HOST_POSTMIGRATE);
        return true;
    }

    job = g_new0(OutJob, 1);
    job->m = m;
    job->uri = g_strdup(uri);
    job->chan = -1;
    job->stream = g_steal_pointer(&stream);
    job->stop_us = stop_us;
    job->chan = chan;
    job->tls = chan < 0 ? uri_tls(m, uri) : NULL;
    take_guest_channel(m, uri, &job->ho);
    g_thread_unref(g_thread_new("migrate-out", out_thread_main, job));
    return true;
}

/* ---- outgoing, with a live phase -------------------------------------------
 *
 * The channel's version 2 (pause-before-switchover): the header is the
 * version 1 header's 20 bytes with version 2 and every other field 0; then
 * frames:
 *   0x01 live   be32 length, that many bytes of the QEVM stream: its
 *               header and START sections first, then PART sections
 *               (length 0: a keepalive, sent when idle for 1 s)
 *   0x02 final  u8 guest-kind, u8 n-fds, u16 0, be64 stop time, be32 path
 *               length, path, be64 length, the rest of the stream (END
 *               sections, the FULL sections, EOF, vmdesc); over unix: the
 *               guest channel rides on its first bytes
 * then the answer and the check step exactly as in version 1.  The
 * destination checks every live frame as it comes (vdc-savevm.h's loader),
 * keeps its data apart from the device until the final frame has loaded,
 * and acknowledges each live frame that loaded: "VDMK" be64 N, N the
 * live bytes loaded so far (possibly before the answer).  The source
 * reports "pre-switchover" only once every live byte sent is acknowledged,
 * so that the remainder is all that is left (not what the sockets hold).
 *
 * The main loop makes the frames (the hub is read there) and a thread
 * sends them: at most MIG_LIVE_QUEUE bytes wait, so that what changes is
 * sent again from the hub's newest data, not from a long queue.  A frame
 * refers to the hub's data (its GBytes, immutable, referenced) rather
 * than copying it, and goes out in one scattered send; the destination
 * reads each frame through a pull stream straight into its slots.  The
 * bytes on the wire are the same either way.
 *
 * The switchover goes through no thread when it can: the source's main
 * loop sends the final frame itself if the thread has nothing to send
 * (live_send_final_now()), and the destination's main loop, which waits
 * for each frame that does not follow at once (in_await_turn()),
 * receives and loads a final frame that came whole (in_frame_ready()).
 * Each hand-off between threads costs a wake-up, 50-100 us here and
 * several hundred when the other vCPU was halted: in the downtime, two
 * of them were most of its spread.
 */

typedef struct LiveFrame {
    uint8_t type;               /* MIG_FRAME_LIVE, MIG_FRAME_FINAL, 0: stop */
    GPtrArray *pieces;          /* GBytes: the stream's bytes in order, the
                                   clipboard's data referenced, not copied
                                   (stream-live.h), or NULL */
    size_t len;                 /* their total */
    GPtrArray *refs;            /* GBytes passed by their memfds, or NULL */
    size_t skip;                /* the final frame: its first bytes (and
                                   descriptors) the main loop sent */
} LiveFrame;

struct LiveOut {
    gint refs;
    HostMigration *m;           /* main loop; NULL once detached */
    char *uri;
    int chan;                   /* an fd: channel (borrowed), or -1 */
    bool pass_fds;              /* a unix socket: data by reference */
    HostTlsCreds *tls;          /* tcp: over TLS, or NULL */
    GMutex lock;
    GMutex send;                /* held by whoever writes the channel */
    bool final_begun;           /* under send: the main loop sent the
                                   final frame's first bytes: nothing
                                   else goes before its rest */
    int fd;                     /* the channel while the thread has it */
    bool cancel;                /* under lock */
    GAsyncQueue *q;             /* LiveFrame, main -> thread */
    int wake;                   /* an eventfd: a frame was pushed */
    gint queued;                /* live bytes pushed, not yet sent */
    uint64_t sent;              /* under lock: live bytes sent */
    uint64_t acked;             /* under lock: of them, loaded there */
    bool stopped;               /* main: stopped for the switchover */
    guint poll_id;              /* main: live_poll() */
    char *save_error;           /* main: the final state could not save */
    /* The final frame's header: set before it is pushed. */
    Handover ho;
    gint64 stop_us;
    /* The thread's result. */
    bool ok;
    char *error;
};

static void live_frame_free(gpointer p)
{
    LiveFrame *f = p;

    if (f->pieces) {
        g_ptr_array_unref(f->pieces);
    }
    if (f->refs) {
        g_ptr_array_unref(f->refs);
    }
    g_free(f);
}

static LiveOut *live_ref(LiveOut *lo)
{
    g_atomic_int_inc(&lo->refs);
    return lo;
}

static void live_unref(LiveOut *lo)
{
    if (!g_atomic_int_dec_and_test(&lo->refs)) {
        return;
    }
    g_async_queue_unref(lo->q);
    close(lo->wake);
    g_mutex_clear(&lo->lock);
    g_mutex_clear(&lo->send);
    g_free(lo->uri);
    g_free(lo->ho.path);
    g_free(lo->save_error);
    g_free(lo->error);
    g_free(lo);
}

/* A frame of @s's bytes; @refs (GBytes, taken, or NULL) go with it by
 * their memfds (ref_send()). */
static LiveFrame *live_frame_new(uint8_t type, VdcMigrationStream *s,
                                 GPtrArray *refs)
{
    LiveFrame *f = g_new0(LiveFrame, 1);

    f->type = type;
    f->refs = refs;
    if (s) {
        guint i;

        f->pieces = vdc_migration_stream_steal_pieces(s);   /* no copy */
        for (i = 0; i < f->pieces->len; i++) {
            f->len += g_bytes_get_size(f->pieces->pdata[i]);
        }
    }
    return f;
}

/* Queue @f (taken) for the thread. */
static void live_push_frame(LiveOut *lo, LiveFrame *f)
{
    if (f->type == MIG_FRAME_LIVE) {
        g_atomic_int_add(&lo->queued, (gint)f->len);
    }
    g_async_queue_push(lo->q, f);
    /* Wake the thread's poll; a full counter (never) is awake anyway. */
    eventfd_write(lo->wake, 1);
}

/* Queue a frame of @s's bytes for the thread (live_frame_new()). */
static void live_push(LiveOut *lo, uint8_t type, VdcMigrationStream *s,
                      GPtrArray *refs)
{
    live_push_frame(lo, live_frame_new(type, s, refs));
}

/*
 * The thread's next frame: one queued, else wait up to @timeout_ms for a
 * push or for the destination to say something (an ack, an answer, its
 * end), whichever comes first.  NULL when none was pushed.
 */
static LiveFrame *live_next_frame(LiveOut *lo, int fd, int timeout_ms)
{
    LiveFrame *f = g_async_queue_try_pop(lo->q);
    struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
                           { .fd = lo->wake, .events = POLLIN } };
    eventfd_t n;

    if (f) {
        return f;
    }
    if (poll(p, 2, timeout_ms) > 0 && (p[1].revents & POLLIN)) {
        eventfd_read(lo->wake, &n);         /* non-blocking: drained */
    }
    return g_async_queue_try_pop(lo->q);
}

/* Make the thread stop: at its next frame, or now if it waits on I/O. */
static void live_stop_thread(LiveOut *lo)
{
    live_push(lo, 0, NULL, NULL);
    g_mutex_lock(&lo->lock);
    lo->cancel = true;
    if (lo->fd >= 0) {
        shutdown(lo->fd, SHUT_RDWR);
    }
    g_mutex_unlock(&lo->lock);
}

/* Did the destination write (a refusal) or close? */
static bool live_peer_spoke(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) > 0;
}

/*
 * @f's bytes as they go on the wire: its header (written into @hdr) and
 * its pieces, in *@n_iov pieces (g_free() them); the descriptors that go
 * with the first bytes in @fds, their number in *@n_fds.
 */
static struct iovec *live_frame_iov(LiveOut *lo, const LiveFrame *f,
                                    VdcMigrationStream *hdr, size_t *n_iov,
                                    int *fds, unsigned *n_fds)
{
    size_t len = f->len, path_len = lo->ho.path ? strlen(lo->ho.path) : 0;
    guint n = f->pieces ? f->pieces->len : 0, i;
    struct iovec *iov = g_new(struct iovec, n + 1);

    vdc_migration_put_u8(hdr, f->type);
    if (f->type == MIG_FRAME_LIVE) {
        vdc_migration_put_be32(hdr, (uint32_t)len);
    } else {
        vdc_migration_put_u8(hdr, lo->ho.kind);
        vdc_migration_put_u8(hdr, lo->ho.n_fds);
        vdc_migration_put_be16(hdr, 0);
        put_header_tail(hdr, lo->stop_us, lo->ho.path, path_len, len);
    }
    /* The header and the frame's pieces in one stream of sends. */
    iov[0].iov_base = (void *)vdc_migration_stream_data(hdr, &iov[0].iov_len);
    for (i = 0; i < n; i++) {
        gsize plen;

        iov[i + 1].iov_base = (void *)g_bytes_get_data(f->pieces->pdata[i],
                                                       &plen);
        iov[i + 1].iov_len = plen;
    }
    *n_iov = n + 1;
    *n_fds = 0;
    if (f->type == MIG_FRAME_FINAL) {
        memcpy(fds, lo->ho.fds, lo->ho.n_fds * sizeof(int));
        *n_fds = lo->ho.n_fds;
    }
    /* Data by reference: the memfds ride on the frame's first bytes. */
    for (i = 0; f->refs && i < f->refs->len; i++) {
        fds[(*n_fds)++] = host_sealed_fd(f->refs->pdata[i]);
    }
    return iov;
}

/* The thread: send @f (what of it the main loop has not). */
static bool live_send_frame(LiveOut *lo, int fd, const LiveFrame *f,
                            GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)MIG_TIMEOUT_MS * 1000;
    g_autoptr(VdcMigrationStream) hdr = vdc_migration_stream_new_buffer();
    int fds[VDC_MIGRATION_CHANNEL_MAX_FDS];
    unsigned n_fds;
    size_t n_iov, skip = f->skip;
    g_autofree struct iovec *iov = live_frame_iov(lo, f, hdr, &n_iov, fds,
                                                  &n_fds);
    struct iovec *v = iov;
    bool ok;

    g_mutex_lock(&lo->send);
    if (lo->final_begun && f->type != MIG_FRAME_FINAL) {
        /* A keepalive after the final frame began: it would not be read. */
        g_mutex_unlock(&lo->send);
        return true;
    }
    if (skip > 0) {
        n_fds = 0;                      /* they went with the first bytes */
        for (; n_iov > 0 && skip >= v->iov_len; v++, n_iov--) {
            skip -= v->iov_len;
        }
        if (n_iov > 0) {
            v->iov_base = (uint8_t *)v->iov_base + skip;
            v->iov_len -= skip;
        }
    }
    ok = vdc_migration_channel_sendv(fd, v, n_iov, fds, n_fds, deadline, errp);
    g_mutex_unlock(&lo->send);
    return ok;
}

/*
 * The main loop, at the switchover: send the final frame @f itself if the
 * thread has nothing to send (as the socket takes it, without waiting):
 * the thread's wake-up (about 50 us, more when a halted vCPU must be
 * woken) is then not in the downtime.  What did not go, the thread sends
 * (f->skip).  True when all of it went.
 */
static bool live_send_final_now(LiveOut *lo, LiveFrame *f)
{
    g_autoptr(VdcMigrationStream) hdr = NULL;
    g_autofree struct iovec *iov = NULL;
    int fds[VDC_MIGRATION_CHANNEL_MAX_FDS];
    unsigned n_fds;
    size_t n_iov, total = 0;
    gssize n = 0;
    int fd;

    if (g_atomic_int_get(&lo->queued) != 0 || !g_mutex_trylock(&lo->send)) {
        return false;                   /* the thread sends: it is busy */
    }
    g_mutex_lock(&lo->lock);
    fd = lo->cancel ? -1 : lo->fd;
    g_mutex_unlock(&lo->lock);
    if (fd >= 0) {
        hdr = vdc_migration_stream_new_buffer();
        iov = live_frame_iov(lo, f, hdr, &n_iov, fds, &n_fds);
        /* An error: the thread's send meets it again and says it. */
        n = vdc_migration_channel_sendv_now(fd, iov, n_iov, fds, n_fds, NULL);
        if (n > 0) {
            f->skip = (size_t)n;
            lo->final_begun = true;
        }
        total = iov[0].iov_len + f->len;   /* the header, the pieces */
    }
    g_mutex_unlock(&lo->send);
    return fd >= 0 && n > 0 && (size_t)n == total;
}

/* Did the main loop send the final frame's first bytes? */
static bool live_final_begun(LiveOut *lo)
{
    bool begun;

    g_mutex_lock(&lo->send);
    begun = lo->final_begun;
    g_mutex_unlock(&lo->send);
    return begun;
}

static gboolean live_wake(gpointer opaque);
static gboolean live_done(gpointer opaque);

static gpointer live_thread(gpointer opaque)
{
    LiveOut *lo = opaque;
    g_autoptr(GError) err = NULL;
    uint8_t hdr[20] = { 'V', 'D', 'M', 'G', MIG_LIVE_VERSION };
    static const LiveFrame keepalive = { MIG_FRAME_LIVE, NULL, 0, NULL, 0 };
    int fd = lo->chan;
    HostTlsChannel *tls = NULL;
    gint64 last_send;
    bool cancel;

    if (fd < 0) {
        fd = vdc_migration_channel_uri_socket(lo->uri, false, &err);
        if (fd >= 0 && lo->tls) {
            fd = tls_connect(lo->tls, lo->uri, fd, g_get_monotonic_time() +
                             (gint64)MIG_HELLO_MS * 1000, &tls, &err);
        }
    } else {
        tcp_nodelay(fd);
    }
    if (fd < 0) {
        goto out;
    }
    g_mutex_lock(&lo->lock);
    lo->fd = fd;
    cancel = lo->cancel;
    g_mutex_unlock(&lo->lock);
    if (cancel) {
        lo->error = g_strdup("cancelled");
        goto out;
    }
    if (!vdc_migration_channel_send(fd, hdr, sizeof(hdr), NULL, 0,
                                    g_get_monotonic_time() +
                                    (gint64)MIG_TIMEOUT_MS * 1000, &err)) {
        goto out;
    }
    last_send = g_get_monotonic_time();
    for (;;) {
        LiveFrame *f;
        const LiveFrame *send;
        bool ok;
        uint64_t ack;
        int said;

        /* A frame, or an ack the moment it comes (no polling interval). */
        f = live_next_frame(lo, fd, MIG_LIVE_KEEPALIVE_MS);
        send = f;
        if (f && f->type == 0) {
            live_frame_free(f);
            lo->error = g_strdup("cancelled");
            goto out;
        }
        /* What the destination said: acks, or an early answer (not
         * early once the main loop sent some of the final frame). */
        while (!(f && f->skip > 0) && live_peer_spoke(fd)) {
            said = out_read_msg(fd, g_get_monotonic_time() + G_USEC_PER_SEC,
                                true, &ack, &lo->error, &err);
            if (said == 2) {
                g_mutex_lock(&lo->lock);
                ok = ack >= lo->acked && ack <= lo->sent;
                if (ok) {
                    lo->acked = ack;
                }
                g_mutex_unlock(&lo->lock);
                if (ok) {
                    g_idle_add(live_wake, live_ref(lo));
                    continue;
                }
                lo->error = g_strdup("the destination acknowledged bytes "
                                     "never sent");
            } else if (live_final_begun(lo)) {
                /* It answers the final frame the main loop sent (and
                 * pushes now, if it has not yet). */
                if (!f) {
                    f = g_async_queue_pop(lo->q);
                }
                lo->ok = said == 1;
            } else if (said == 1) {
                lo->error = g_strdup("the destination answered before the "
                                     "final state");
            }
            if (f) {
                live_frame_free(f);
            }
            goto out;
        }
        if (!f) {
            if (g_get_monotonic_time() - last_send <
                (gint64)MIG_LIVE_KEEPALIVE_MS * 1000) {
                continue;
            }
            send = &keepalive;
        }
        ok = live_send_frame(lo, fd, send, &err);
        last_send = g_get_monotonic_time();
        if (f && f->type == MIG_FRAME_LIVE) {
            g_mutex_lock(&lo->lock);
            lo->sent += f->len;
            g_mutex_unlock(&lo->lock);
            g_atomic_int_add(&lo->queued, -(gint)f->len);
            g_idle_add(live_wake, live_ref(lo));
        }
        if (ok && f && f->type == MIG_FRAME_FINAL) {
            /* Acks of the last live frames may come before the answer. */
            do {
                said = out_read_msg(fd, g_get_monotonic_time() +
                                    (gint64)MIG_TIMEOUT_MS * 1000, true,
                                    &ack, &lo->error, &err);
            } while (said == 2);
            lo->ok = said == 1;
            live_frame_free(f);
            goto out;
        }
        if (f) {
            live_frame_free(f);
        }
        if (!ok) {
            goto out;
        }
    }
out:
    if (!lo->ok && !lo->error) {
        lo->error = channel_error(tls, err);
    }
    g_mutex_lock(&lo->lock);
    lo->fd = -1;
    g_mutex_unlock(&lo->lock);
    if (lo->chan < 0) {
        channel_close(tls, fd);
    }
    g_idle_add(live_done, lo);          /* the thread's reference */
    return NULL;
}

/*
 * Send what changed, a frame at a time, while fewer than MIG_LIVE_QUEUE
 * bytes wait; once everything is sent and what is left is small, the
 * status becomes "pre-switchover".
 */
static void live_pump(HostMigration *m)
{
    LiveOut *lo = m->lo;

    if (!lo || lo->stopped || (m->status != HOST_MIG_ACTIVE &&
                               m->status != HOST_MIG_PRE_SWITCHOVER)) {
        return;
    }
    while (g_atomic_int_get(&lo->queued) < (gint)MIG_LIVE_QUEUE &&
           vdc_migration_save_live_pending(m->reg) > 0) {
        g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
        g_autoptr(GError) err = NULL;

        if (!vdc_migration_save_live_iterate(m->reg, s, MIG_LIVE_FRAME_DATA,
                                             &err)) {
            g_ptr_array_set_size(m->frame_refs, 0);
            lo->save_error = g_strdup(err->message);
            live_stop_thread(lo);
            return;
        }
        live_push(lo, MIG_FRAME_LIVE, s, g_steal_pointer(&m->frame_refs));
        m->frame_refs = refs_new();
    }
    if (m->status == HOST_MIG_ACTIVE && g_atomic_int_get(&lo->queued) == 0 &&
        vdc_migration_save_live_pending(m->reg) <= MIG_LIVE_REMAINDER) {
        bool loaded;

        /* Everything sent has loaded there: only the remainder is left. */
        g_mutex_lock(&lo->lock);
        loaded = lo->acked == lo->sent;
        g_mutex_unlock(&lo->lock);
        if (loaded) {
            mig_set_status(m, HOST_MIG_PRE_SWITCHOVER, NULL);
        }
    }
}

static gboolean live_wake(gpointer opaque)
{
    LiveOut *lo = opaque;

    if (lo->m) {
        live_pump(lo->m);
    }
    live_unref(lo);
    return G_SOURCE_REMOVE;
}

static gboolean live_poll(gpointer opaque)
{
    live_pump(opaque);
    return G_SOURCE_CONTINUE;
}

static gboolean live_done(gpointer opaque)
{
    LiveOut *lo = opaque;
    HostMigration *m = lo->m;
    Host *h;

    if (!m) {
        live_unref(lo);                 /* detached: the thread's */
        return G_SOURCE_REMOVE;
    }
    h = m->h;
    m->lo = NULL;
    lo->m = NULL;
    if (lo->poll_id) {
        g_source_remove(lo->poll_id);
        lo->poll_id = 0;
    }
    vdc_migration_save_live_cleanup(m->reg);
    if (lo->ok) {
        source_completed(m, lo->ho.n_fds > 0);
    } else if (m->status == HOST_MIG_CANCELLING) {
        mig_set_status(m, HOST_MIG_CANCELLED, NULL);
        if (lo->stopped) {
            host_set_status(h, m->before);
        }
    } else {
        mig_set_status(m, HOST_MIG_FAILED,
                       lo->save_error ? lo->save_error : lo->error);
        if (lo->stopped) {
            host_set_status(h, m->before);
        }
    }
    live_unref(lo);                     /* the thread's */
    live_unref(lo);                     /* the main loop's */
    return G_SOURCE_REMOVE;
}

static bool live_running(const HostMigration *m)
{
    return m->lo != NULL && !m->lo->stopped;
}

/* host_migration_free(): let a running thread end on its own. */
static void live_out_detach(HostMigration *m)
{
    LiveOut *lo = m->lo;

    if (!lo) {
        return;
    }
    if (lo->poll_id) {
        g_source_remove(lo->poll_id);
        lo->poll_id = 0;
    }
    lo->m = NULL;
    m->lo = NULL;
    live_stop_thread(lo);
    vdc_migration_save_live_cleanup(m->reg);
    live_unref(lo);
}

static bool live_start(HostMigration *m, const char *uri, int chan,
                       GError **errp)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    LiveOut *lo;
    int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    if (wake < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "eventfd: %s", g_strerror(errno));
        return false;
    }
    if (!vdc_migration_save_live_setup(m->reg, s, errp)) {
        vdc_migration_save_live_cleanup(m->reg);
        close(wake);
        return false;
    }
    lo = g_new0(LiveOut, 1);
    lo->wake = wake;
    lo->refs = 2;                       /* the main loop's, the thread's */
    lo->m = m;
    lo->uri = g_strdup(uri);
    lo->chan = chan;
    lo->tls = chan < 0 ? uri_tls(m, uri) : NULL;
    lo->pass_fds = chan < 0 ? g_str_has_prefix(uri, "unix:")
                            : fd_is_stream_socket(chan, AF_UNIX, false);
    lo->fd = -1;
    g_mutex_init(&lo->lock);
    g_mutex_init(&lo->send);
    lo->q = g_async_queue_new_full(live_frame_free);
    m->lo = lo;
    mig_set_status(m, HOST_MIG_ACTIVE, NULL);
    live_push(lo, MIG_FRAME_LIVE, s, NULL);
    lo->poll_id = g_timeout_add(MIG_LIVE_POLL_MS, live_poll, m);
    g_thread_unref(g_thread_new("migrate-live", live_thread, lo));
    live_pump(m);
    return true;
}

bool host_migration_set_pause(HostMigration *m, bool on, GError **errp)
{
    if (m->lo || m->status == HOST_MIG_ACTIVE ||
        m->status == HOST_MIG_SETUP) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
                    "There's a migration process in progress");
        return false;
    }
    m->cap_pause = on;
    return true;
}

bool host_migration_pause(const HostMigration *m)
{
    return m->cap_pause;
}

bool host_migrate_continue(HostMigration *m, const char *state,
                           GError **errp)
{
    Host *h = m->h;
    LiveOut *lo = m->lo;
    g_autoptr(VdcMigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    LiveFrame *f;
    bool ok;

    if (!lo || m->status != HOST_MIG_PRE_SWITCHOVER ||
        strcmp(state, host_mig_status_name(m->status)) != 0) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "Migration not in expected state: %s",
                    host_mig_status_name(m->status));
        return false;
    }
    /*
     * As host_migrate_start(): stop, keep what the guest wrote.  The
     * events (STOP, MIGRATION "device") go once the final frame did:
     * written to the clients before, they were some 35 us of the
     * downtime.
     */
    host_hold_events(h, true);
    lo->stopped = true;
    lo->stop_us = g_get_monotonic_time();
    m->before = host_status(h);
    host_set_status(h, host_status(h) == HOST_POSTMIGRATE ? HOST_POSTMIGRATE
                                                          : HOST_PAUSED);
    mig_set_status(m, HOST_MIG_DEVICE, NULL);
    if (!g_str_has_prefix(lo->uri, "unix:") && m->ops->guest_drain) {
        m->ops->guest_drain(m->opaque);
    }
    s = vdc_migration_stream_new_buffer();
    ok = vdc_migration_save_live_complete(m->reg, s, &err);
    if (!ok) {
        lo->save_error = g_strdup(err->message);
        live_stop_thread(lo);
        host_hold_events(h, false);
        return true;
    }
    take_guest_channel(m, lo->uri, &lo->ho);
    f = live_frame_new(MIG_FRAME_FINAL, s, NULL);
    m->final_on_loop = live_send_final_now(lo, f);
    live_push_frame(lo, f);
    host_hold_events(h, false);
    return true;
}

bool host_migrate_cancel(HostMigration *m, GError **errp)
{
    if (m->lo) {
        if (m->status == HOST_MIG_DEVICE) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                        "the final state is on its way to the destination: "
                        "too late to cancel");
            return false;
        }
        if (m->status != HOST_MIG_CANCELLING) {
            mig_set_status(m, HOST_MIG_CANCELLING, NULL);
            live_stop_thread(m->lo);
        }
        return true;
    }
    if (m->status == HOST_MIG_ACTIVE && host_status(m->h) != HOST_INMIGRATE) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "a migration without a live phase cannot be cancelled "
                    "(the host is stopped and its state on its way)");
        return false;
    }
    return true;
}

/* ---- incoming --------------------------------------------------------------- */

typedef struct InJob {
    HostMigration *m;
    guint done_id;            /* in_done()'s idle source, once posted */
    int fd;                   /* the accepted channel (or its TLS relay's) */
    bool own_fd;
    HostTlsCreds *creds;      /* tcp: over TLS: the handshake comes first */
    HostTlsChannel *tls;      /* the thread sets it (atomically) after the
                                 handshake */
    uint8_t kind;
    char *path;
    uint64_t stop_us;         /* the peer's clock: see in_downtime() */
    GBytes *stream;
    GArray *fds;
    char *error;
    VdcMigrationLoader *ld;      /* a live migration's: its live part loaded */
    bool live_frame;          /* the thread loads a live frame: its
                                 descriptors are data by reference */
    /*
     * Between a live migration's frames the main loop waits for the
     * next one (in_frame_wait()), not the thread: the final frame then
     * wakes the loop that loads it, with no hand-off in the downtime.
     */
    GMutex lock;
    GCond cond;
    int turn;                 /* under lock: IN_TURN_* */
    guint wait_id;            /* under lock: in_frame_wait() posted */
    gint64 frame_deadline;    /* the next frame's first byte, by then */
    guint watch_id;           /* main: the channel watched for it */
    guint timer_id;           /* main: until frame_deadline */
    int pipe[2];              /* plain tcp: in_pull_file()'s, else -1 */
    size_t pipe_size;
    uint64_t spliced;         /* the bytes in_pull_file() moved */
} InJob;

enum {
    IN_TURN_THREAD,           /* the thread receives */
    IN_TURN_MAIN,             /* the main loop waits for the next frame */
    IN_TURN_END,              /* the thread is done: it returns */
};

/*
 * Large clipboard data by reference (clipboard-live.h's ref ops): over a
 * unix socket, a slot whose data is sealed memory of ours (host/sealed.h:
 * the host's clipboard peer seals its large data in the background, and
 * data that came so stays so) goes
 * as its memfd, riding on the live frame's first bytes (SCM_RIGHTS), at
 * most VDC_MIGRATION_CHANNEL_MAX_FDS a frame; the destination checks its
 * seals and size and maps it.  Neither end copies the bytes, and the
 * destination takes no new memory for them.  Not in the final frame (its
 * descriptors are the guest channel's): a slot still to send then goes
 * by its bytes, as over tcp: or to a file.
 */
static bool ref_send(void *opaque, GBytes *data)
{
    HostMigration *m = opaque;

    if (!m->lo || m->lo->stopped || !m->lo->pass_fds ||
        m->frame_refs->len >= VDC_MIGRATION_CHANNEL_MAX_FDS ||
        host_sealed_fd(data) < 0) {
        return false;
    }
    g_ptr_array_add(m->frame_refs, g_bytes_ref(data));
    return true;
}

/* On the receiving thread: the next descriptor the live frame passed. */
static GBytes *ref_receive(void *opaque, uint32_t len, GError **errp)
{
    HostMigration *m = opaque;
    GArray *fds = m->in_job && m->in_job->live_frame ? m->in_job->fds : NULL;
    int fd;

    if (!fds || fds->len == 0) {
        g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "no descriptor came with it");
        return NULL;
    }
    fd = g_array_index(fds, int, 0);
    g_array_remove_index(fds, 0);
    return host_sealed_adopt(fd, len, errp);
}

/*
 * A large slot's bytes into a memfd (clipboard-live.h's file ops): the
 * kernel gives a file new pages as its bytes are written, without the
 * page faults and the zeroing that new memory costs the receive (on the
 * bench's VM receiving 64 MiB into new memory takes about twice as long
 * as into memory faulted in before; into a memfd, by splice() from the
 * socket, no longer than that), and the data ends as sealed memory of
 * ours, which a later migration over unix: passes on by reference.
 * Not where --incoming-prealloc's pool holds the slot's pages: they are
 * ready, and were taken for it.
 */
static int file_open(void *opaque, uint32_t total)
{
    HostMigration *m = opaque;

    if (host_prefault_pool_left(m->prefault) >= total) {
        return -1;
    }
    return host_sealed_file();
}

static GBytes *file_adopt(void *opaque, int fd, uint32_t total, GError **errp)
{
    (void)opaque;
    return host_sealed_finish(fd, total, errp);
}

static gpointer in_thread_main(gpointer opaque);
static gboolean in_frame_wait(gpointer opaque);
static gboolean in_accept(gint fd, GIOCondition cond, gpointer opaque);

static void in_reply(InJob *job, const char *error)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    g_autoptr(VdcMigrationStream) s = NULL;
    const uint8_t *data;
    size_t len;

    if (job->fd < 0) {
        return;
    }
    s = vdc_migration_stream_new_buffer();
    vdc_migration_put_bytes(s, MIG_ANSWER_MAGIC, 4);
    vdc_migration_put_u8(s, MIG_ANSWER_VERSION);
    vdc_migration_put_u8(s, error ? 1 : 0);
    if (error) {
        size_t n = MIN(strlen(error), MIG_ANSWER_MAX_MSG);

        vdc_migration_put_be32(s, n);
        vdc_migration_put_bytes(s, error, n);
    } else {
        vdc_migration_put_be32(s, 0);
    }
    data = vdc_migration_stream_data(s, &len);
    vdc_migration_channel_send(job->fd, data, len, NULL, 0, deadline, NULL);
}

static void in_pipe_close(InJob *job);

static void in_job_free(InJob *job)
{
    unsigned i;

    for (i = 0; job->fds && i < job->fds->len; i++) {
        int fd = g_array_index(job->fds, int, i);

        if (fd >= 0) {
            close(fd);
        }
    }
    if (job->fds) {
        g_array_unref(job->fds);
    }
    in_pipe_close(job);
    if (job->tls) {
        host_tls_channel_free(job->tls);    /* the answer goes first */
    } else if (job->own_fd && job->fd >= 0) {
        close(job->fd);
    }
    if (job->stream) {
        g_bytes_unref(job->stream);
    }
    vdc_migration_loader_free(job->ld);     /* not done: drops the live part */
    g_free(job->path);
    g_free(job->error);
    g_mutex_clear(&job->lock);
    g_cond_clear(&job->cond);
    g_free(job);
}

/*
 * Load @stream (with @ld: the last piece of a live migration whose live
 * part @ld loaded); on success the device and host peer hold the new
 * state.
 */
static bool host_load(HostMigration *m, GBytes *stream, VdcMigrationLoader *ld,
                      GError **errp)
{
    size_t len;
    const uint8_t *data = g_bytes_get_data(stream, &len);
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_reader(data, len);

    if (!(ld ? vdc_migration_loader_feed(ld, s, true, errp)
             : vdc_migration_load(m->reg, s, errp))) {
        /* Fresh and usable: nothing half loaded stays. */
        vdc_chardev_reset(m->h->dev);
        host_saved_clear(&m->saved);
        vdc_clipboard_live_reset_sink(m->live);
        return false;
    }
    return true;
}

/*
 * After a successful load: the host's own state (with the data the live
 * phase carried: its slots checked whole by host_live_post_load()), then
 * run.
 */
static void host_commit_load(HostMigration *m)
{
    vdc_clipboard_live_take_refs(m->live, &m->saved.cb, m->saved.live);
    vdc_clipboard_live_reset_sink(m->live);
    m->ops->restore(m->opaque, &m->saved.cb, m->saved.out, m->saved.out_len,
                    vdc_chardev_connected(m->h->dev));
    host_saved_clear(&m->saved);
}

/*
 * Is @fd a stream socket of @family (AF_UNSPEC: unix or inet), listening
 * or not as @listening says?
 */
static bool fd_is_stream_socket(int fd, int family, bool listening)
{
    struct stat st;
    int type = 0, domain = 0, acc = 0;
    socklen_t len = sizeof(int), dlen = sizeof(int), alen = sizeof(int);

    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        return false;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0) {
        return false;
    }
    if (type != SOCK_STREAM || (acc != 0) != listening) {
        return false;
    }
    if (family != AF_UNSPEC) {
        return domain == family;
    }
    return domain == AF_UNIX || domain == AF_INET || domain == AF_INET6;
}

/* Is @fd the master side of a pty? */
static bool fd_is_pty_master(int fd)
{
    unsigned int n;

    return ioctl(fd, TIOCGPTN, &n) == 0;
}

/*
 * Check the descriptors the peer passed against the guest kind its header
 * announced, before anything is adopted: unix: an optional connected unix
 * stream socket, then a listening one; pty: a pty master; sim: a connected
 * unix stream socket; fd: a connected stream socket; none: nothing.  A
 * descriptor of another type (a file, /dev/null, a datagram or TCP socket
 * where a unix one belongs, a connection where a listener belongs) would
 * make the guest side spin or fail later.  NULL when they fit, else why
 * not (newly allocated).
 */
static char *in_check_fds(uint8_t kind, const GArray *fds)
{
    unsigned n = fds->len, i;

    for (i = 0; i < n; i++) {
        int fd = g_array_index(fds, int, i);
        bool last = i + 1 == n, ok;
        const char *want;

        switch (kind) {
        case HOST_GUEST_UNIX:
            ok = n <= 2 && fd_is_stream_socket(fd, AF_UNIX, last);
            want = last ? "a listening unix socket"
                        : "a connected unix socket";
            break;
        case HOST_GUEST_PTY:
            ok = n == 1 && fd_is_pty_master(fd);
            want = "one pty master";
            break;
        case HOST_GUEST_SIM:
            ok = n == 1 && fd_is_stream_socket(fd, AF_UNIX, false);
            want = "one connected unix socket";
            break;
        case HOST_GUEST_FD:
            ok = n == 1 && fd_is_stream_socket(fd, AF_UNSPEC, false);
            want = "one connected stream socket";
            break;
        default:
            ok = false;
            want = "no descriptor";
            break;
        }
        if (!ok) {
            return g_strdup_printf("bad guest channel: descriptor %u of %u "
                                   "is not %s", i + 1, n, want);
        }
    }
    return NULL;
}

/*
 * The downtime of an incoming migration, from the source's stop time
 * @stop_us (its CLOCK_MONOTONIC, which is ours only on one machine): -1
 * unless it lies in the last MIG_DOWNTIME_MAX_US of our clock.  The peer
 * sends any 64 bits: no arithmetic on them before that check.
 */
static gint64 in_downtime(uint64_t stop_us)
{
    gint64 now = g_get_monotonic_time();

    if (stop_us == 0 || stop_us > (uint64_t)now ||
        (uint64_t)now - stop_us > (uint64_t)MIG_DOWNTIME_MAX_US) {
        return -1;
    }
    return (gint64)((uint64_t)now - stop_us);
}

/* The thread, if it waits for its turn (in_await_turn()): return. */
static void in_end_thread(InJob *job)
{
    g_mutex_lock(&job->lock);
    job->turn = IN_TURN_END;
    g_cond_signal(&job->cond);
    g_mutex_unlock(&job->lock);
}

/*
 * The transfer's end, on the main loop: the thread posted in_done() as
 * its last act, or the main loop took the final frame itself
 * (in_frame_ready()) while the thread waits for its turn.
 */
static void in_finish(InJob *job)
{
    HostMigration *m = job->m;
    g_autoptr(GError) err = NULL;
    HostGuestChannel ch = { .conn_fd = -1, .listen_fd = -1 };
    GThread *thread = m->in_thread;

    /*
     * The thread is ending (or waits to be told to).  Its exit (glibc
     * gives its stack back, a madvise() and the other CPU's TLB flushed)
     * is waited for once the destination runs, not in the downtime: it
     * took 145 us there (median of 8, tcp: after a 64 MiB live part)
     * against 6 us with an empty state, at times 3-4 ms.  The thread may
     * still store done_id until then: the job lives on.
     */
    m->in_thread = NULL;
    m->in_job = NULL;

    if (job->error || !host_load(m, job->stream, job->ld, &err)) {
        const char *msg = job->error ? job->error : err->message;

        in_reply(job, msg);
        mig_set_status(m, HOST_MIG_FAILED, msg);
        in_end_thread(job);
        g_thread_join(thread);
        in_job_free(job);
        /* Wait for another attempt. */
        if (m->incoming_listen_fd >= 0 && !m->incoming_watch) {
            m->incoming_watch = g_unix_fd_add(m->incoming_listen_fd, G_IO_IN,
                                              in_accept, m);
        }
        return;
    }
    host_commit_load(m);
    m->spliced = job->spliced;
    if (job->fds->len > 0) {
        ch.kind = job->kind;
        ch.conn_fd = job->kind == HOST_GUEST_UNIX && job->fds->len == 1
                         ? -1 : g_array_index(job->fds, int, 0);
        if (job->kind == HOST_GUEST_UNIX) {
            ch.listen_fd = g_array_index(job->fds, int, job->fds->len - 1);
        }
        ch.path = job->path;
        g_array_set_size(job->fds, 0);        /* adopted, not closed */
        m->ops->guest_adopt(m->opaque, &ch);
    }
    in_reply(job, NULL);
    incoming_close(m);
    m->downtime_us = in_downtime(job->stop_us);
    mig_set_status(m, HOST_MIG_COMPLETED, NULL);
    host_set_status(m->h, HOST_RUNNING);
    m->ops->guest_activate(m->opaque);
    /* what --incoming-prealloc reserved and this one did not take */
    host_prefault_pool_release(m->prefault);
    in_end_thread(job);
    g_thread_join(thread);
    in_job_free(job);
}

static gboolean in_done(gpointer opaque)
{
    in_finish(opaque);
    return G_SOURCE_REMOVE;
}

/* A live frame's bytes, pulled from the channel as the loader reads. */
typedef struct InPull {
    InJob *job;
    gint64 deadline;
    GError *err;                /* the channel's, once it failed */
} InPull;

static gssize in_pull(void *opaque, void *buf, size_t len, GError **errp)
{
    InPull *pull = opaque;
    uint8_t *p = buf;
    size_t done, n;

    for (done = 0; done < len; done += n) {
        n = MIN(len - done, IN_PULL_STEP);
        /* A large slot's pages: received once its helper faulted them in. */
        host_prefault_wait(pull->job->m->prefault, p + done, n);
        if (!vdc_migration_channel_recv(pull->job->fd, p + done, n,
                                        pull->job->fds, pull->deadline,
                                        &pull->err)) {
            g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, 0,
                                pull->err->message);
            return -1;
        }
    }
    return (gssize)len;
}

static void in_pipe_close(InJob *job)
{
    if (job->pipe[0] >= 0) {
        close(job->pipe[0]);
        close(job->pipe[1]);
        job->pipe[0] = job->pipe[1] = -1;
    }
}

/*
 * Plain tcp: (not over TLS, whose relay is a unix socket): the live
 * frames' large slots are spliced from the socket (in_pull_file()) through
 * a pipe of IN_PULL_STEP where the system allows.  Without a pipe they go
 * through memory, as over unix:.
 */
static void in_splice_setup(InJob *job)
{
    int size;

    if (job->tls || (!fd_is_stream_socket(job->fd, AF_INET, false) &&
                     !fd_is_stream_socket(job->fd, AF_INET6, false)) ||
        pipe2(job->pipe, O_CLOEXEC) < 0) {
        return;
    }
    fcntl(job->pipe[1], F_SETPIPE_SZ, (int)IN_PULL_STEP);
    size = fcntl(job->pipe[1], F_GETPIPE_SZ);
    if (size <= 0) {
        in_pipe_close(job);
        return;
    }
    job->pipe_size = (size_t)size;
}

/* in_pull_file()'s failure on the channel: the pull's error, as in_pull(). */
static gssize in_pull_failed(InPull *pull, int code, const char *msg,
                             GError **errp)
{
    g_set_error_literal(&pull->err, VDC_MIGRATION_CHANNEL_ERROR, code, msg);
    g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, code, msg);
    return -1;
}

/*
 * A live frame's bytes into a slot's file (the stream's pull_file):
 * splice() from the socket into the pipe (the socket's buffers are
 * passed on, not copied) and from the pipe into the file (one copy, into
 * the file's new pages), at most a pipe's worth a call.  Not over unix
 * sockets: a descriptor riding on bytes a splice takes would be lost
 * unseen.
 */
static gssize in_pull_file(void *opaque, int fd, uint64_t off, size_t len,
                           GError **errp)
{
    InPull *pull = opaque;
    InJob *job = pull->job;
    size_t left;
    ssize_t n;

    len = MIN(len, job->pipe_size);
    do {
        /* Bytes there first: a splice from a blocking socket would wait. */
        if (!vdc_migration_channel_wait(job->fd, POLLIN, pull->deadline,
                                        &pull->err)) {
            g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, 0,
                                pull->err->message);
            return -1;
        }
        n = splice(job->fd, NULL, job->pipe[1], NULL, len,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (n < 0 && (errno == EINTR || errno == EAGAIN));
    if (n < 0) {
        return in_pull_failed(pull, errno, g_strerror(errno), errp);
    }
    if (n == 0) {
        return in_pull_failed(pull, ECONNRESET, "migration channel closed early",
                              errp);
    }
    for (left = (size_t)n; left > 0;) {
        loff_t at = (loff_t)(off + (uint64_t)n - left);
        ssize_t w = splice(job->pipe[0], NULL, fd, &at, left, SPLICE_F_MOVE);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            /* The rest in the pipe goes with it: the load fails. */
            g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "write to file: %s", g_strerror(w < 0 ? errno : ENOSPC));
            in_pipe_close(job);
            return -1;
        }
        left -= (size_t)w;
    }
    job->spliced += (uint64_t)n;
    return n;
}

/* A transfer that ended without its stream: why, unless already said. */
static void in_set_error(InJob *job, const GError *err)
{
    if (!job->error && !job->stream) {
        job->error = err || job->tls ? channel_error(job->tls, err)
                                     : g_strdup("incoming migration failed");
    }
}

/* The final frame's 16 bytes after its type: see "outgoing, with a live
 * phase".  False with job->error or @errp set. */
static bool in_final_header(InJob *job, gint64 deadline, uint8_t *kind,
                            uint8_t *n_fds, uint64_t *stop_us,
                            uint32_t *path_len, GError **errp)
{
    g_autoptr(VdcMigrationStream) r = NULL;
    uint8_t h[16];
    uint16_t pad;

    if (!vdc_migration_channel_recv(job->fd, h, sizeof(h), job->fds, deadline,
                                    errp)) {
        return false;
    }
    r = vdc_migration_stream_new_reader(h, sizeof(h));
    vdc_migration_get_u8(r, kind);              /* 16 of 16: no failure */
    vdc_migration_get_u8(r, n_fds);
    vdc_migration_get_be16(r, &pad);
    vdc_migration_get_be64(r, stop_us);
    vdc_migration_get_be32(r, path_len);
    if (pad != 0) {
        job->error = g_strdup("bad final frame");
        return false;
    }
    return true;
}

/*
 * The thread, between two frames of a live migration: a live frame that
 * has begun to come is its own at once (the bulk goes on without a
 * hand-off); else it hands the wait for the next frame to the main loop
 * (in_frame_wait()) and sleeps until the loop gives the frame back
 * (true: receive it) or took it itself, or the job is stopped (false:
 * return at once, posting nothing).
 */
static bool in_await_turn(InJob *job)
{
    bool mine;
    uint8_t type;
    ssize_t n;

    do {
        n = recv(job->fd, &type, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    g_mutex_lock(&job->lock);
    if (job->turn == IN_TURN_THREAD && n == 1 && type == MIG_FRAME_LIVE) {
        job->frame_deadline = g_get_monotonic_time() +
                              (gint64)MIG_LIVE_IDLE_MS * 1000;
        g_mutex_unlock(&job->lock);
        return true;
    }
    if (job->turn == IN_TURN_THREAD) {
        job->turn = IN_TURN_MAIN;
        job->frame_deadline = g_get_monotonic_time() +
                              (gint64)MIG_LIVE_IDLE_MS * 1000;
        job->wait_id = g_idle_add(in_frame_wait, job);
    }
    while (job->turn == IN_TURN_MAIN) {
        g_cond_wait(&job->cond, &job->lock);
    }
    mine = job->turn == IN_TURN_THREAD;
    g_mutex_unlock(&job->lock);
    return mine;
}

/*
 * A live migration's frames up to the final one (see "outgoing, with a
 * live phase"): each live frame is loaded as it comes, strictly, by the
 * job's loader (its data held apart from the device), its bytes received
 * straight into where the loader keeps them (a pull stream: no frame
 * buffer, no copy); a frame must begin within MIG_LIVE_IDLE_MS (the
 * source sends a keepalive every second) and come whole within
 * MIG_TIMEOUT_MS.  The main loop waits for each frame's first byte
 * (in_await_turn()) and may take the final frame itself: *@taken then
 * (the thread has nothing more to do).  Returns the final frame's header
 * fields; false with job->error or @errp set.
 */
static bool in_live_frames(InJob *job, bool *taken, uint8_t *kind,
                           uint8_t *n_fds, uint64_t *stop_us,
                           uint32_t *path_len, GError **errp)
{
    uint64_t loaded = 0;

    job->ld = vdc_migration_loader_new(job->m->reg);
    in_splice_setup(job);
    for (;;) {
        g_autoptr(VdcMigrationStream) r = NULL;
        g_autoptr(GError) lerr = NULL;
        InPull pull;
        uint8_t type, h[4];
        uint32_t len;
        bool ok;
        gint64 deadline;

        if (!in_await_turn(job)) {
            *taken = true;
            return false;
        }
        if (!vdc_migration_channel_recv(job->fd, &type, 1, job->fds,
                                        job->frame_deadline, errp)) {
            return false;
        }
        deadline = g_get_monotonic_time() + (gint64)MIG_TIMEOUT_MS * 1000;
        if (type == MIG_FRAME_FINAL) {
            return in_final_header(job, deadline, kind, n_fds, stop_us,
                                   path_len, errp);
        }
        if (type != MIG_FRAME_LIVE) {
            job->error = g_strdup_printf("bad live frame type 0x%02x", type);
            return false;
        }
        if (!vdc_migration_channel_recv(job->fd, h, 4, job->fds, deadline,
                                        errp)) {
            return false;
        }
        len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
              (uint32_t)h[2] << 8 | h[3];
        if (len > MIG_LIVE_FRAME_MAX) {
            job->error = g_strdup_printf("live frame of %" PRIu32 " bytes "
                                         "(at most %u)", len,
                                         MIG_LIVE_FRAME_MAX);
            return false;
        }
        if (len == 0) {
            continue;                           /* a keepalive */
        }
        pull = (InPull){ job, deadline, NULL };
        r = vdc_migration_stream_new_pull(in_pull, &pull, len);
        if (job->pipe[0] >= 0) {
            vdc_migration_stream_set_pull_file(r, in_pull_file);
        }
        job->live_frame = true;
        ok = vdc_migration_loader_feed(job->ld, r, false, &lerr);
        job->live_frame = false;
        if (!ok) {
            if (pull.err) {
                /* The channel broke: its error, as a receive's. */
                g_propagate_error(errp, pull.err);
            } else {
                job->error = g_strdup_printf("live part: %s", lerr->message);
            }
            return false;
        }
        if (job->fds->len) {
            /* Each descriptor stands for a slot's data (ref_receive()). */
            job->error = g_strdup_printf("a live frame passed %u "
                                         "descriptors it did not use",
                                         job->fds->len);
            return false;
        }
        /* Tell the source: it reports pre-switchover only when all came. */
        loaded += len;
        g_clear_pointer(&r, vdc_migration_stream_free);
        r = vdc_migration_stream_new_buffer();
        vdc_migration_put_bytes(r, MIG_ACK_MAGIC, 4);
        vdc_migration_put_be64(r, loaded);
        if (!vdc_migration_channel_send(job->fd, vdc_migration_stream_data(r, NULL),
                                        12, NULL, 0, deadline, errp)) {
            return false;
        }
    }
}

/*
 * tcp: with credentials: the first byte must begin a TLS handshake (a
 * plain-text client is told so, in plain text, by the answer), then the
 * handshake and the authz, within the header's @deadline.  job->fd
 * becomes the relay's descriptor.  False with job->error or @errp set.
 */
static bool in_tls_accept(InJob *job, gint64 deadline, GError **errp)
{
    HostTlsChannel *tls;
    uint8_t first;
    ssize_t n;

    do {
        if (!vdc_migration_channel_wait(job->fd, POLLIN, deadline, errp)) {
            return false;
        }
        n = recv(job->fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && (errno == EINTR || errno == EAGAIN));
    if (n <= 0) {
        g_set_error_literal(errp, VDC_MIGRATION_CHANNEL_ERROR, ECONNRESET,
                            "migration channel closed early");
        return false;
    }
    if (first != 0x16) {
        char buf[4096];

        job->error = g_strdup("a plain-text client: this destination "
                              "requires TLS (--tls-creds)");
        /*
         * Answered here, and what the source sends is read and dropped
         * (until its end or the header's deadline): closed with unread
         * bytes, the socket would reset, and the source never read why.
         */
        in_reply(job, job->error);
        shutdown(job->fd, SHUT_WR);
        while (vdc_migration_channel_read(job->fd, buf, sizeof(buf), deadline,
                                          NULL) > 0) {
        }
        if (job->own_fd) {
            close(job->fd);
        }
        job->fd = -1;                   /* answered: in_done() says nothing */
        return false;
    }
    job->own_fd = false;                /* the relay takes it */
    tls = host_tls_channel_new(job->creds, job->fd, true, NULL, deadline,
                               errp);
    job->fd = tls ? host_tls_channel_fd(tls) : -1;
    g_atomic_pointer_set(&job->tls, tls);   /* in_job_stop() may wake it */
    return tls != NULL;
}

/*
 * The rest of a channel after its header (version 1) or the final frame's
 * (version 2): @path_len bytes of path, be64 length, the stream; then
 * the descriptors that came, @n_fds of them, checked against @kind.
 * The path and length by @deadline, the stream within 60 s of @start.
 * False with job->error or @errp set.
 */
static bool in_recv_rest(InJob *job, uint8_t kind, uint8_t n_fds,
                         uint64_t stop_us, uint32_t path_len, gint64 deadline,
                         gint64 start, GError **errp)
{
    g_autoptr(VdcMigrationStream) r = NULL;
    uint8_t len8[8];
    uint64_t slen;
    GByteArray *data;

    if (n_fds > 2 || kind > HOST_GUEST_SIM) {
        job->error = g_strdup("not a vdagent-host migration channel");
        return false;
    }
    job->kind = kind;
    job->stop_us = stop_us;
    if (path_len > MIG_MAX_PATH) {
        job->error = g_strdup("bad path length");
        return false;
    }
    job->path = g_malloc0(path_len + 1);
    if (!vdc_migration_channel_recv(job->fd, job->path, path_len, job->fds,
                                    deadline, errp) ||
        !vdc_migration_channel_recv(job->fd, len8, 8, job->fds, deadline,
                                    errp)) {
        return false;
    }
    r = vdc_migration_stream_new_reader(len8, sizeof(len8));
    vdc_migration_get_be64(r, &slen);                  /* 8 of 8: cannot fail */
    if (slen > MIG_MAX_STREAM) {
        job->error = g_strdup("stream too large");
        return false;
    }
    deadline = start + (gint64)MIG_TIMEOUT_MS * 1000;
    /*
     * The buffer grows with the bytes that come (GByteArray doubles), so
     * a peer that announces 2 GiB and sends little costs what it sent.
     */
    data = g_byte_array_sized_new((guint)MIN(slen, MIG_RECV_PIECE));
    while (data->len < slen) {
        guint have = data->len;
        guint piece = (guint)MIN(slen - have, MIG_RECV_PIECE);

        g_byte_array_set_size(data, have + piece);
        if (!vdc_migration_channel_recv(job->fd, data->data + have, piece,
                                        job->fds, deadline, errp)) {
            g_byte_array_unref(data);
            return false;
        }
    }
    job->stream = g_byte_array_free_to_bytes(data);
    if (job->fds->len != n_fds) {
        job->error = g_strdup_printf("expected %u descriptors, got %u", n_fds,
                                     job->fds->len);
    } else {
        job->error = in_check_fds(job->kind, job->fds);
    }
    return job->error == NULL;
}

static gpointer in_thread_main(gpointer opaque)
{
    InJob *job = opaque;
    gint64 start = g_get_monotonic_time();
    /* A peer gets a few seconds for a valid header; a transfer that
     * began, the long timeout. */
    gint64 deadline = start + (gint64)MIG_HELLO_MS * 1000;
    g_autoptr(GError) err = NULL;
    g_autoptr(VdcMigrationStream) r = NULL;
    uint8_t hdr[20], magic[4], version, kind, n_fds, pad;
    uint32_t path_len;
    uint64_t stop_us;
    bool taken = false;

    job->fds = g_array_new(FALSE, FALSE, sizeof(int));
    if (job->creds && !in_tls_accept(job, deadline, &err)) {
        goto out;
    }
    if (!vdc_migration_channel_recv(job->fd, hdr, sizeof(hdr), job->fds, deadline,
                                    &err)) {
        goto out;
    }
    if (!job->creds && hdr[0] == 0x16 && hdr[1] == 0x03) {
        /* A TLS record's header: a ClientHello. */
        job->error = g_strdup("a TLS client, but this destination has no "
                              "--tls-creds");
        goto out;
    }
    /* All 20 bytes are there: these reads cannot fail. */
    r = vdc_migration_stream_new_reader(hdr, sizeof(hdr));
    vdc_migration_get_bytes(r, magic, 4);
    vdc_migration_get_u8(r, &version);
    vdc_migration_get_u8(r, &kind);
    vdc_migration_get_u8(r, &n_fds);
    vdc_migration_get_u8(r, &pad);
    vdc_migration_get_be64(r, &stop_us);
    vdc_migration_get_be32(r, &path_len);
    g_clear_pointer(&r, vdc_migration_stream_free);
    if (memcmp(magic, MIG_MAGIC, 4) == 0 && version == MIG_LIVE_VERSION &&
        kind == 0 && n_fds == 0 && pad == 0 && stop_us == 0 &&
        path_len == 0) {
        /* The live part, then the final frame's header. */
        if (!in_live_frames(job, &taken, &kind, &n_fds, &stop_us, &path_len,
                            &err)) {
            if (taken) {
                return NULL;    /* the main loop took the final frame */
            }
            goto out;
        }
        version = MIG_VERSION;
        start = g_get_monotonic_time();   /* the final frame's 60 s */
        deadline = start + (gint64)MIG_TIMEOUT_MS * 1000;
    }
    if (memcmp(magic, MIG_MAGIC, 4) != 0 || version != MIG_VERSION) {
        job->error = g_strdup("not a vdagent-host migration channel");
        goto out;
    }
    in_recv_rest(job, kind, n_fds, stop_us, path_len, deadline, start, &err);
out:
    in_set_error(job, err);
    g_atomic_int_set(&job->done_id, g_idle_add(in_done, job));
    return NULL;
}

/* Beyond this the final frame is received by the thread, not the loop. */
#define IN_MAIN_FINAL_MAX (1u << 20)

/*
 * Has the whole final frame of at most IN_MAIN_FINAL_MAX stream bytes
 * come (in the socket, unread)?  Looked at, not taken: the thread reads
 * whatever is not.
 */
static bool in_final_whole(InJob *job)
{
    /* type, the header's 16 bytes, the path, be64 length */
    uint8_t h[1 + 16 + MIG_MAX_PATH + 8];
    uint32_t path_len;
    uint64_t slen;
    int avail;
    ssize_t n;
    size_t i;

    if (ioctl(job->fd, FIONREAD, &avail) < 0 || avail < 17) {
        return false;
    }
    do {
        n = recv(job->fd, h, MIN((size_t)avail, sizeof(h)),
                 MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 17 || h[0] != MIG_FRAME_FINAL) {
        return false;
    }
    path_len = (uint32_t)h[13] << 24 | (uint32_t)h[14] << 16 |
               (uint32_t)h[15] << 8 | h[16];
    if (path_len > MIG_MAX_PATH || (size_t)n < 17 + path_len + 8) {
        return false;
    }
    for (slen = 0, i = 0; i < 8; i++) {
        slen = slen << 8 | h[17 + path_len + i];
    }
    return slen <= IN_MAIN_FINAL_MAX &&
           (uint64_t)avail >= 17 + path_len + 8 + slen;
}

static gboolean in_frame_ready(gint fd, GIOCondition cond, gpointer opaque);
static gboolean in_frame_late(gpointer opaque);

/* The thread's turn again: it receives the next frame (or its error). */
static void in_give_turn(InJob *job)
{
    g_source_remove(job->watch_id);
    g_source_remove(job->timer_id);
    job->watch_id = job->timer_id = 0;
    g_mutex_lock(&job->lock);
    job->turn = IN_TURN_THREAD;
    g_cond_signal(&job->cond);
    g_mutex_unlock(&job->lock);
}

/* Posted by in_await_turn(): wait for the next frame's first byte. */
static gboolean in_frame_wait(gpointer opaque)
{
    InJob *job = opaque;
    gint64 left;

    g_mutex_lock(&job->lock);
    job->wait_id = 0;
    g_mutex_unlock(&job->lock);
    left = job->frame_deadline - g_get_monotonic_time();
    job->watch_id = g_unix_fd_add(job->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                  in_frame_ready, job);
    job->timer_id = g_timeout_add((guint)CLAMP(left / 1000, 0,
                                               MIG_LIVE_IDLE_MS),
                                  in_frame_late, job);
    return G_SOURCE_REMOVE;
}

/* No frame in time: the thread says so (its receive times out). */
static gboolean in_frame_late(gpointer opaque)
{
    in_give_turn(opaque);
    return G_SOURCE_REMOVE;     /* in_give_turn() removed it: the id is 0 */
}

/*
 * The next frame has begun.  A live one (or anything else) is the
 * thread's; the final frame, once whole and small, is received here and
 * loaded at once: the thread's wake-up and its hand-off back to this
 * loop (about 100 us, 300-500 us when a halted vCPU has to be woken)
 * are no longer in the downtime.
 */
static gboolean in_frame_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    InJob *job = opaque;
    /* Every byte is in the socket: a second is a bound never reached. */
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
    g_autoptr(GError) err = NULL;
    uint8_t type, kind, n_fds;
    uint64_t stop_us;
    uint32_t path_len;

    (void)fd;
    (void)cond;
    if (!in_final_whole(job)) {
        in_give_turn(job);
        return G_SOURCE_REMOVE;     /* the id is 0 */
    }
    g_source_remove(job->timer_id);
    job->watch_id = job->timer_id = 0;
    job->m->final_on_loop = true;
    if (vdc_migration_channel_recv(job->fd, &type, 1, job->fds, deadline,
                                   &err) &&
        in_final_header(job, deadline, &kind, &n_fds, &stop_us, &path_len,
                        &err)) {
        in_recv_rest(job, kind, n_fds, stop_us, path_len, deadline,
                     g_get_monotonic_time(), &err);
    }
    in_set_error(job, err);
    in_finish(job);
    return G_SOURCE_REMOVE;
}

static void in_start_job(HostMigration *m, int fd, bool own, bool tls)
{
    InJob *job = g_new0(InJob, 1);

    job->m = m;
    job->fd = fd;
    job->pipe[0] = job->pipe[1] = -1;
    job->own_fd = own;
    job->creds = tls ? m->tls : NULL;
    g_mutex_init(&job->lock);
    g_cond_init(&job->cond);
    tcp_nodelay(fd);
    mig_set_status(m, HOST_MIG_ACTIVE, NULL);
    m->in_job = job;
    m->final_on_loop = false;
    m->spliced = 0;
    m->in_thread = g_thread_new("migrate-in", in_thread_main, job);
}

/*
 * host_migration_free() during an incoming transfer (a live part may
 * last long): wake the thread (its channel shut down), wait for it, drop
 * its report and its job (a live part held is dropped with the loader).
 */
static void in_job_stop(HostMigration *m)
{
    InJob *job = m->in_job;
    guint id;

    if (!m->in_thread) {
        return;
    }
    if (!job->creds) {
        shutdown(job->fd, SHUT_RDWR);
    } else if (g_atomic_pointer_get(&job->tls)) {
        host_tls_channel_shutdown(job->tls);
    }
    /* Waiting for its turn, it returns; the main loop stops waiting. */
    g_mutex_lock(&job->lock);
    if (job->wait_id) {
        g_source_remove(job->wait_id);
        job->wait_id = 0;
    }
    job->turn = IN_TURN_END;
    g_cond_signal(&job->cond);
    g_mutex_unlock(&job->lock);
    if (job->watch_id) {
        g_source_remove(job->watch_id);
        g_source_remove(job->timer_id);
    }
    /* A TLS handshake under way ends by its deadline (3 s). */
    g_thread_join(m->in_thread);
    m->in_thread = NULL;
    m->in_job = NULL;
    id = (guint)g_atomic_int_get(&job->done_id);
    if (id) {
        g_source_remove(id);
    }
    in_job_free(job);
}

static gboolean in_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    HostMigration *m = opaque;
    int c;

    (void)cond;
    c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        return G_SOURCE_CONTINUE;
    }
    m->incoming_watch = 0;
    in_start_job(m, c, true, m->incoming_tls);
    return G_SOURCE_REMOVE;
}

bool host_incoming_start(HostMigration *m, const char *uri, GError **errp)
{
    Host *h = m->h;
    g_autoptr(GError) err = NULL;

    if (m->status == HOST_MIG_ACTIVE || m->incoming_listen_fd >= 0) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
                    "an incoming migration is already set up");
        return false;
    }
    if (host_status(h) != HOST_INMIGRATE) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "migrate-incoming needs a host started with --incoming");
        return false;
    }
    if (g_str_has_prefix(uri, "file:")) {
        g_autofree char *data = NULL;
        g_autoptr(GBytes) stream = NULL;
        gsize len;

        if (!g_file_get_contents(uri + 5, &data, &len, errp)) {
            return false;
        }
        stream = g_bytes_new_take(g_steal_pointer(&data), len);
        mig_set_status(m, HOST_MIG_ACTIVE, NULL);
        if (!host_load(m, stream, NULL, &err)) {
            mig_set_status(m, HOST_MIG_FAILED, err->message);
            g_propagate_error(errp, g_steal_pointer(&err));
            return false;
        }
        host_commit_load(m);
        mig_set_status(m, HOST_MIG_COMPLETED, NULL);
        host_set_status(h, HOST_RUNNING);
        m->ops->guest_activate(m->opaque);
        return true;
    }
    if (g_str_has_prefix(uri, "fd:")) {
        int fd;

        if (!host_parse_fd(uri + 3, &fd, errp)) {
            return false;
        }
        in_start_job(m, fd, true, false);
        return true;
    }
    if (g_str_has_prefix(uri, "unix:") || g_str_has_prefix(uri, "tcp:")) {
        m->incoming_listen_fd = vdc_migration_channel_uri_socket(uri, true, errp);
        if (m->incoming_listen_fd < 0) {
            return false;
        }
        if (g_str_has_prefix(uri, "unix:")) {
            m->incoming_path = g_strdup(uri + 5);
        }
        m->incoming_tls = uri_tls(m, uri) != NULL;
        if (g_str_has_prefix(uri, "tcp::")) {
            /* Always said, --verbose or not. */
            fprintf(stderr, "vdagent-host: warning: %s listens on every "
                    "interface%s\n", uri,
                     m->incoming_tls ? "" : ", for unauthenticated plain "
                     "text: use it on a trusted network only, or give "
                     "--tls-creds");
        }
        m->incoming_watch = g_unix_fd_add(m->incoming_listen_fd, G_IO_IN,
                                          in_accept, m);
        mig_set_status(m, HOST_MIG_SETUP, NULL);
        return true;
    }
    g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "unsupported migration URI '%s' (file:, unix:, fd:, tcp:)", uri);
    return false;
}
