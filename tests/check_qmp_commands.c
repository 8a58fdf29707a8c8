/*
 * check_qmp_commands.c: the arguments of every command of vdagent-host
 * (host/commands.c) as the QMP dispatcher checks them (issue 11.3).
 *
 * Each command has an argument table (QmpCommand.args): a member it does
 * not list is "Parameter 'NAME' is unexpected", a member of the wrong JSON
 * type "Invalid parameter type for 'NAME', expected: TYPE", a required
 * member absent "Parameter 'NAME' is missing", each a GenericError as
 * QEMU's (NAME a path inside: "heads[1].x"), and the command does nothing: the host's state (run status, the
 * three selections, the heads, the pointer events, the migration, the
 * device's output) is the same after, no event is sent, and the
 * connection goes on.  The tables below are written here from SPEC
 * section 5, independently of host/commands.c; a test checks that they
 * name exactly the commands and members the host has.
 *
 * Every test gets the QMP fixture (check_qmp.h: its clients) and a bare
 * host (tests/test-host.h) with the real host commands, its clipboard peer
 * and its migration, served on DIR/host.sock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "host/clipboard-peer.h"
#include "host/commands.h"
#include "host/migrate.h"
#include "host/sealed.h"
#include "tests/check_qmp.h"
#include "tests/check_suites.h"
#include "tests/guest-agent.h"
#include "tests/test-host.h"

/* ---- a bare host with the real commands --------------------------------- */

static struct {
    Host host;
    VdcConfig config;
    VdcMigrationRegistry *reg;
    HostClipboardPeer *peer;
    HostMigration *mig;
    HostFileXfers *fx;
    HostCommands hc;
    QmpServer *server;
    char *dir;
    char *path;
    VdcInputHandlerState *input;
    unsigned events, syncs;
} hx;

/* A pointer handler in front of the device's: counts what reaches it. */
static void count_event(void *opaque, const VdcInputEvent *evt)
{
    (void)opaque;
    (void)evt;
    hx.events++;
}

static void count_sync(void *opaque)
{
    (void)opaque;
    hx.syncs++;
}

static const VdcInputHandler counting_handler = {
    .name = "check-qmp-commands",
    .mask = VDC_INPUT_EVENT_MASK_BTN | VDC_INPUT_EVENT_MASK_ABS,
    .event = count_event,
    .sync = count_sync,
};

static void hx_setup(void)
{
    g_autoptr(GError) err = NULL;

    memset(&hx, 0, sizeof(hx));
    test_host_init(&hx.host, &hx.config, &hx.reg);
    hx.peer = host_clipboard_peer_new(&hx.host);
    hx.mig = host_migration_new(&hx.host, hx.reg, &test_host_stub_ops, NULL, &err);
    ck_assert_ptr_null(err);
    hx.fx = host_file_xfers_new(&hx.host);
    hx.hc = (HostCommands){ .h = &hx.host, .peer = hx.peer, .mig = hx.mig,
                            .fx = hx.fx };
    hx.dir = test_scratch_new("check-qmp-commands");
    hx.path = g_build_filename(hx.dir, "host.sock", NULL);
    hx.server = qmp_server_new(hx.path, host_commands, &hx.hc, &err);
    ck_assert_ptr_null(err);
    host_set_qmp(&hx.host, hx.server);
    hx.input = vdc_input_handler_register(hx.host.router, &counting_handler, NULL);
    vdc_input_handler_activate(hx.input);
}

static void hx_teardown(void)
{
    host_set_qmp(&hx.host, NULL);
    g_clear_pointer(&hx.server, qmp_server_free);
    g_clear_pointer(&hx.input, vdc_input_handler_unregister);
    g_clear_pointer(&hx.mig, host_migration_free);
    g_clear_pointer(&hx.peer, host_clipboard_peer_free);
    test_host_fini(&hx.host, &hx.reg);
    g_clear_pointer(&hx.fx, host_file_xfers_free);
    g_clear_pointer(&hx.path, g_free);
    test_scratch_free(&hx.dir);
}

/* A negotiated, reading client of the host's server. */
static Client *host_client(void)
{
    Client *c = client_new_at(hx.path);

    negotiate(c);
    return c;
}

/* Everything a command could change, as text. */
static char *snapshot(void)
{
    GString *s = g_string_new(NULL);
    HostMigInfo info;
    VdcCounters counters;
    unsigned i;

    g_string_append_printf(s, "status %d;", (int)host_status(&hx.host));
    for (i = 0; i < VDC_CLIPBOARD_SELECTION__COUNT; i++) {
        VdcClipboardInfo *ci = vdc_clipboard_hub_info(hx.host.hub, i);

        g_string_append_printf(s, "sel %u: %p %p %u %" PRIu32 ";", i,
                               (void *)ci, ci ? (void *)ci->owner : NULL,
                               ci ? vdc_clipboard_info_types(ci) : 0,
                               ci && ci->has_serial ? ci->serial : 0);
    }
    for (i = 0; i < vdc_input_router_n_heads(hx.host.router); i++) {
        VdcInputHeadGeometry g;

        ck_assert(vdc_input_router_head(hx.host.router, i, &g));
        g_string_append_printf(s, "head %u: %ux%u+%d+%d;", i, g.width,
                               g.height, g.x, g.y);
    }
    g_string_append_printf(s, "input %u %u;", hx.events, hx.syncs);
    host_migration_info(hx.mig, &info);
    g_string_append_printf(s, "mig %d %s;", (int)info.status,
                           info.error ? info.error : "");
    vdc_chardev_get_counters(hx.host.dev, &counters);
    g_string_append_printf(s, "dev %" PRIu64 " %" PRIu64 ";",
                           vdc_chardev_pending_output(hx.host.dev),
                           counters.bytes_out);
    return g_string_free(s, FALSE);
}

/* ---- the commands and their members (SPEC section 5) -------------------- */

/*
 * Valid arguments of each command ("@" stands for the scratch directory);
 * @immediate: they are answered {"return": ...} at once on the bare host
 * (the control that the refusals below come from the member under test).
 */
