/*
 * embed.c: how an emulator embeds libvdagent-chardev, in one file.
 *
 * A tiny emulator-style frontend.  Its "virtio port" is one end of a
 * socket pair; the guest agent is a program it starts with the other end
 * as fd 3 (as the agent in a VM finds its port).  It shows, in the order
 * an emulator meets them:
 *   1. the objects: a clipboard hub and an input router of the emulator's
 *      own, the device joining both, the emulator's own clipboard peer
 *      (its UI), a migration registry;
 *   2. the frontend: the device does no I/O; we feed it the guest's bytes
 *      and give it room (can_write / write / accept_input), and read the
 *      guest only while the device takes input (input_room);
 *   3. the clipboard both ways: our UI offers text on PRIMARY, and prints
 *      what the guest copies;
 *   4. pointer events through the router;
 *   5. a live migration in one process, in a snapshot format of our own
 *      (as an emulator with its own migration does): pause, put the
 *      device's state (vdc_chardev_save_state(), one opaque blob) and our
 *      UI's section into one buffer of ours, build a new machine, load;
 *      the load's verdict is the check step: a first copy damaged on
 *      purpose is refused, the source resumes, nothing is lost; the
 *      second goes through and the new machine resumes on the same port.
 *      The guest agent must not notice.
 * It ends when the agent closes the port (exit 0), or after 30 s (1).
 *
 * Build it against the installed library, and only so:
 *   cc -o embed embed.c $(pkg-config --cflags --libs vdagent-chardev)
 * Run:  ./embed AGENT [ARGS...]     e.g.  ./embed sim-agent --fd 3
 * make check runs it against the project's scripted agent and checks
 * what it prints (tests/check-install.sh).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

/* One include for the device; it brings clipboard, input and savevm. */
#include <vdagent/vdc-vdagent.h>
/* Only for an embedding whose own clipboard peer migrates (step 5). */
#include <clipboard/vdc-clipboard-vmstate.h>

#define PORT_BUF (64 * 1024)    /* the port's output buffer */
#define GUEST_FD 3              /* where the agent finds its port */

/* ---- the machine: what a migration replaces ---------------------------- */

typedef struct Emu Emu;

typedef struct Machine {
    Emu *emu;
    VdcClipboardHub *hub;          /* ours: the device's peer joins it */
    VdcInputRouter *router;        /* ours: the device's pointer joins it */
    VdcClipboardPeer ui;           /* the emulator's UI as a clipboard peer */
    VdcChardev *dev;
    VdcMigrationRegistry *reg;     /* our UI's section only */
    /* What the UI printed last, per selection (held: compared, never
       followed): a resumed hub replays its state, which is no new copy. */
    VdcClipboardInfo *printed[VDC_CLIPBOARD_SELECTION__COUNT];
    /* The UI's migrated state: the selections it owns (its own section). */
    VdcClipboardSaved saved;
} Machine;

/* ---- the emulator: the port, the loop, the machine in use -------------- */

struct Emu {
    GMainLoop *loop;
    int fd;                     /* our end of the "virtio port" */
    GByteArray *out;            /* written by the device, not yet sent */
    guint out_watch;
    guint in_watch;
    Machine *m;
    unsigned copies;            /* guest copies seen */
    bool caps_seen;
    int status;
};

static void port_send(Emu *e);
static gboolean port_out_ready(gint fd, GIOCondition cond, gpointer opaque);

/*
 * The frontend table.  The device calls these from inside its own calls
 * (vdc_chardev_write, accept_input, a hub or router event...); they
 * may call back into the device (the header says which calls, and how).
 */
static size_t port_can_write(void *opaque)
{
    Emu *e = opaque;

    return PORT_BUF - e->out->len;
}

static void port_write(void *opaque, const uint8_t *buf, size_t len)
{
    Emu *e = opaque;

    /* Never more than can_write() allowed: the buffer cannot overflow. */
    g_byte_array_append(e->out, buf, len);
    port_send(e);
}

static void ui_offer_text(Machine *m, VdcClipboardSelection sel,
                          const char *text);

