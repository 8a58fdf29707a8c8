/*
 * clipboard-peer.c: the host's own clipboard peer and the clipboard-get
 * requests waiting for an owner's data.  See clipboard-peer.h.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/clipboard-peer.h"
#include "host/sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gstdio.h>

struct HostClipboardPeer {
    Host *h;
    VdcClipboardPeer peer;
    GPtrArray *seals;               /* SealJob: sealed copies being made */
    guint seal_later;               /* seal_owned_later() after a restore */
};

/*
 * The peer's large data, sealed in the background (host/sealed.h): a
 * sealed copy of the data is made on a thread of low priority, and the
 * main loop puts it in place of the data if that is still the peer's
 * (same bytes, no notification), so that a live migration over unix:
 * can pass it by reference.  clipboard-set answers at once, and the copy
 * (some 40 ms for 64 MiB) takes no time from the guest's transfer.
 */
typedef struct SealJob {
    HostClipboardPeer *p;
    VdcClipboardSelection sel;
    VdcClipboardType type;
    GBytes *data;                   /* what was set (a reference) */
    GBytes *sealed;                 /* the thread's copy, or NULL */
    GThread *thread;
    guint idle_id;                  /* seal_done(), set by the thread */
} SealJob;

/* A clipboard-get waiting for the owner's data. */
typedef struct HostGetRequest {
    HostWaiting w;                  /* first: registered with host.c */
    HostClipboardPeer *p;
    VdcClipboardSelection sel;
    VdcClipboardType type;
    VdcClipboardInfo *info;            /* the info asked (a reference) */
    char *filename;                 /* the "filename" form, else NULL */
    char *tmpname;                  /* its temporary file, until renamed */
    int fd;                         /* open on tmpname, or -1 */
} HostGetRequest;

static void get_release(HostWaiting *w)
{
    HostGetRequest *g = (HostGetRequest *)w;

    if (g->fd >= 0) {
        close(g->fd);
    }
    if (g->tmpname) {
        g_unlink(g->tmpname);       /* not renamed: the get failed */
    }
    g_free(g->tmpname);
    g_free(g->filename);
    vdc_clipboard_info_unref(g->info);
    g_free(g);
}

/*
 * The "filename" form: write @len bytes at @p to @g's temporary file and
 * rename it to the name asked.  NULL on success, else the error (a new
 * string); the temporary file is unlinked by get_release().
 */
static char *get_write_file(HostGetRequest *g, const char *p, size_t len)
{
    size_t done = 0;
    int fd = g->fd;

    while (done < len) {
        ssize_t n = write(fd, p + done, MIN(len - done, (size_t)1 << 30));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return g_strdup_printf("cannot write %s: %s", g->filename,
                                   n < 0 ? g_strerror(errno) : "no space");
        }
        done += n;
    }
    g->fd = -1;
    if (close(fd) < 0) {
        return g_strdup_printf("cannot write %s: %s", g->filename,
                               g_strerror(errno));
    }
    if (rename(g->tmpname, g->filename) < 0) {
        return g_strdup_printf("cannot rename to %s: %s", g->filename,
                               g_strerror(errno));
    }
    g_clear_pointer(&g->tmpname, g_free);
    return NULL;
}

static const HostWaitingOps get_ops = {
    .release = get_release,
};

/* Answer @g with the data of @info, or the error @error; frees @g. */
static void get_answer(HostGetRequest *g, VdcClipboardInfo *info,
                       const char *error)
{
    Host *h = g->p->h;
    GBytes *data;
    json_object *ret;
    size_t len;
    const char *p;

    if (error) {
        host_waiting_error(h, &g->w, error);
        return;
    }
    data = info->types[g->type].data;
    len = data ? g_bytes_get_size(data) : 0;
    p = data ? g_bytes_get_data(data, NULL) : "";
    if (g->filename) {
        g_autofree char *err = get_write_file(g, p, len);

        if (err) {
            host_waiting_error(h, &g->w, err);
            return;
        }
        ret = json_object_new_object();
        json_object_object_add(ret, "size", json_object_new_int64(len));
        host_waiting_reply(h, &g->w, ret);
        return;
    }
    ret = json_object_new_object();
    if (g->type == VDC_CLIPBOARD_TYPE_TEXT && g_utf8_validate(p, len, NULL)) {
        json_object_object_add(ret, "data", json_object_new_string_len(p, len));
    } else {
        g_autofree char *b64 = g_base64_encode((const guchar *)p, len);

        json_object_object_add(ret, "data-base64", json_object_new_string(b64));
    }
    host_waiting_reply(h, &g->w, ret);
}