static const struct {
    const char *cmd;
    const char *args;
    bool immediate;
} host_cmds[] = {
    { "qmp_capabilities", "{\"enable\": []}", false },   /* negotiated */
    { "query-commands", "{}", true },
    { "query-status", "{}", true },
    { "stop", "{}", true },
    { "cont", "{}", true },
    { "quit", "{}", false },
    { "query-vdagent", "{}", true },
    { "clipboard-set", "{\"selection\": \"primary\", \"type\": \"text\", "
                       "\"data\": \"x\"}", true },
    { "clipboard-get", "{\"selection\": \"secondary\", \"type\": \"text\"}",
      false },
    { "clipboard-release", "{\"selection\": \"primary\"}", true },
    { "clipboard-query", "{\"selection\": \"primary\"}", true },
    { "input-send-event", "{\"head\": 0, \"events\": [{\"type\": \"abs\", "
                          "\"data\": {\"axis\": \"x\", \"value\": 5}}]}",
      true },
    { "display-configure", "{\"heads\": [{\"width\": 800, "
                           "\"height\": 600}]}", true },
    { "migrate", "{\"uri\": \"file:@/state\"}", false },
    { "migrate-incoming", "{\"uri\": \"unix:@/incoming\"}", false },
    { "query-migrate", "{}", true },
    { "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": "
      "\"pause-before-switchover\", \"state\": false}]}", true },
    { "query-migrate-capabilities", "{}", true },
    { "migrate-continue", "{\"state\": \"pre-switchover\"}", false },
    { "migrate-cancel", "{}", true },
    /* no agent on the bare host: refused, later */
    { "file-send", "{\"filename\": \"@/f\", \"name\": \"n\"}", false },
    { "file-cancel", "{\"id\": 1}", false },
    { "query-file-transfers", "{}", true },
};

/* Every member of every command's "arguments", with its JSON type. */
static const struct {
    const char *cmd;
    const char *member;
    const char *type;             /* QEMU's name */
    bool required;
} host_members[] = {
    { "qmp_capabilities", "enable", "array", false },
    { "clipboard-set", "selection", "string", false },
    { "clipboard-set", "type", "string", false },
    { "clipboard-set", "data", "string", false },
    { "clipboard-set", "data-base64", "string", false },
    { "clipboard-set", "filename", "string", false },
    { "clipboard-get", "selection", "string", false },
    { "clipboard-get", "type", "string", false },
    { "clipboard-get", "filename", "string", false },
    { "clipboard-release", "selection", "string", false },
    { "clipboard-query", "selection", "string", false },
    { "input-send-event", "head", "integer", false },
    { "input-send-event", "events", "array", true },
    { "display-configure", "heads", "array", true },
    { "migrate", "uri", "string", true },
    { "migrate-incoming", "uri", "string", true },
    { "migrate-set-capabilities", "capabilities", "array", true },
    { "migrate-continue", "state", "string", true },
    { "file-send", "filename", "string", true },
    { "file-send", "name", "string", false },
    { "file-cancel", "id", "integer", true },
};

/*
 * The members inside: each @args has "@" where the member under test
 * goes, the rest valid; @path is its name in the errors (QEMU's).
 */
#define ABS_DATA "{\"axis\": \"x\", \"value\": 5}"
#define BTN_DATA "{\"down\": true, \"button\": \"left\"}"
#define HEAD "{\"width\": 800, \"height\": 600}"
static const struct {
    const char *cmd;
    const char *args;
    const char *path;
    const char *type;
} nested_members[] = {
    { "input-send-event", "{\"events\": [@]}", "events[0]", "object" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      ABS_DATA "}, @]}", "events[1]", "object" },
    { "input-send-event", "{\"events\": [{\"type\": @, \"data\": "
      ABS_DATA "}]}", "events[0].type", "string" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": @}]}",
      "events[0].data", "object" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      "{\"axis\": @, \"value\": 5}}]}", "events[0].data.axis", "string" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      "{\"axis\": \"y\", \"value\": @}}]}", "events[0].data.value", "integer" },
    { "input-send-event", "{\"events\": [{\"type\": \"btn\", \"data\": "
      "{\"down\": @, \"button\": \"left\"}}]}", "events[0].data.down",
      "boolean" },
    { "input-send-event", "{\"events\": [{\"type\": \"btn\", \"data\": "
      "{\"down\": false, \"button\": @}}]}", "events[0].data.button",
      "string" },
    { "display-configure", "{\"heads\": [@]}", "heads[0]", "object" },
    { "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": @, "
      "\"state\": true}]}", "capabilities[0].capability", "string" },
    { "migrate-set-capabilities", "{\"capabilities\": [{\"capability\": "
      "\"pause-before-switchover\", \"state\": @}]}",
      "capabilities[0].state", "boolean" },
    { "display-configure", "{\"heads\": [{\"width\": @, \"height\": 600}]}",
      "heads[0].width", "integer" },
    { "display-configure", "{\"heads\": [{\"width\": 800, \"height\": @}]}",
      "heads[0].height", "integer" },
    { "display-configure", "{\"heads\": [" HEAD ", {\"width\": 800, "
      "\"height\": 600, \"x\": @}]}", "heads[1].x", "integer" },
    { "display-configure", "{\"heads\": [{\"width\": 800, \"height\": 600, "
      "\"y\": @}]}", "heads[0].y", "integer" },
};