static void port_guest_caps(void *opaque)
{
    Emu *e = opaque;

    /* Called on every caps exchange; a real UI would offer once. */
    if (e->caps_seen) {
        return;
    }
    e->caps_seen = true;
    size_t n;
    const uint32_t *caps = vdc_chardev_guest_caps(e->m->dev, &n);
    printf("embed: guest agent ready, caps 0x%08x\n", n ? caps[0] : 0);
    ui_offer_text(e->m, VDC_CLIPBOARD_SELECTION_PRIMARY, "Hello from the emulator");
}

static const VdcFrontendOps port_ops = {
    .can_write = port_can_write,
    .write = port_write,
    .guest_caps = port_guest_caps,
    /* .event: a serial-reset reconnect wants the port closed and reopened;
       a socket pair cannot show that to the agent, so we leave it out. */
};

/* Send what the socket takes now; wait for room for the rest. */
static void port_send(Emu *e)
{
    while (e->out->len) {
        ssize_t n = send(e->fd, e->out->data, e->out->len, MSG_DONTWAIT);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;              /* EAGAIN (wait for room) or the agent went */
        }
        g_byte_array_remove_range(e->out, 0, n);
    }
    if (e->out->len && !e->out_watch) {
        e->out_watch = g_unix_fd_add(e->fd, G_IO_OUT, port_out_ready, e);
    }
}

static gboolean port_in_ready(gint fd, GIOCondition cond, gpointer opaque);

/*
 * Read the guest only while the device takes input: a guest that writes
 * without reading what the device answers then waits in its own port
 * (as behind any chardev whose can_read is 0) instead of making the
 * device queue answers without bound.  Asked again whenever output
 * leaves, the only thing that makes room.
 */
static void port_watch_input(Emu *e)
{
    bool want = vdc_chardev_input_room(e->m->dev) > 0;

    if (want && !e->in_watch) {
        e->in_watch = g_unix_fd_add(e->fd, G_IO_IN | G_IO_HUP, port_in_ready, e);
    } else if (!want && e->in_watch) {
        g_source_remove(e->in_watch);
        e->in_watch = 0;
    }
}

/* The socket took bytes again: our buffer has room, tell the device. */
static gboolean port_out_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Emu *e = opaque;

    e->out_watch = 0;
    port_send(e);
    /* It writes what it queued meanwhile (through port_write). */
    vdc_chardev_accept_input(e->m->dev);
    port_watch_input(e);
    return G_SOURCE_REMOVE;
}

/* The guest's bytes go to the device as they come, at any split. */
static gboolean port_in_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Emu *e = opaque;
    uint8_t buf[16384];
    size_t room = vdc_chardev_input_room(e->m->dev);
    ssize_t n;

    if (room == 0) {            /* output queued meanwhile, from elsewhere */
        e->in_watch = 0;
        return G_SOURCE_REMOVE;
    }
    n = read(fd, buf, MIN(sizeof(buf), room));

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        VdcCounters c;

        vdc_chardev_get_counters(e->m->dev, &c);
        printf("embed: the guest closed the port (%" G_GUINT64_FORMAT
               " bytes in, %" G_GUINT64_FORMAT " out, %u copies seen)\n",
               c.bytes_in, c.bytes_out, e->copies);
        vdc_chardev_set_guest_open(e->m->dev, false);
        g_main_loop_quit(e->loop);
        e->in_watch = 0;
        return G_SOURCE_REMOVE;
    }
    vdc_chardev_write(e->m->dev, buf, n);
    if (vdc_chardev_input_room(e->m->dev) == 0) {
        e->in_watch = 0;        /* port_out_ready() asks again */
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* ---- the UI: the emulator's own clipboard peer -------------------------- */

static gboolean migrate_now(gpointer opaque);

/*
 * Every hub change reaches every peer.  Ours asks for the text of what
 * the guest copies, and prints it once it has come.
 */
static void ui_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    Machine *m = peer->opaque;
    VdcClipboardInfo *info = n->info;
    VdcClipboardContent *text;

    /* Restored infos (after a migration) are no new copies. */
    if (n->type != VDC_CLIPBOARD_NOTIFY_UPDATE || !info->owner ||
        info->owner == peer || info->restored) {
        return;
    }
    text = &info->types[VDC_CLIPBOARD_TYPE_TEXT];
    if (!text->available) {
        return;
    }
    if (!text->data) {
        /* The guest grabbed: ask (answered by a later UPDATE). */
        vdc_clipboard_hub_request(m->hub, info, VDC_CLIPBOARD_TYPE_TEXT);
        return;
    }
    if (m->printed[info->selection] == info) {
        return;                         /* a replay on resume */
    }
    if (m->printed[info->selection]) {
        vdc_clipboard_info_unref(m->printed[info->selection]);
    }
    m->printed[info->selection] = vdc_clipboard_info_ref(info);
    gsize len;
    const char *s = g_bytes_get_data(text->data, &len);
    printf("embed: guest copied (%s): %.*s\n",
           vdc_clipboard_selection_name(info->selection), (int)len, s);
    if (++m->emu->copies == 1) {
        /* Not from inside a hub callback: from the loop. */
        g_idle_add(migrate_now, m->emu);
    }
}