json_object *host_clipboard_types_json(const VdcClipboardInfo *info)
{
    json_object *arr = json_object_new_array();
    unsigned t;

    for (t = 0; info && t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available) {
            json_object_array_add(arr,
                                  json_object_new_string(vdc_clipboard_type_name(t)));
        }
    }
    return arr;
}

const char *host_clipboard_owner_name(const HostClipboardPeer *p,
                                      const VdcClipboardInfo *info)
{
    if (!info || !info->owner) {
        return NULL;
    }
    if (info->owner == &p->peer) {
        return "host";
    }
    /* The host desktop's (--desktop-clipboard), else the guest agent's. */
    return strcmp(info->owner->name, "desktop") == 0 ? "desktop" : "guest";
}

/* A hub notification, for one waiting clipboard-get. */
static void get_notify(HostWaiting *w, void *opaque)
{
    HostGetRequest *g = (HostGetRequest *)w;
    const VdcClipboardNotify *n = opaque;

    if (n->type == VDC_CLIPBOARD_NOTIFY_UPDATE) {
        if (n->info->selection != g->sel) {
            return;
        }
        if (n->new_info && n->info != g->info) {
            get_answer(g, NULL, n->info->owner
                       ? "the clipboard changed owner before answering"
                       : "the owner went away (guest disconnected?)");
        } else if (n->new_info) {
            /* The same info replayed on resume: keep waiting. */
            return;
        } else if (n->info == g->info && !n->info->types[g->type].requested) {
            if (n->info->types[g->type].data) {
                get_answer(g, n->info, NULL);
            } else {
                /* The owner answered "no data" (a guest's NONE, or empty). */
                g_autofree char *err = g_strdup_printf(
                    "the %s has no %s data on the %s selection",
                    host_clipboard_owner_name(g->p, n->info) ?: "owner",
                    vdc_clipboard_type_name(g->type),
                    vdc_clipboard_selection_name(g->sel));

                get_answer(g, NULL, err);
            }
        }
    } else if (n->type == VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT &&
               n->info == g->info && n->data_type == g->type) {
        get_answer(g, NULL, "timed out waiting for the clipboard owner");
    }
}

static void peer_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    HostClipboardPeer *p = peer->opaque;

    if (n->type == VDC_CLIPBOARD_NOTIFY_UPDATE && n->new_info &&
        n->info->owner != &p->peer) {
        json_object *data = json_object_new_object();
        const char *owner = host_clipboard_owner_name(p, n->info);

        json_object_object_add(data, "selection", json_object_new_string(
                                   vdc_clipboard_selection_name(n->info->selection)));
        json_object_object_add(data, "owner",
                               owner ? json_object_new_string(owner) : NULL);
        json_object_object_add(data, "types",
                               host_clipboard_types_json(n->info));
        host_event(p->h, "CLIPBOARD", data);
    }
    /* Waiting clipboard-get commands. */
    host_waiting_foreach(p->h, &get_ops, get_notify, (void *)n);
}

/* The hub asks us: our infos always carry their data already. */
static void peer_request(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                         VdcClipboardType type)
{
    HostClipboardPeer *p = peer->opaque;

    vdc_clipboard_hub_set_data(p->h->hub, peer, info, type, info->types[type].data,
                               true);
}

static const VdcClipboardPeerOps host_peer_ops = {
    .notify = peer_notify,
    .request = peer_request,
};