/* Arguments refused inside: @desc. */
static const struct {
    const char *cmd;
    const char *args;
    const char *desc;
} nested_refused[] = {
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      ABS_DATA ", \"bogus\": 1}]}", "Parameter 'events[0].bogus' is unexpected" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      "{\"axis\": \"x\", \"value\": 5, \"bogus\": 1}}]}",
      "Parameter 'events[0].data.bogus' is unexpected" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      ABS_DATA "}, {\"type\": \"btn\", \"data\": {\"down\": true, "
      "\"button\": \"left\", \"bogus\": 1}}]}",
      "Parameter 'events[1].data.bogus' is unexpected" },
    /* the data of an abs is not a btn's */
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      BTN_DATA "}]}", "Parameter 'events[0].data.axis' is missing" },
    { "input-send-event", "{\"events\": [{\"data\": " ABS_DATA "}]}",
      "Parameter 'events[0].type' is missing" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\"}]}",
      "Parameter 'events[0].data' is missing" },
    { "input-send-event", "{\"events\": [{\"type\": \"abs\", \"data\": "
      "{\"axis\": \"x\"}}]}", "Parameter 'events[0].data.value' is missing" },
    { "input-send-event", "{\"events\": [{\"type\": \"btn\", \"data\": "
      "{\"button\": \"left\"}}]}", "Parameter 'events[0].data.down' is missing" },
    { "input-send-event", "{\"events\": [{\"type\": \"btn\", \"data\": "
      "{\"down\": true}}]}", "Parameter 'events[0].data.button' is missing" },
    { "display-configure", "{\"heads\": [{\"width\": 800, \"height\": 600, "
      "\"bogus\": 1}]}", "Parameter 'heads[0].bogus' is unexpected" },
    { "display-configure", "{\"heads\": [" HEAD ", {\"width\": 800, "
      "\"height\": 600, \"X\": 0}]}", "Parameter 'heads[1].X' is unexpected" },
    { "display-configure", "{\"heads\": [{\"height\": 600}]}",
      "Parameter 'heads[0].width' is missing" },
    { "display-configure", "{\"heads\": [{\"width\": 800}]}",
      "Parameter 'heads[0].height' is missing" },
};

/* One value of each JSON type, and the type names it satisfies. */
static const struct {
    const char *json;
    const char *fits;             /* space-separated */
} values[] = {
    { "null", "" },
    { "7", "integer number" },
    { "2.5", "number" },
    { "\"text\"", "string" },
    { "true", "boolean" },
    { "[]", "array" },
    { "{}", "object" },
};

static const char *cmd_args(const char *cmd)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(host_cmds); i++) {
        if (strcmp(host_cmds[i].cmd, cmd) == 0) {
            return host_cmds[i].args;
        }
    }
    ck_abort_msg("no command %s in the test's table", cmd);
    return NULL;
}

/* @args ("@" replaced) with @member set to @value (NULL: removed). */
static char *args_with(const char *args, const char *member,
                       const char *value)
{
    g_auto(GStrv) parts = g_strsplit(args, "@", -1);
    g_autofree char *text = g_strjoinv(hx.dir, parts);
    g_autoptr(json_object) obj = parse(text);

    if (member && value) {
        json_object_object_add(obj, member, parse(value));
    } else if (member) {
        json_object_object_del(obj, member);
    }
    return g_strdup(json_object_to_json_string_ext(obj,
                                                   JSON_C_TO_STRING_PLAIN));
}

/*
 * Send @cmd with @args (id @id): refused with @desc, nothing changed, no
 * event, and the connection still answers.
 */
static void expect_refused(Client *c, const char *cmd, const char *args,
                           const char *desc, unsigned id)
{
    g_autofree char *before = snapshot();
    g_autofree char *after = NULL;
    g_autofree char *id_text = g_strdup_printf("%u", id);

    client_sendf(c, "{\"execute\": \"%s\", \"arguments\": %s, \"id\": %u}\n",
                 cmd, args, id);
    expect_generic(c, desc, id_text);
    expect_quiet(c);
    after = snapshot();
    ck_assert_msg(strcmp(before, after) == 0, "%s %s changed the state:\n"
                  "%s\n%s", cmd, args, before, after);
    client_send(c, "{\"execute\": \"query-status\"}\n");
    expect(c, "{\"return\": {\"running\": true, \"status\": \"running\"}}");
}

/* ---- tests ----------------------------------------------------------------- */

/* Every command, with an unknown member beside valid arguments. */
START_TEST(test_unknown_member)
{
    Client *c = host_client();
    g_autofree char *bad = args_with(host_cmds[_i].args, "bogus", "1");
    g_autofree char *good = args_with(host_cmds[_i].args, NULL, NULL);
    g_autofree char *misspelt = args_with(host_cmds[_i].args, "Selection",
                                          "\"primary\"");

    expect_refused(c, host_cmds[_i].cmd, bad, "Parameter 'bogus' is unexpected",
                   1);
    expect_refused(c, host_cmds[_i].cmd, misspelt,
                   "Parameter 'Selection' is unexpected", 2);
    if (host_cmds[_i].immediate) {
        g_autoptr(json_object) msg = NULL;

        /* the control: the same arguments without it are taken */
        client_sendf(c, "{\"execute\": \"%s\", \"arguments\": %s}\n",
                     host_cmds[_i].cmd, good);
        msg = client_msg(c);
        while (json_object_object_get_ex(msg, "event", NULL)) {
            json_object_put(msg);       /* STOP, RESUME */
            msg = client_msg(c);
        }
        ck_assert_msg(json_object_object_get_ex(msg, "return", NULL),
                      "%s %s: %s", host_cmds[_i].cmd, good,
                      json_object_to_json_string(msg));
    }
}
END_TEST

/* ---- the "filename" forms (issue 16) ---------------------------------------- */

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the scratch directory, sorted, as one string. */
static char *dir_names(void)
{
    g_autoptr(GDir) d = g_dir_open(hx.dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    GString *s = g_string_new(NULL);
    const char *n;
    guint i;

    ck_assert_ptr_nonnull(d);
    while ((n = g_dir_read_name(d))) {
        g_ptr_array_add(names, (gpointer)g_intern_string(n));
    }
    g_ptr_array_sort(names, cmp_names);
    for (i = 0; i < names->len; i++) {
        g_string_append_printf(s, "%s/", (char *)names->pdata[i]);
    }
    return g_string_free(s, false);
}

/* A file of the scratch directory (a new string). */
static char *in_dir(const char *name)
{
    return g_build_filename(hx.dir, name, NULL);
}

/* @len bytes of every value, NULs and invalid UTF-8 included. */
static GBytes *binary_bytes(size_t len)
{
    guint8 *p = g_malloc(len);
    size_t i;

    for (i = 0; i < len; i++) {
        p[i] = (guint8)(i * 7 + 3 + (i >> 8));
    }
    return g_bytes_new_take(p, len);
}

static void write_file(const char *path, const void *data, size_t len)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(g_file_set_contents(path, data, len, &err),
                  "%s", err ? err->message : "");
}