static const VdcClipboardPeerOps ui_ops = {
    .notify = ui_notify,
    /* .request NULL: we give our data with every grab. */
};

/* The UI copies @text: it owns @sel with the data at once. */
static void ui_offer_text(Machine *m, VdcClipboardSelection sel, const char *text)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(&m->ui, sel);

    info->types[VDC_CLIPBOARD_TYPE_TEXT].available = true;
    info->types[VDC_CLIPBOARD_TYPE_TEXT].data = g_bytes_new(text, strlen(text));
    if (vdc_clipboard_hub_update(m->hub, info)) {
        printf("embed: host offers (%s): %s\n",
               vdc_clipboard_selection_name(sel), text);
    }
}

/* ---- the machine's life ------------------------------------------------- */

/* The UI's section: collect what it owns before the save. */
static bool ui_pre_save(void *opaque, GError **errp)
{
    Machine *m = opaque;

    vdc_clipboard_saved_collect(&m->saved, &m->ui);
    return true;
}

static void ui_post_save(void *opaque)
{
    vdc_clipboard_saved_clear(&((Machine *)opaque)->saved);
}

static void ui_load_failed(void *opaque)
{
    vdc_clipboard_saved_clear(&((Machine *)opaque)->saved);
}

static const VdcVMStateField ui_fields[] = {
    VDC_VMSTATE_STRUCT(saved, Machine, vdc_vmstate_clipboard_saved, VdcClipboardSaved),
    VDC_VMSTATE_END_OF_LIST()
};

static const VdcVMStateDescription vmstate_ui = {
    .name = "embed-ui",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = ui_pre_save,
    .post_save = ui_post_save,
    .load_failed = ui_load_failed,
    .fields = ui_fields,
};

static Machine *machine_new(Emu *e, GError **errp)
{
    Machine *m = g_new0(Machine, 1);
    VdcConfig config;

    m->emu = e;
    /* The hub's request timeouts run on the thread-default main context
       of this moment: ours (the default one). */
    m->hub = vdc_clipboard_hub_new();
    m->router = vdc_input_router_new();
    m->ui = (VdcClipboardPeer){ .name = "embed-ui", .ops = &ui_ops, .opaque = m };
    vdc_clipboard_peer_register(m->hub, &m->ui);

    vdc_config_init(&config);       /* mouse on, monitors on */
    config.clipboard = true;
    config.clipboard_hub = m->hub;      /* borrowed: outlives the device */
    config.input_router = m->router;
    m->dev = vdc_chardev_new(&config, &port_ops, e, errp);
    /* The device's state travels as a blob (step 5): only our UI's
       section is registered here. */
    m->reg = vdc_migration_registry_new();
    if (!m->dev ||
        !vdc_migration_register(m->reg, "embed-ui", 0, &vmstate_ui, m, errp)) {
        return NULL;                    /* (an example: no cleanup here) */
    }
    return m;
}

/* Free in the reverse order: the device leaves the hub and router. */
static void machine_free(Machine *m)
{
    unsigned s;

    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        if (m->printed[s]) {
            vdc_clipboard_info_unref(m->printed[s]);
        }
    }
    vdc_migration_registry_free(m->reg);
    vdc_chardev_free(m->dev);
    vdc_clipboard_peer_unregister(&m->ui);
    vdc_clipboard_saved_clear(&m->saved);
    vdc_input_router_free(m->router);
    vdc_clipboard_hub_free(m->hub);
    g_free(m);
}

/* A paused VM: the device, our hub and our router all stop. */
static void machine_set_running(Machine *m, bool running)
{
    vdc_chardev_set_running(m->dev, running);
    vdc_clipboard_hub_set_running(m->hub, running);
    vdc_input_router_set_running(m->router, running);
}