static void seal_job_free(SealJob *job)
{
    g_bytes_unref(job->data);
    if (job->sealed) {
        g_bytes_unref(job->sealed);
    }
    g_free(job);
}

/* On the main loop: the copy is made; in place, if the data is still it. */
static gboolean seal_done(gpointer opaque)
{
    SealJob *job = opaque;
    HostClipboardPeer *p = job->p;
    VdcClipboardInfo *info = vdc_clipboard_hub_info(p->h->hub, job->sel);

    g_thread_join(job->thread);         /* it has posted this: it ends */
    g_ptr_array_remove_fast(p->seals, job);
    if (job->sealed && info && info->owner == &p->peer &&
        info->types[job->type].data == job->data) {
        vdc_clipboard_hub_set_data(p->h->hub, &p->peer, info, job->type,
                                   job->sealed, false);
    }
    seal_job_free(job);
    return G_SOURCE_REMOVE;
}

static gpointer seal_thread(gpointer opaque)
{
    SealJob *job = opaque;
    gsize len;
    const void *bytes = g_bytes_get_data(job->data, &len);

    /* Below the guest's transfer and the migration: a nice thread. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    job->sealed = host_sealed_copy(bytes, len);
    g_atomic_int_set(&job->idle_id, g_idle_add(seal_done, job));
    return NULL;
}

/* Seal @sel/@type's data in the background when it is large and not yet. */
static void seal_start(HostClipboardPeer *p, VdcClipboardSelection sel,
                       VdcClipboardType type, GBytes *data)
{
    SealJob *job;

    if (!data || g_bytes_get_size(data) < HOST_SEALED_MIN ||
        host_sealed_fd(data) >= 0) {
        return;
    }
    job = g_new0(SealJob, 1);
    job->p = p;
    job->sel = sel;
    job->type = type;
    job->data = g_bytes_ref(data);
    g_ptr_array_add(p->seals, job);
    job->thread = g_thread_new("seal", seal_thread, job);
}

/* Every large data the peer owns, sealed in the background. */
static void seal_owned(HostClipboardPeer *p)
{
    unsigned s, t;

    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        VdcClipboardInfo *info = vdc_clipboard_hub_info(p->h->hub, s);

        for (t = 0; info && info->owner == &p->peer &&
                    t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            seal_start(p, s, t, info->types[t].data);
        }
    }
}

/*
 * After a restore: once the main loop has nothing more urgent, so that
 * the copy's thread (its creation, and the copy beside the switchover's
 * last steps) is not in a migration's downtime.
 */
static gboolean seal_owned_later(gpointer opaque)
{
    HostClipboardPeer *p = opaque;

    p->seal_later = 0;
    seal_owned(p);
    return G_SOURCE_REMOVE;
}

HostClipboardPeer *host_clipboard_peer_new(Host *h)
{
    HostClipboardPeer *p = g_new0(HostClipboardPeer, 1);

    p->h = h;
    p->seals = g_ptr_array_new();
    p->peer.name = "host";
    p->peer.ops = &host_peer_ops;
    p->peer.opaque = p;
    vdc_clipboard_peer_register(h->hub, &p->peer);
    return p;
}

static void get_quit(HostWaiting *w, void *opaque)
{
    get_answer((HostGetRequest *)w, NULL, opaque);
}

void host_clipboard_peer_free(HostClipboardPeer *p)
{
    if (!p) {
        return;
    }
    host_waiting_foreach(p->h, &get_ops, get_quit,
                         (void *)"vdagent-host is quitting");
    g_clear_handle_id(&p->seal_later, g_source_remove);
    /* the copies being made: waited for, their results dropped */
    while (p->seals->len) {
        SealJob *job = g_ptr_array_steal_index_fast(p->seals, 0);

        g_thread_join(job->thread);
        g_source_remove(g_atomic_int_get(&job->idle_id));
        seal_job_free(job);
    }
    g_ptr_array_unref(p->seals);
    vdc_clipboard_peer_unregister(&p->peer);
    g_free(p);
}