static void expect_file(const char *path, GBytes *want)
{
    g_autofree char *got = NULL;
    gsize len = 0;

    ck_assert_msg(g_file_get_contents(path, &got, &len, NULL), "no %s", path);
    ck_assert_uint_eq(len, g_bytes_get_size(want));
    ck_assert(memcmp(got, g_bytes_get_data(want, NULL), len) == 0);
}

/* Bytes through a file into the host's clipboard and out to another,
 * byte-exact, for a binary type and for text that is not UTF-8. */
START_TEST(test_clipboard_file_round_trip)
{
    static const char *types[] = { "png", "text" };
    Client *c = host_client();
    g_autoptr(GBytes) b = binary_bytes(3 * 65536 + 17);
    g_autofree char *in = in_dir("in.bin");
    g_autofree char *out = in_dir("out.bin");
    unsigned t;

    write_file(in, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
    for (t = 0; t < G_N_ELEMENTS(types); t++) {
        client_sendf(c, "{\"execute\": \"clipboard-set\", \"arguments\": "
                     "{\"type\": \"%s\", \"filename\": \"%s\"}}\n",
                     types[t], in);
        expect(c, "{\"return\": {}}");
        /* over an existing file, replaced */
        client_sendf(c, "{\"execute\": \"clipboard-get\", \"arguments\": "
                     "{\"type\": \"%s\", \"filename\": \"%s\"}}\n",
                     types[t], out);
        expectf(c, "{\"return\": {\"size\": %zu}}", g_bytes_get_size(b));
        expect_file(out, b);
        ck_assert_int_eq(g_unlink(out), 0);
    }
}
END_TEST

/* The data the host's hub holds for @type of the clipboard selection. */
static GBytes *hub_data(VdcClipboardType type)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(hx.host.hub,
                                                    VDC_CLIPBOARD_SELECTION_CLIPBOARD);

    ck_assert_ptr_nonnull(info);
    return info->types[type].data;
}

static bool hub_data_sealed(const void *arg)
{
    GBytes *data = hub_data(*(const VdcClipboardType *)arg);

    return data && host_sealed_fd(data) >= 0;
}

/* The hub's data for @type becomes sealed memory, and is @want. */
static void expect_sealed(VdcClipboardType type, GBytes *want)
{
    ck_assert_msg(test_run_until(NULL, hub_data_sealed, &type, 5000),
                  "the data of %zu bytes was not sealed",
                  g_bytes_get_size(want));
    ck_assert(g_bytes_equal(hub_data(type), want));
}

/*
 * Large data, in each of the three forms, is put in sealed memory in the
 * background (host/sealed.h), byte-exact; data replaced meanwhile is
 * not put back; small data stays as it is.
 */
START_TEST(test_clipboard_set_sealed)
{
    Client *c = host_client();
    g_autoptr(GBytes) b = binary_bytes(2 * 1024 * 1024 + 5);
    g_autoptr(GBytes) b2 = binary_bytes(3 * 1024 * 1024);
    g_autoptr(GBytes) text = NULL;
    g_autofree char *in = in_dir("big.bin");
    g_autofree char *b64 = g_base64_encode(g_bytes_get_data(b, NULL),
                                           g_bytes_get_size(b));
    g_autofree char *b64_2 = g_base64_encode(g_bytes_get_data(b2, NULL),
                                             g_bytes_get_size(b2));

    write_file(in, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
    client_sendf(c, "{\"execute\": \"clipboard-set\", \"arguments\": "
                 "{\"type\": \"png\", \"filename\": \"%s\"}}\n", in);
    expect(c, "{\"return\": {}}");
    expect_sealed(VDC_CLIPBOARD_TYPE_PNG, b);

    /* replaced at once: the first copy is not put back */
    client_sendf(c, "{\"execute\": \"clipboard-set\", \"arguments\": "
                 "{\"type\": \"bmp\", \"data-base64\": \"%s\"}}\n", b64);
    client_sendf(c, "{\"execute\": \"clipboard-set\", \"arguments\": "
                 "{\"type\": \"bmp\", \"data-base64\": \"%s\"}}\n", b64_2);
    expect(c, "{\"return\": {}}");
    expect(c, "{\"return\": {}}");
    expect_sealed(VDC_CLIPBOARD_TYPE_BMP, b2);
    test_run_for(100);
    ck_assert(g_bytes_equal(hub_data(VDC_CLIPBOARD_TYPE_BMP), b2));

    /* text: the base64 characters themselves */
    client_sendf(c, "{\"execute\": \"clipboard-set\", \"arguments\": "
                 "{\"data\": \"%s\"}}\n", b64);
    expect(c, "{\"return\": {}}");
    text = g_bytes_new(b64, strlen(b64));
    expect_sealed(VDC_CLIPBOARD_TYPE_TEXT, text);

    /* small: as it came */
    client_sendf(c, "{\"execute\": \"clipboard-set\", \"arguments\": "
                 "{\"data\": \"small\"}}\n");
    expect(c, "{\"return\": {}}");
    test_run_for(100);
    ck_assert_uint_eq(g_bytes_get_size(hub_data(VDC_CLIPBOARD_TYPE_TEXT)), 5);
    ck_assert_int_lt(host_sealed_fd(hub_data(VDC_CLIPBOARD_TYPE_TEXT)), 0);
}
END_TEST

/*
 * Large data a migration restored as bytes (tcp:) is sealed too, but
 * after the switchover, not in it: restore starts no thread (it cost the
 * destination's downtime a thread's creation and a 64 MiB copy beside
 * it), the main loop does once it runs.
 */
START_TEST(test_restore_sealed_after)
{
    g_autoptr(GBytes) b = binary_bytes(16 * 1024 * 1024 + 1);
    VdcClipboardSaved saved = { 0 };
    GBytes *restored;
    unsigned before;

    host_clipboard_peer_set(hx.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                            VDC_CLIPBOARD_TYPE_PNG, b);    /* it takes a ref */
    expect_sealed(VDC_CLIPBOARD_TYPE_PNG, b);
    host_clipboard_peer_save(hx.peer, &saved);
    host_clipboard_peer_release(hx.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD);
    test_run_for(10);

    before = test_proc_self_count("task");
    host_clipboard_peer_restore(hx.peer, &saved);
    restored = hub_data(VDC_CLIPBOARD_TYPE_PNG);
    ck_assert(g_bytes_equal(restored, b));
    ck_assert_int_lt(host_sealed_fd(restored), 0);
    ck_assert_uint_eq(test_proc_self_count("task"), before);
    vdc_clipboard_saved_clear(&saved);
    expect_sealed(VDC_CLIPBOARD_TYPE_PNG, b);
}
END_TEST

/* Every refused clipboard-set form: GenericError, no change, no file. */
START_TEST(test_clipboard_set_file_errors)
{
    Client *c = host_client();
    g_autofree char *big = in_dir("big");
    g_autofree char *fifo = in_dir("fifo");
    g_autofree char *small = in_dir("small");
    g_autofree char *gone = in_dir("gone");
    g_autofree char *names = NULL, *after = NULL;
    uint32_t max = vdc_chardev_max_clipboard(hx.host.dev);
    struct {
        char *args, *desc;
    } cases[9];
    unsigned i, n = 0;
    int fd;

    fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)max + 1), 0);   /* sparse */
    close(fd);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    write_file(small, "x", 1);