/* ---- pointer and migration ---------------------------------------------- */

/* Absolute 0..VDC_INPUT_ABS_MAX on both axes, then a left click, then sync. */
static void pointer_click(Machine *m, int32_t x, int32_t y)
{
    VdcMouse ms;

    vdc_input_send_abs(m->router, 0, VDC_INPUT_AXIS_X, x);
    vdc_input_send_abs(m->router, 0, VDC_INPUT_AXIS_Y, y);
    vdc_input_send_btn(m->router, 0, VDC_INPUT_BUTTON_LEFT, true);
    vdc_input_event_sync(m->router);
    vdc_input_send_btn(m->router, 0, VDC_INPUT_BUTTON_LEFT, false);
    vdc_input_event_sync(m->router);
    vdc_chardev_mouse_state(m->dev, &ms);
    printf("embed: pointer clicked at %u,%u on head %u\n",
           ms.x, ms.y, ms.display_id);
}

/*
 * Our own snapshot format, as an emulator with its own migration has one:
 * "EMBS", then two parts, each a be32 length and its bytes: the device's
 * blob (opaque to us) and our UI's stream.
 */
static void put_part(GByteArray *snap, const uint8_t *p, size_t len)
{
    uint8_t be[4] = { len >> 24, len >> 16, len >> 8, len };

    g_byte_array_append(snap, be, 4);
    g_byte_array_append(snap, p, len);
}

static bool get_part(const GByteArray *snap, size_t *off,
                     const uint8_t **p, size_t *len)
{
    const uint8_t *b = snap->data + *off;

    if (snap->len - *off < 4) {
        return false;
    }
    *len = (size_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    if (snap->len - *off - 4 < *len) {
        return false;
    }
    *p = b + 4;
    *off += 4 + *len;
    return true;
}

static GByteArray *snapshot_save(Machine *m, GError **errp)
{
    g_autoptr(VdcMigrationStream) dev = vdc_migration_stream_new_buffer();
    g_autoptr(VdcMigrationStream) ui = vdc_migration_stream_new_buffer();
    GByteArray *snap;
    const uint8_t *p;
    size_t len;

    /* The device must be stopped: it says so otherwise. */
    if (!vdc_chardev_save_state(m->dev, dev, errp) ||
        !vdc_migration_save(m->reg, ui, errp)) {
        return NULL;
    }
    snap = g_byte_array_new();
    g_byte_array_append(snap, (const uint8_t *)"EMBS", 4);
    p = vdc_migration_stream_data(dev, &len);
    put_part(snap, p, len);
    p = vdc_migration_stream_data(ui, &len);
    put_part(snap, p, len);
    return snap;
}

/* The destination's load; its result is the verdict the source waits for. */
static bool snapshot_load(Machine *m, const GByteArray *snap, GError **errp)
{
    g_autoptr(VdcMigrationStream) dev = NULL;
    g_autoptr(VdcMigrationStream) ui = NULL;
    const uint8_t *p;
    size_t len, off = 4;

    if (snap->len < 4 || memcmp(snap->data, "EMBS", 4) != 0 ||
        !get_part(snap, &off, &p, &len)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "not one of our snapshots");
        return false;
    }
    /* Checks every byte; on any error the device is fresh again. */
    dev = vdc_migration_stream_new_reader(p, len);
    if (!vdc_chardev_load_state(m->dev, dev, errp)) {
        return false;
    }
    if (!get_part(snap, &off, &p, &len)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "snapshot cut short");
        return false;
    }
    ui = vdc_migration_stream_new_reader(p, len);
    return vdc_migration_load(m->reg, ui, errp);
}

/* Build a destination machine and load @snap into it; NULL if refused. */
static Machine *destination(Emu *e, const GByteArray *snap, GError **errp)
{
    Machine *dst = machine_new(e, errp);

    if (!dst) {
        return NULL;
    }
    /* Stopped until the load has succeeded (an incoming VM). */
    machine_set_running(dst, false);
    if (!snapshot_load(dst, snap, errp)) {
        machine_free(dst);
        return NULL;
    }
    return dst;
}