void host_clipboard_peer_set(HostClipboardPeer *p, VdcClipboardSelection sel,
                             VdcClipboardType type, GBytes *data)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(&p->peer, sel);

    vdc_clipboard_hub_set_data(p->h->hub, &p->peer, info, type, data, false);
    vdc_clipboard_hub_update(p->h->hub, info);
    seal_start(p, sel, type, data);
}

/*
 * The "filename" form of clipboard-get, before anything is asked: @path
 * (absolute, checked by the caller) must be absent or a regular file
 * (lstat: a symbolic link, a directory, a device are refused), and a
 * temporary file is created beside it (mode 0600), whose descriptor
 * goes to @fd and name to @tmpname.  False with the error in @err.
 */
static bool get_open_file(const char *path, char **tmpname, int *fd,
                          char **err)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    GStatBuf st;

    if (g_lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        *err = g_strdup_printf("%s is %s, not a regular file", path,
                               S_ISDIR(st.st_mode) ? "a directory"
                               : S_ISLNK(st.st_mode) ? "a symbolic link"
                                                     : "a special file");
        return false;
    }
    if (path[strlen(path) - 1] == '/') {
        *err = g_strdup_printf("%s names a directory", path);
        return false;
    }
    *tmpname = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
    *fd = g_mkstemp_full(*tmpname, O_WRONLY | O_CLOEXEC, 0600);
    if (*fd < 0) {
        *err = g_strdup_printf("cannot create a file in %s: %s", dir,
                               g_strerror(errno));
        g_clear_pointer(tmpname, g_free);
        return false;
    }
    return true;
}

void host_clipboard_peer_get(HostClipboardPeer *p, QmpRequest *req,
                             VdcClipboardSelection sel, VdcClipboardType type,
                             const char *filename)
{
    HostGetRequest *g;
    VdcClipboardInfo *info = vdc_clipboard_hub_info(p->h->hub, sel);
    g_autofree char *tmpname = NULL, *err = NULL;
    int fd = -1;

    if (!info || !info->owner) {
        qmp_reply_error(req, "no owner for the %s selection",
                        vdc_clipboard_selection_name(sel));
        return;
    }
    if (!info->types[type].available) {
        qmp_reply_error(req, "the %s selection has no %s",
                        vdc_clipboard_selection_name(sel), vdc_clipboard_type_name(type));
        return;
    }
    if (filename && !get_open_file(filename, &tmpname, &fd, &err)) {
        qmp_reply_error(req, "%s", err);
        return;
    }
    g = g_new0(HostGetRequest, 1);
    g->p = p;
    g->sel = sel;
    g->type = type;
    g->info = vdc_clipboard_info_ref(info);
    g->filename = g_strdup(filename);
    g->tmpname = g_steal_pointer(&tmpname);
    g->fd = fd;
    host_waiting_add(p->h, &g->w, req, &get_ops);
    if (info->types[type].data) {
        get_answer(g, info, NULL);
        return;
    }
    if (!vdc_clipboard_hub_request(p->h->hub, info, type)) {
        get_answer(g, NULL, "the owner cannot be asked");
    }
    /* else: answered from get_notify (data, timeout, owner change) */
}

void host_clipboard_peer_release(HostClipboardPeer *p, VdcClipboardSelection sel)
{
    vdc_clipboard_peer_release(&p->peer, sel);
}

void host_clipboard_peer_save(HostClipboardPeer *p, VdcClipboardSaved *saved)
{
    vdc_clipboard_saved_collect(saved, &p->peer);
}

void host_clipboard_peer_restore(HostClipboardPeer *p, VdcClipboardSaved *saved)
{
    vdc_clipboard_saved_restore(saved, p->h->hub, &p->peer);
    /* what came as bytes (tcp:): sealed once the destination runs */
    if (!p->seal_later) {
        p->seal_later = g_idle_add_full(G_PRIORITY_LOW, seal_owned_later,
                                        p, NULL);
    }
}