#define CASE(a, ...) (cases[n].args = g_strdup_printf a, \
                      cases[n].desc = g_strdup_printf(__VA_ARGS__), n++)
    CASE(("{\"filename\": \"relative/x\"}"),
         "Parameter 'filename' expects an absolute path");
    CASE(("{\"filename\": \"%s\\u0000x\"}", small),
         "Parameter 'filename' must not contain NUL characters");
    CASE(("{\"filename\": \"%s\"}", gone), "cannot open %s: %s", gone,
         g_strerror(ENOENT));
    CASE(("{\"filename\": \"%s\"}", hx.dir),
         "%s is a directory, not a regular file", hx.dir);
    CASE(("{\"filename\": \"%s\"}", fifo),
         "%s is a special file, not a regular file", fifo);
    CASE(("{\"filename\": \"%s\"}", big),
         "%s has %" PRIu64 " bytes, more than the maximum %u", big,
         (uint64_t)max + 1, max);
    CASE(("{\"filename\": \"%s\", \"data\": \"x\"}", small),
         "Give exactly one of 'data', 'data-base64' and 'filename'");
    CASE(("{\"filename\": \"%s\", \"data-base64\": \"eA==\"}", small),
         "Give exactly one of 'data', 'data-base64' and 'filename'");
    CASE(("{}"), "Give exactly one of 'data', 'data-base64' and 'filename'");
#undef CASE
    names = dir_names();
    for (i = 0; i < n; i++) {
        expect_refused(c, "clipboard-set", cases[i].args, cases[i].desc, i + 1);
        g_free(cases[i].args);
        g_free(cases[i].desc);
    }
    after = dir_names();
    ck_assert_str_eq(names, after);
}
END_TEST

/* Every refused clipboard-get form: no change, nothing asked, no file. */
START_TEST(test_clipboard_get_file_errors)
{
    Client *c = host_client();
    g_autofree char *small = in_dir("small");
    g_autofree char *link = in_dir("link");
    g_autofree char *sub = in_dir("sub");
    g_autofree char *nodir = in_dir("nodir/x");
    g_autofree char *ro = in_dir("ro");
    g_autofree char *ro_file = in_dir("ro/x");
    g_autofree char *names = NULL, *after = NULL;
    struct {
        char *args, *desc;
    } cases[8];
    unsigned i, n = 0;

    write_file(small, "x", 1);
    ck_assert_int_eq(symlink(small, link), 0);
    ck_assert_int_eq(g_mkdir(sub, 0700), 0);
    ck_assert_int_eq(g_mkdir(ro, 0500), 0);
    client_sendf(c, "{\"execute\": \"clipboard-set\", \"arguments\": "
                 "{\"data\": \"hello\"}}\n");
    expect(c, "{\"return\": {}}");
#define CASE(a, ...) (cases[n].args = g_strdup_printf a, \
                      cases[n].desc = g_strdup_printf(__VA_ARGS__), n++)
    CASE(("{\"filename\": \"out\"}"),
         "Parameter 'filename' expects an absolute path");
    CASE(("{\"filename\": \"\"}"),
         "Parameter 'filename' expects an absolute path");
    CASE(("{\"filename\": \"%s\"}", sub),
         "%s is a directory, not a regular file", sub);
    CASE(("{\"filename\": \"%s/\"}", hx.dir), "%s/ is a directory, not a "
         "regular file", hx.dir);
    CASE(("{\"filename\": \"%s\"}", link),
         "%s is a symbolic link, not a regular file", link);
    CASE(("{\"filename\": \"%s\"}", nodir), "cannot create a file in "
         "%s/nodir: %s", hx.dir, g_strerror(ENOENT));
    /* the primary selection has no owner */
    CASE(("{\"selection\": \"primary\", \"filename\": \"%s/p\"}", hx.dir),
         "no owner for the primary selection");
    if (geteuid() != 0) {       /* root writes anywhere */
        CASE(("{\"filename\": \"%s\"}", ro_file), "cannot create a file in "
             "%s: %s", ro, g_strerror(EACCES));
    }
#undef CASE
    names = dir_names();
    for (i = 0; i < n; i++) {
        expect_refused(c, "clipboard-get", cases[i].args, cases[i].desc, i + 1);
        g_free(cases[i].args);
        g_free(cases[i].desc);
    }
    after = dir_names();
    ck_assert_str_eq(names, after);
    g_chmod(ro, 0700);
}
END_TEST

/*
 * A clipboard-get to a file waiting for the guest, which goes away: the
 * error, and its temporary file is gone with it.
 */
