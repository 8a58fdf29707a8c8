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
#include <inttypes.h>
#include <string.h>

#include "host/clipboard-peer.h"
#include "host/commands.h"
#include "host/migrate.h"
#include "tests/check_qmp.h"
#include "tests/check_suites.h"
#include "tests/guest-agent.h"
#include "tests/test-host.h"

/* ---- a bare host with the real commands --------------------------------- */

static struct {
    Host host;
    VDAgentConfig config;
    MigrationRegistry *reg;
    HostClipboardPeer *peer;
    HostMigration *mig;
    HostCommands hc;
    QmpServer *server;
    char *dir;
    char *path;
    InputHandlerState *input;
    unsigned events, syncs;
} hx;

/* A pointer handler in front of the device's: counts what reaches it. */
static void count_event(void *opaque, const InputEvent *evt)
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

static const InputHandler counting_handler = {
    .name = "check-qmp-commands",
    .mask = INPUT_EVENT_MASK_BTN | INPUT_EVENT_MASK_ABS,
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
    hx.hc = (HostCommands){ .h = &hx.host, .peer = hx.peer, .mig = hx.mig };
    hx.dir = test_scratch_new("check-qmp-commands");
    hx.path = g_build_filename(hx.dir, "host.sock", NULL);
    hx.server = qmp_server_new(hx.path, host_commands, &hx.hc, &err);
    ck_assert_ptr_null(err);
    host_set_qmp(&hx.host, hx.server);
    hx.input = input_handler_register(hx.host.router, &counting_handler, NULL);
    input_handler_activate(hx.input);
}

static void hx_teardown(void)
{
    host_set_qmp(&hx.host, NULL);
    g_clear_pointer(&hx.server, qmp_server_free);
    g_clear_pointer(&hx.input, input_handler_unregister);
    g_clear_pointer(&hx.mig, host_migration_free);
    g_clear_pointer(&hx.peer, host_clipboard_peer_free);
    test_host_fini(&hx.host, &hx.reg);
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
    VDAgentCounters counters;
    unsigned i;

    g_string_append_printf(s, "status %d;", (int)host_status(&hx.host));
    for (i = 0; i < CLIPBOARD_SELECTION__COUNT; i++) {
        ClipboardInfo *ci = clipboard_hub_info(hx.host.hub, i);

        g_string_append_printf(s, "sel %u: %p %p %u %" PRIu32 ";", i,
                               (void *)ci, ci ? (void *)ci->owner : NULL,
                               ci ? clipboard_info_types(ci) : 0,
                               ci && ci->has_serial ? ci->serial : 0);
    }
    for (i = 0; i < input_router_n_heads(hx.host.router); i++) {
        InputHeadGeometry g;

        ck_assert(input_router_head(hx.host.router, i, &g));
        g_string_append_printf(s, "head %u: %ux%u+%d+%d;", i, g.width,
                               g.height, g.x, g.y);
    }
    g_string_append_printf(s, "input %u %u;", hx.events, hx.syncs);
    host_migration_info(hx.mig, &info);
    g_string_append_printf(s, "mig %d %s;", (int)info.status,
                           info.error ? info.error : "");
    vdagent_chardev_get_counters(hx.host.dev, &counters);
    g_string_append_printf(s, "dev %" PRIu64 " %" PRIu64 ";",
                           vdagent_chardev_pending_output(hx.host.dev),
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
    { "clipboard-get", "selection", "string", false },
    { "clipboard-get", "type", "string", false },
    { "clipboard-release", "selection", "string", false },
    { "clipboard-query", "selection", "string", false },
    { "input-send-event", "head", "integer", false },
    { "input-send-event", "events", "array", true },
    { "display-configure", "heads", "array", true },
    { "migrate", "uri", "string", true },
    { "migrate-incoming", "uri", "string", true },
    { "migrate-set-capabilities", "capabilities", "array", true },
    { "migrate-continue", "state", "string", true },
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

/* The issue's example: clipboard-get with "filename" does not read. */
START_TEST(test_clipboard_get_filename)
{
    Client *c = host_client();

    expect_refused(c, "clipboard-get",
                   "{\"selection\": \"clipboard\", \"filename\": \"/tmp/x\"}",
                   "Parameter 'filename' is unexpected", 7);
    /* and clipboard-set with it sets nothing */
    expect_refused(c, "clipboard-set",
                   "{\"data\": \"x\", \"filename\": \"/tmp/x\"}",
                   "Parameter 'filename' is unexpected", 8);
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
    vdagent_chardev_set_guest_open(hx.host.dev, true);
    vdagent_chardev_write(hx.host.dev, wire->data, wire->len);
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
    VDAgentCounters dc;

    vdagent_chardev_get_counters(hx.host.dev, &dc);
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

/* ---- suite ----------------------------------------------------------------- */

Suite *qmp_commands_suite(void)
{
    Suite *s = suite_create("qmp-commands");
    TCase *tc = qmp_tcase(s, "arguments");

    tcase_add_checked_fixture(tc, hx_setup, hx_teardown);
    tcase_add_loop_test(tc, test_unknown_member, 0, G_N_ELEMENTS(host_cmds));
    tcase_add_test(tc, test_clipboard_get_filename);
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
    return s;
}