static gboolean migrate_now(gpointer opaque)
{
    Emu *e = opaque;
    Machine *src = e->m, *dst;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) snap = NULL;
    g_autoptr(GByteArray) damaged = NULL;

    pointer_click(src, VDC_INPUT_ABS_MAX / 2, VDC_INPUT_ABS_MAX / 4);

    /* Source: pause (nothing more reaches the guest), save everything. */
    machine_set_running(src, false);
    snap = snapshot_save(src, &err);
    if (!snap) {
        goto fail;
    }

    /*
     * The check step.  A copy damaged on the way (one byte of the
     * device's blob) is refused by the destination: the source, stopped
     * and unchanged until the verdict, simply runs on.
     */
    damaged = g_byte_array_sized_new(snap->len);
    g_byte_array_append(damaged, snap->data, snap->len);
    damaged->data[4 + 4 + 9] ^= 0xff;      /* the blob's section id */
    dst = destination(e, damaged, &err);
    if (dst) {
        printf("embed: a damaged snapshot loaded\n");
        e->status = 1;
        g_main_loop_quit(e->loop);
        return G_SOURCE_REMOVE;
    }
    printf("embed: the destination refused a damaged copy, the source "
           "resumes\n");
    g_clear_error(&err);
    machine_set_running(src, true);
    machine_set_running(src, false);        /* and tries again */

    dst = destination(e, snap, &err);
    if (!dst) {
        goto fail;                  /* a real source would resume here */
    }
    /* The verdict was yes: the source lets go. */
    /* Our own peer takes back its selections once everything loaded. */
    vdc_clipboard_saved_restore(&dst->saved, dst->hub, &dst->ui);

    /* The port moves over: the guest's open continues the session. */
    e->m = dst;
    machine_free(src);
    vdc_chardev_set_guest_open(dst->dev, true);
    machine_set_running(dst, true);
    port_watch_input(e);            /* the loaded device's own room */
    printf("embed: migrated (%u bytes of state), the session goes on\n",
           snap->len);
    fflush(stdout);
    return G_SOURCE_REMOVE;

fail:
    printf("embed: migration failed: %s\n", err->message);
    e->status = 1;
    g_main_loop_quit(e->loop);
    return G_SOURCE_REMOVE;
}

static gboolean too_long(gpointer opaque)
{
    Emu *e = opaque;

    printf("embed: no end after 30 s\n");
    e->status = 1;
    g_main_loop_quit(e->loop);
    return G_SOURCE_REMOVE;
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static Emu emu;
    Emu *e = &emu;
    g_autoptr(GError) err = NULL;
    int sv[2];
    uint32_t v = vdc_chardev_version();
    gint source_fds[1], target_fds[1] = { GUEST_FD };

    if (argc < 2) {
        fprintf(stderr, "usage: embed AGENT [ARGS...] (its port is fd 3)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* The headers' version against the library's: same major, by SONAME. */
    printf("embed: libvdagent-chardev %u.%u.%u, built against %d.%d.%d\n",
           v >> 16, (v >> 8) & 0xff, v & 0xff,
           VDC_CHARDEV_VERSION_MAJOR, VDC_CHARDEV_VERSION_MINOR,
           VDC_CHARDEV_VERSION_MICRO);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("embed: socketpair");
        return 1;
    }
    source_fds[0] = sv[1];
    if (!g_spawn_async_with_pipes_and_fds(NULL, (const char *const *)argv + 1,
                                          NULL, G_SPAWN_SEARCH_PATH, NULL,
                                          NULL, -1, -1, -1, source_fds,
                                          target_fds, 1, NULL, NULL, NULL,
                                          NULL, &err)) {
        fprintf(stderr, "embed: %s\n", err->message);
        return 1;
    }
    close(sv[1]);

    e->loop = g_main_loop_new(NULL, FALSE);
    e->fd = sv[0];
    e->out = g_byte_array_new();
    g_unix_set_fd_nonblocking(e->fd, TRUE, NULL);
    e->m = machine_new(e, &err);
    if (!e->m) {
        fprintf(stderr, "embed: %s\n", err->message);
        return 1;
    }
    g_timeout_add_seconds(30, too_long, e);

    /* The agent is there: its port is open (the device sends its caps). */
    vdc_chardev_set_guest_open(e->m->dev, true);
    port_watch_input(e);
    g_main_loop_run(e->loop);

    machine_free(e->m);
    g_byte_array_unref(e->out);
    g_main_loop_unref(e->loop);
    close(e->fd);
    return e->status;
}