START_TEST(test_clipboard_get_file_owner_gone)
{
    Client *c = host_client();
    uint32_t caps = 1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND;
    uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    g_autoptr(GuestAgent) ga = guest_agent_new(&caps, 1);
    g_autoptr(GBytes) out = NULL;
    g_autofree char *file = in_dir("got");
    g_autofree char *before = NULL, *during = NULL, *after = NULL;
    VdcClipboardInfo *info;
    gint64 t0 = g_get_real_time();

    vdc_chardev_set_guest_open(hx.host.dev, true);
    guest_agent_send_caps(ga, true);
    guest_agent_send_grab(ga, 0, &text, 1);
    out = guest_agent_take_output(ga);
    vdc_chardev_write(hx.host.dev, g_bytes_get_data(out, NULL),
                      g_bytes_get_size(out));
    info = vdc_clipboard_hub_info(hx.host.hub, VDC_CLIPBOARD_SELECTION_CLIPBOARD);
    ck_assert(info && info->owner);
    expect_event(c, "CLIPBOARD", "{\"selection\": \"clipboard\", "
                 "\"owner\": \"guest\", \"types\": [\"text\"]}", t0);
    before = dir_names();
    client_sendf(c, "{\"execute\": \"clipboard-get\", \"arguments\": "
                 "{\"filename\": \"%s\"}, \"id\": 3}\n", file);
    expect_quiet(c);
    during = dir_names();
    ck_assert_str_ne(before, during);       /* the temporary file */
    ck_assert(!g_file_test(file, G_FILE_TEST_EXISTS));
    vdc_chardev_set_guest_open(hx.host.dev, false);
    expect_event(c, "CLIPBOARD", "{\"selection\": \"clipboard\", "
                 "\"owner\": null, \"types\": []}", t0);
    expect_generic(c, "the owner went away (guest disconnected?)", "3");
    after = dir_names();
    ck_assert_str_eq(before, after);
}
END_TEST

/*
 * Issue 22 point 2, per guest agent model: a clipboard-get for a type the
 * guest cannot serve fails as soon as the guest answers NONE, with an
 * error that says so, long before the hub's 5 s timeout.
 */
START_TEST(test_clipboard_get_guest_none)
{
    Client *c = host_client();
    g_autoptr(GuestAgent) ga = guest_agent_new_model(_i);
    const uint32_t types[] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                               VD_AGENT_CLIPBOARD_IMAGE_PNG };
    g_autoptr(GByteArray) caps = g_byte_array_new();
    g_autoptr(GByteArray) wire = g_byte_array_new();
    g_autoptr(GBytes) out = NULL;
    gint64 t0 = g_get_real_time(), asked;

    vdc_chardev_set_guest_open(hx.host.dev, true);
    guest_agent_start(ga);
    guest_agent_send_caps(ga, true);
    /* the host's caps, as the device announces them (its frontend takes
     * nothing): the agent lays its messages out after them */
    test_append_le32(caps, 0);
    test_append_le32(caps, vdc_chardev_host_caps(hx.host.dev));
    guest_wire_message(wire, VD_AGENT_PROTOCOL, VD_AGENT_ANNOUNCE_CAPABILITIES,
                       0, caps->len, caps->data, caps->len);
    guest_agent_feed(ga, wire->data, wire->len);
    guest_agent_send_copy(ga, 0, false, types, G_N_ELEMENTS(types));
    out = guest_agent_take_output(ga);
    vdc_chardev_write(hx.host.dev, g_bytes_get_data(out, NULL),
                      g_bytes_get_size(out));
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    expect_event(c, "CLIPBOARD", "{\"selection\": \"clipboard\", "
                 "\"owner\": \"guest\", \"types\": [\"text\", \"png\"]}",
                 t0);
    client_sendf(c, "{\"execute\": \"clipboard-get\", \"arguments\": "
                 "{\"type\": \"png\"}, \"id\": 4}\n");
    expect_quiet(c);
    g_clear_pointer(&out, g_bytes_unref);
    guest_agent_send_answer(ga, 0, VD_AGENT_CLIPBOARD_NONE, NULL, 0);
    out = guest_agent_take_output(ga);
    asked = g_get_monotonic_time();
    vdc_chardev_write(hx.host.dev, g_bytes_get_data(out, NULL),
                      g_bytes_get_size(out));
    expect_generic(c, "the guest has no png data on the clipboard selection",
                   "4");
    ck_assert_int_lt(g_get_monotonic_time() - asked, G_USEC_PER_SEC);
}
END_TEST

/* _i = member * G_N_ELEMENTS(values) + value: each member of each
 * command with every JSON value of another type. */
START_TEST(test_wrong_type)
{
    size_t m = _i / G_N_ELEMENTS(values), v = _i % G_N_ELEMENTS(values);
    g_auto(GStrv) fits = g_strsplit(values[v].fits, " ", -1);
    const char *cmd = host_members[m].cmd;
    g_autofree char *args = NULL;
    g_autofree char *desc = NULL;
    Client *c;

    if (g_strv_contains((const char *const *)fits, host_members[m].type)) {
        return;                         /* a value of the right type */
    }
    c = host_client();
    args = args_with(cmd_args(cmd), host_members[m].member, values[v].json);
    desc = g_strdup_printf("Invalid parameter type for '%s', expected: %s",
                           host_members[m].member, host_members[m].type);
    expect_refused(c, cmd, args, desc, (unsigned)_i);
}
END_TEST

/* _i = member * G_N_ELEMENTS(values) + value, inside the arguments. */
START_TEST(test_nested_wrong_type)
{
    size_t m = _i / G_N_ELEMENTS(values), v = _i % G_N_ELEMENTS(values);
    g_auto(GStrv) fits = g_strsplit(values[v].fits, " ", -1);
    g_autofree char *args = NULL;
    g_autofree char *desc = NULL;
    Client *c;

    if (g_strv_contains((const char *const *)fits, nested_members[m].type)) {
        return;
    }
    c = host_client();
    {
        g_auto(GStrv) parts = g_strsplit(nested_members[m].args, "@", -1);

        args = g_strjoinv(values[v].json, parts);
    }
    desc = g_strdup_printf("Invalid parameter type for '%s', expected: %s",
                           nested_members[m].path, nested_members[m].type);
    expect_refused(c, nested_members[m].cmd, args, desc, (unsigned)_i);
}
END_TEST

START_TEST(test_nested_refused)
{
    Client *c = host_client();

    expect_refused(c, nested_refused[_i].cmd, nested_refused[_i].args,
                   nested_refused[_i].desc, (unsigned)_i);
}
END_TEST

/* Every required member, absent. */
START_TEST(test_missing)
{
    const char *cmd = host_members[_i].cmd;
    g_autofree char *args = NULL;
    g_autofree char *desc = NULL;
    Client *c;

    if (!host_members[_i].required) {
        return;
    }
    c = host_client();
    args = args_with(cmd_args(cmd), host_members[_i].member, NULL);
    desc = g_strdup_printf("Parameter '%s' is missing",
                           host_members[_i].member);
    expect_refused(c, cmd, args, desc, (unsigned)_i);
}
END_TEST

/* The tables above name exactly the host's commands and members. */
START_TEST(test_tables_complete)
{
    const QmpCommand *cmd;
    size_t i, n_cmds = 0, n_members = 0;

    for (cmd = host_commands; cmd->name; cmd++) {
        const QmpArg *a;

        n_cmds++;
        ck_assert_msg(cmd->args != NULL, "%s has no argument table",
                      cmd->name);
        cmd_args(cmd->name);
        for (a = cmd->args; a->name; a++) {
            static const char *const names[] = {
                [QMP_ARG_STRING] = "string", [QMP_ARG_INT] = "integer",
                [QMP_ARG_BOOL] = "boolean", [QMP_ARG_NUMBER] = "number",
                [QMP_ARG_OBJECT] = "object", [QMP_ARG_ARRAY] = "array",
            };
            bool found = false;

            n_members++;
            for (i = 0; i < G_N_ELEMENTS(host_members); i++) {
                if (strcmp(host_members[i].cmd, cmd->name) == 0 &&
                    strcmp(host_members[i].member, a->name) == 0) {
                    ck_assert_str_eq(host_members[i].type, names[a->type]);
                    ck_assert_int_eq(host_members[i].required, a->required);
                    found = true;
                }
            }
            ck_assert_msg(found, "%s.%s is not tested", cmd->name, a->name);
        }
    }
    /* + the two built-ins, and qmp_capabilities' enable */
    ck_assert_uint_eq(n_cmds + 2, G_N_ELEMENTS(host_cmds));
    ck_assert_uint_eq(n_members + 1, G_N_ELEMENTS(host_members));
}
END_TEST

/* query-vdagent shows the caps words cut off (issue 11.2). */
START_TEST(test_query_vdagent_caps_truncated)
{
    Client *c = host_client();
    g_autoptr(GByteArray) caps = g_byte_array_new();
    g_autoptr(GByteArray) wire = g_byte_array_new();
    g_autoptr(json_object) msg = NULL;
    json_object *ret, *counters, *n;
    unsigned i;

    test_append_le32(caps, 0);
    for (i = 0; i < 65; i++) {
        test_append_le32(caps, 1u << (i % 32));
    }
    guest_wire_message_chunked(wire, VD_AGENT_ANNOUNCE_CAPABILITIES,
                               caps->data, caps->len, 2048);
    vdc_chardev_set_guest_open(hx.host.dev, true);
    vdc_chardev_write(hx.host.dev, wire->data, wire->len);
    client_send(c, "{\"execute\": \"query-vdagent\"}\n");
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_object_get_ex(ret, "counters", &counters));
    ck_assert(json_object_object_get_ex(counters, "caps-truncated", &n));
    ck_assert_int_eq(json_object_get_int64(n), 1);
}
END_TEST

/*
 * query-vdagent carries the library's counters of guest requests answered
 * late (no room for the data) and refused (past the limit of waiting
 * requests), as the library counts them (their behaviour is tested in
 * the vdagent-migration-output suite, tcase request-flood).
 */
START_TEST(test_query_vdagent_request_counters)
{
    Client *c = host_client();
    g_autoptr(json_object) msg = NULL;
    json_object *ret, *counters, *n;
    VdcCounters dc;

    vdc_chardev_get_counters(hx.host.dev, &dc);
    client_send(c, "{\"execute\": \"query-vdagent\"}\n");
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_object_get_ex(ret, "counters", &counters));
    ck_assert(json_object_object_get_ex(counters, "requests-refused", &n));
    ck_assert_uint_eq((uint64_t)json_object_get_int64(n), dc.requests_refused);
    ck_assert(json_object_object_get_ex(counters, "requests-deferred", &n));
    ck_assert_uint_eq((uint64_t)json_object_get_int64(n), dc.requests_deferred);
}
END_TEST

/* ---- file transfer (issue 14) ---------------------------------------------- */

/* Refused file-send and file-cancel: nothing starts, nothing changes. */
START_TEST(test_file_send_errors)
{
    Client *c = host_client();
    g_autofree char *small = in_dir("small");
    g_autofree char *sub = in_dir("sub");
    g_autofree char *missing = in_dir("missing");
    struct {
        char *args, *desc;
    } cases[8];
    unsigned i, n = 0;

    write_file(small, "x", 1);
    ck_assert_int_eq(g_mkdir(sub, 0700), 0);
#define CASE(a, ...) (cases[n].args = g_strdup_printf a, \
                      cases[n].desc = g_strdup_printf(__VA_ARGS__), n++)
    CASE(("{\"filename\": \"small\"}"),
         "Parameter 'filename' expects an absolute path");
    CASE(("{\"filename\": \"%s\"}", missing), "cannot open '%s': %s",
         missing, g_strerror(ENOENT));
    CASE(("{\"filename\": \"%s\"}", sub), "'%s' is not a regular file",
         sub);
    /* no agent on the port yet */
    CASE(("{\"filename\": \"%s\"}", small), "no guest agent on the port");
#undef CASE
    for (i = 0; i < n; i++) {
        expect_refused(c, "file-send", cases[i].args, cases[i].desc, i + 1);
        g_free(cases[i].args);
        g_free(cases[i].desc);
    }
    expect_refused(c, "file-cancel", "{\"id\": 1}",
                   "no file transfer 1 under way", 10);
    expect_refused(c, "file-cancel", "{\"id\": -1}",
                   "no file transfer -1 under way", 11);
    client_send(c, "{\"execute\": \"query-file-transfers\"}\n");
    expect(c, "{\"return\": []}");
}
END_TEST

/* An agent's caps on the bare host's device (its output goes nowhere). */
static void hx_agent(uint32_t caps)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) w = g_byte_array_new();

    test_append_le32(b, 0);
    test_append_le32(b, caps);
    guest_wire_message(w, 1, VD_AGENT_ANNOUNCE_CAPABILITIES, 0, b->len,
                       b->data, b->len);
    vdc_chardev_set_guest_open(hx.host.dev, true);
    vdc_chardev_write(hx.host.dev, w->data, w->len);
}

static void hx_status(uint32_t id, uint32_t result, const void *detail,
                      size_t len)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) w = g_byte_array_new();

    test_append_le32(b, id);
    test_append_le32(b, result);
    test_append_bytes(b, detail, len);
    guest_wire_message(w, 1, VD_AGENT_FILE_XFER_STATUS, 0, b->len, b->data,
                       b->len);
    vdc_chardev_write(hx.host.dev, w->data, w->len);
}

/*
 * file-send, the FILE_TRANSFER events of its statuses, the guest's
 * failure with its detail in "error", query-file-transfers listing it,
 * and file-cancel of another; a guest with file transfer disabled.
 */
START_TEST(test_file_send_events)
{
    Client *c = host_client();
    g_autofree char *f = in_dir("f.bin");
    g_autofree char *want = NULL;
    gint64 t0 = g_get_real_time();
    uint8_t free_bytes[8] = { 100, 0, 0, 0, 0, 0, 0, 0 };
    g_autofree uint8_t *data = g_malloc0(200000);

    write_file(f, data, 200000);
    hx_agent(REAL_AGENT_CAPS);
    client_sendf(c, "{\"execute\": \"file-send\", \"arguments\": "
                 "{\"filename\": \"%s\"}}\n", f);
    expect(c, "{\"return\": {\"id\": 1}}");
    client_sendf(c, "{\"execute\": \"file-send\", \"arguments\": "
                 "{\"filename\": \"%s\", \"name\": \"Übung.bin\"}}\n", f);
    expect(c, "{\"return\": {\"id\": 2}}");
    hx_status(1, VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA, NULL, 0);
    /* the device read what its window holds: nothing leaves (can_write 0) */
    expect_event(c, "FILE_TRANSFER", "{\"id\": 1, "
           "\"name\": \"f.bin\", \"size\": 200000, \"bytes\": 0, "
           "\"status\": \"sending\"}", t0);
    hx_status(1, VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE, free_bytes, 8);
    expect_event(c, "FILE_TRANSFER", "{\"id\": 1, "
           "\"name\": \"f.bin\", \"size\": 200000, \"bytes\": 32768, "
           "\"status\": \"not-enough-space\", \"error\": \"not enough "
           "space in the guest (100 bytes free, 200000 needed)\"}", t0);
    client_send(c, "{\"execute\": \"file-cancel\", \"arguments\": "
                "{\"id\": 2}}\n");
    expect_event(c, "FILE_TRANSFER", "{\"id\": 2, "
           "\"name\": \"Übung.bin\", \"size\": 200000, \"bytes\": 0, "
           "\"status\": \"cancelled\", \"error\": \"cancelled by the "
           "host\"}", t0);
    expect(c, "{\"return\": {}}");
    client_send(c, "{\"execute\": \"query-file-transfers\"}\n");
    expect(c, "{\"return\": [{\"id\": 1, \"name\": \"f.bin\", "
           "\"size\": 200000, \"bytes\": 32768, \"status\": "
           "\"not-enough-space\", \"error\": \"not enough space in the "
           "guest (100 bytes free, 200000 needed)\"}, {\"id\": 2, "
           "\"name\": \"Übung.bin\", \"size\": 200000, \"bytes\": 0, "
           "\"status\": \"cancelled\", \"error\": \"cancelled by the "
           "host\"}]}");
    /* a restarted agent with file transfer disabled */
    vdc_chardev_set_guest_open(hx.host.dev, false);
    hx_agent(REAL_AGENT_CAPS | (1u << VD_AGENT_CAP_FILE_XFER_DISABLED));
    want = g_strdup_printf("{\"filename\": \"%s\"}", f);
    expect_refused(c, "file-send", want,
                   "the guest agent has file transfer disabled", 5);
}
END_TEST

/* ---- suite ----------------------------------------------------------------- */

Suite *qmp_commands_suite(void)
{
    Suite *s = suite_create("qmp-commands");
    TCase *tc = qmp_tcase(s, "arguments");

    tcase_add_checked_fixture(tc, hx_setup, hx_teardown);
    tcase_add_loop_test(tc, test_unknown_member, 0, G_N_ELEMENTS(host_cmds));
    tcase_add_test(tc, test_clipboard_file_round_trip);
    tcase_add_test(tc, test_clipboard_set_sealed);
    tcase_add_test(tc, test_restore_sealed_after);
    tcase_add_test(tc, test_clipboard_set_file_errors);
    tcase_add_test(tc, test_clipboard_get_file_errors);
    tcase_add_test(tc, test_clipboard_get_file_owner_gone);
    tcase_add_loop_test(tc, test_clipboard_get_guest_none, 0,
                        GUEST_AGENT__N_MODELS);
    tcase_add_loop_test(tc, test_wrong_type, 0,
                        G_N_ELEMENTS(host_members) * G_N_ELEMENTS(values));
    tcase_add_loop_test(tc, test_missing, 0, G_N_ELEMENTS(host_members));
    tcase_add_loop_test(tc, test_nested_wrong_type, 0,
                        G_N_ELEMENTS(nested_members) * G_N_ELEMENTS(values));
    tcase_add_loop_test(tc, test_nested_refused, 0,
                        G_N_ELEMENTS(nested_refused));
    tcase_add_test(tc, test_tables_complete);
    tcase_add_test(tc, test_query_vdagent_caps_truncated);
    tcase_add_test(tc, test_query_vdagent_request_counters);
    tcase_add_test(tc, test_file_send_errors);
    tcase_add_test(tc, test_file_send_events);
    return s;
}
