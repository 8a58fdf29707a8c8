/*
 * check_qmp_protocol.c: the QMP protocol as a client sees it.  The exact
 * greeting and the capabilities negotiation, commands and their replies
 * (ids, errors, asynchronous and out of order, large), and the argument
 * helpers (fixture: check_qmp.h).
 */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_qmp.h"
#include "tests/check_suites.h"

/* ---- greeting and negotiation --------------------------------------- */

START_TEST(test_greeting_exact)
{
    Client *c = client_new();
    g_autofree char *line = client_line(c);
    g_autoptr(json_object) msg = parse(line);

    check_equal(msg, greeting);
    ck_assert_ptr_null(strchr(line, '\n'));
    expect_quiet(c);
    ck_assert_uint_eq(qmp_server_n_clients(qfx.server), 1);
}
END_TEST

START_TEST(test_commands_before_capabilities)
{
    Client *c = client_new();

    expect(c, greeting);
    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"x\": 1}, "
                   "\"id\": 1}\n");
    expect_generic(c, NEGOTIATION_ERROR, "1");
    /* Unknown and built-in commands are refused the same way. */
    client_send(c, "{\"execute\": \"nope\", \"id\": \"two\"}\n");
    expect_generic(c, NEGOTIATION_ERROR, "\"two\"");
    client_send(c, "{\"execute\": \"query-commands\"}\n");
    expect_generic(c, NEGOTIATION_ERROR, NULL);
    client_send(c, "{\"execute\": \"qmp_capabilities\", \"id\": 3}\n");
    expect(c, "{\"return\": {}, \"id\": 3}");
    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"x\": 1}, "
                   "\"id\": 4}\n");
    expect(c, "{\"return\": {\"x\": 1}, \"id\": 4}");
}
END_TEST

START_TEST(test_capabilities_twice)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"qmp_capabilities\", \"id\": 1}\n");
    expect_generic(c, "Capabilities negotiation is already complete, "
                   "command ignored", "1");
    client_send(c, "{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
}
END_TEST

START_TEST(test_capabilities_enable)
{
    Client *c = client_new();

    expect(c, greeting);
    client_send(c, "{\"execute\": \"qmp_capabilities\", "
                   "\"arguments\": {\"enable\": [\"oob\"]}}\n");
    expect_generic(c, "Capability 'oob' is not available", NULL);
    client_send(c, "{\"execute\": \"qmp_capabilities\", "
                   "\"arguments\": {\"enable\": \"oob\"}}\n");
    expect_generic(c, "Invalid parameter type for 'enable', expected: "
                   "array", NULL);
    /* Still negotiating. */
    client_send(c, "{\"execute\": \"echo\"}\n");
    expect_generic(c, NEGOTIATION_ERROR, NULL);
    client_send(c, "{\"execute\": \"qmp_capabilities\", "
                   "\"arguments\": {\"enable\": []}}\n");
    expect(c, "{\"return\": {}}");
}
END_TEST

/* ---- commands and replies ------------------------------------------- */

START_TEST(test_echo_sync)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"a\": [1, 2, "
                   "{\"b\": null}], \"s\": \"x/y \\u00e9\"}}\n");
    expect(c, "{\"return\": {\"a\": [1, 2, {\"b\": null}], "
              "\"s\": \"x/y \\u00e9\"}}");
    /* No arguments: the handler gets an empty object. */
    client_send(c, "{\"execute\": \"echo\"}\n");
    expect(c, "{\"return\": {}}");
}
END_TEST

/* Replies never escape '/' (JSON allows it; humans read these). */
START_TEST(test_output_plain)
{
    Client *c = ready_client();
    g_autofree char *line = NULL;

    client_send(c, "{\"execute\": \"echo\", \"arguments\": {\"p\": \"a/b\"}}\n");
    line = client_line(c);
    ck_assert_ptr_nonnull(strstr(line, "\"a/b\""));
    ck_assert_ptr_null(strchr(line, '\n'));
}
END_TEST

static const char *const ids[] = {
    "1", "-7", "0", "1.5", "\"abc\"", "\"\"", "\"a/b \\u00e9\"",
    "{\"a\": [1, {\"b\": null}], \"c\": \"d\"}", "{}", "[1, \"2\", [3]]",
    "null", "true", "false", "9223372036854775807",
};

/* "id" comes back verbatim, whatever JSON value it is, on every path. */
START_TEST(test_id_echo)
{
    Client *c = client_new();
    const char *id = ids[_i];

    expect(c, greeting);
    client_sendf(c, "{\"execute\": \"echo\", \"id\": %s}\n", id);
    expect_generic(c, NEGOTIATION_ERROR, id);
    client_send(c, "{\"execute\": \"qmp_capabilities\"}\n");
    expect(c, "{\"return\": {}}");

    client_sendf(c, "{\"execute\": \"echo\", \"id\": %s}\n", id);
    expectf(c, "{\"return\": {}, \"id\": %s}", id);
    client_sendf(c, "{\"id\": %s, \"execute\": \"fail\"}\n", id);
    expect_generic(c, "failed on purpose (42)", id);
    client_sendf(c, "{\"execute\": \"nope\", \"id\": %s}\n", id);
    expect_error(c, "CommandNotFound", "The command nope has not been found",
                 false, id);
    client_sendf(c, "{\"execute\": \"typed\", \"id\": %s}\n", id);
    expect_generic(c, "Parameter 's' is missing", id);
    client_sendf(c, "{\"execute\": \"echo\", \"arguments\": 1, "
                 "\"id\": %s}\n", id);
    expect_generic(c, "Expected 'arguments' to be an object", id);
    client_sendf(c, "{\"execute\": \"later\", \"id\": %s, "
                 "\"arguments\": {\"ms\": 1}}\n", id);
    expectf(c, "{\"return\": {}, \"id\": %s}", id);
}
END_TEST

START_TEST(test_error_reply)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"fail\", \"arguments\": {}}\n");
    expect(c, "{\"error\": {\"class\": \"GenericError\", "
              "\"desc\": \"failed on purpose (42)\"}}");
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

START_TEST(test_unknown_command)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"foo\"}\n");
    expect(c, "{\"error\": {\"class\": \"CommandNotFound\", "
              "\"desc\": \"The command foo has not been found\"}}");
    /* A NUL inside the name matches no command ("echo\0x" is not echo). */
    client_send(c, "{\"execute\": \"echo\\u0000x\", \"id\": 1}\n");
    expect_error(c, "CommandNotFound", "The command echo has not been found",
                 false, "1");
    client_send(c, "{\"execute\": \"\", \"id\": 2}\n");
    expect_error(c, "CommandNotFound", "The command  has not been found",
                 false, "2");
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_query_commands)
{
    static const char *const want[] = {
        "echo", "emit", "fail", "later", "qmp_capabilities", "query-commands",
        "quit", "strict", "typed",
    };
    Client *c = ready_client();
    g_autoptr(json_object) msg = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    json_object *ret = NULL, *name = NULL;
    size_t i;

    client_send(c, "{\"execute\": \"query-commands\", \"id\": \"q\"}\n");
    msg = client_msg(c);
    ck_assert_uint_eq(json_object_object_length(msg), 2);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_is_type(ret, json_type_array));
    ck_assert_uint_eq(json_object_array_length(ret), G_N_ELEMENTS(want));
    for (i = 0; i < json_object_array_length(ret); i++) {
        json_object *entry = json_object_array_get_idx(ret, i);

        ck_assert_uint_eq(json_object_object_length(entry), 1);
        ck_assert(json_object_object_get_ex(entry, "name", &name));
        g_ptr_array_add(names, (gpointer)json_object_get_string(name));
    }
    qsort(names->pdata, names->len, sizeof(gpointer), cmp_str);
    for (i = 0; i < G_N_ELEMENTS(want); i++) {
        ck_assert_str_eq(g_ptr_array_index(names, i), want[i]);
    }
}
END_TEST

/* An answer from a timer comes after a later command's sync answer. */
START_TEST(test_async_reply)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 60, \"value\": {\"v\": [1]}}}\n"
                   "{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
    ck_assert_uint_eq(qfx.pending->len, 1);
    expect(c, "{\"return\": {\"value\": {\"v\": [1]}}, \"id\": 1}");
    ck_assert_uint_eq(qfx.pending->len, 0);
    ck_assert_uint_eq(qfx.answered_alive, 1);
}
END_TEST

START_TEST(test_async_out_of_order)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 150, \"value\": 1}}\n");
    client_send(c, "{\"execute\": \"later\", \"id\": 2, \"arguments\": "
                   "{\"ms\": 10, \"value\": 2}}\n");
    expect(c, "{\"return\": {\"value\": 2}, \"id\": 2}");
    expect(c, "{\"return\": {\"value\": 1}, \"id\": 1}");
}
END_TEST

/* A reply bigger than any socket buffer goes out through the write watch. */
START_TEST(test_large_reply)
{
    Client *c = ready_client();
    size_t n = 4u << 20;
    g_autoptr(GString) cmd = g_string_new("{\"execute\": \"echo\", \"id\": 1, "
                                          "\"arguments\": {\"big\": \"");
    g_autoptr(json_object) msg = NULL;
    json_object *ret = NULL, *big = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        g_string_append_c(cmd, (char)('a' + i % 26));
    }
    g_string_append(cmd, "\"}}\n");
    client_send_len(c, cmd->str, cmd->len);
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_object_get_ex(ret, "big", &big));
    ck_assert_uint_eq(json_object_get_string_len(big), n);
    ck_assert_mem_eq(json_object_get_string(big),
                     cmd->str + strlen("{\"execute\": \"echo\", \"id\": 1, "
                                       "\"arguments\": {\"big\": \""), n);
    client_send(c, "{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
}
END_TEST

/* ---- argument helpers ----------------------------------------------- */

START_TEST(test_args_all_present)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"typed\", \"id\": 1, \"arguments\": "
                   "{\"s\": \"str\", \"i\": -9223372036854775808, \"b\": false, "
                   "\"o\": {\"x\": [1]}, \"a\": [{}, 2]}}\n");
    expect(c, "{\"return\": {\"s\": \"str\", \"i\": -9223372036854775808, "
              "\"b\": false, \"o\": {\"x\": [1]}, \"a\": [{}, 2]}, \"id\": 1}");
    client_send(c, "{\"execute\": \"typed\", \"id\": 2, \"arguments\": "
                   "{\"s\": \"\", \"i\": 9223372036854775807, \"b\": true, "
                   "\"o\": {}, \"a\": []}}\n");
    expect(c, "{\"return\": {\"s\": \"\", \"i\": 9223372036854775807, "
              "\"b\": true, \"o\": {}, \"a\": []}, \"id\": 2}");
}
END_TEST

/* Optional and absent: true, *out untouched (the handler's defaults). */
START_TEST(test_args_optional_absent)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"typed\", \"arguments\": {\"s\": \"x\"}}\n");
    expect(c, "{\"return\": {\"s\": \"x\", \"i\": 7, \"b\": true}}");
}
END_TEST

static const struct {
    const char *args;
    const char *desc;
} bad_args[] = {
    { "{}", "Parameter 's' is missing" },
    { "{\"i\": 1}", "Parameter 's' is missing" },
    { "{\"s\": 1}", "Invalid parameter type for 's', expected: string" },
    { "{\"s\": null}", "Invalid parameter type for 's', expected: string" },
    { "{\"s\": [\"x\"]}", "Invalid parameter type for 's', expected: string" },
    { "{\"s\": \"a\\u0000b\"}", "Parameter 's' must not contain NUL characters" },
    { "{\"s\": \"x\", \"i\": \"1\"}", "Invalid parameter type for 'i', expected: integer" },
    { "{\"s\": \"x\", \"i\": 1.0}", "Invalid parameter type for 'i', expected: integer" },
    { "{\"s\": \"x\", \"i\": true}", "Invalid parameter type for 'i', expected: integer" },
    { "{\"s\": \"x\", \"i\": null}", "Invalid parameter type for 'i', expected: integer" },
    { "{\"s\": \"x\", \"i\": 9223372036854775808}",
      "Parameter 'i' is out of range" },
    { "{\"s\": \"x\", \"b\": 1}", "Invalid parameter type for 'b', expected: boolean" },
    { "{\"s\": \"x\", \"b\": \"true\"}", "Invalid parameter type for 'b', expected: boolean" },
    { "{\"s\": \"x\", \"o\": []}", "Invalid parameter type for 'o', expected: object" },
    { "{\"s\": \"x\", \"o\": \"{}\"}", "Invalid parameter type for 'o', expected: object" },
    { "{\"s\": \"x\", \"a\": {}}", "Invalid parameter type for 'a', expected: array" },
    { "{\"s\": \"x\", \"a\": 0}", "Invalid parameter type for 'a', expected: array" },
    { "{\"s\": \"x\", \"o\": {}, \"a\": null}", "Invalid parameter type for 'a', expected: array" },
};

START_TEST(test_args_bad)
{
    Client *c = ready_client();
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"typed\", \"arguments\": %s, \"id\": %d}\n",
        bad_args[_i].args, _i);
    g_autofree char *id = g_strdup_printf("%d", _i);

    client_send(c, cmd);
    expect_generic(c, bad_args[_i].desc, id);
    client_send(c, "{\"execute\": \"typed\", \"arguments\": {\"s\": \"ok\"}}\n");
    expect(c, "{\"return\": {\"s\": \"ok\", \"i\": 7, \"b\": true}}");
}
END_TEST

/*
 * The dispatcher's argument table (QmpCommand.args, issue 11.3): "strict"
 * takes {s: string (required), i: integer, b: boolean, n: number,
 * o: object, a: array}.  A refusal is QEMU's GenericError and the handler
 * never runs; @desc NULL: accepted, the handler runs once.
 */
static const struct {
    const char *args;
    const char *desc;
} strict_cases[] = {
    { "{\"s\": \"x\"}", NULL },
    { "{\"s\": \"x\", \"i\": -3, \"b\": false, \"n\": 1.5, \"o\": {\"k\": 1},"
      " \"a\": [1, \"2\"]}", NULL },
    { "{\"s\": \"x\", \"n\": 2}", NULL },
    { "{}", "Parameter 's' is missing" },
    { "{\"bogus\": 1}", "Parameter 's' is missing" },
    { "{\"s\": \"x\", \"bogus\": 1}", "Parameter 'bogus' is unexpected" },
    { "{\"s\": \"x\", \"S\": \"x\"}", "Parameter 'S' is unexpected" },
    { "{\"s\": \"x\", \"i\": 1, \"filename\": \"f\"}",
      "Parameter 'filename' is unexpected" },
    { "{\"s\": \"x\", \"\": null}", "Parameter '' is unexpected" },
    { "{\"s\": 1}", "Invalid parameter type for 's', expected: string" },
    { "{\"s\": null}", "Invalid parameter type for 's', expected: string" },
    { "{\"s\": \"x\", \"i\": 1.0}",
      "Invalid parameter type for 'i', expected: integer" },
    { "{\"s\": \"x\", \"i\": \"1\"}",
      "Invalid parameter type for 'i', expected: integer" },
    { "{\"s\": \"x\", \"b\": 0}",
      "Invalid parameter type for 'b', expected: boolean" },
    { "{\"s\": \"x\", \"n\": \"1\"}",
      "Invalid parameter type for 'n', expected: number" },
    { "{\"s\": \"x\", \"n\": true}",
      "Invalid parameter type for 'n', expected: number" },
    { "{\"s\": \"x\", \"o\": []}",
      "Invalid parameter type for 'o', expected: object" },
    { "{\"s\": \"x\", \"a\": {}}",
      "Invalid parameter type for 'a', expected: array" },
    /* table order: the type error comes before the unknown member */
    { "{\"zz\": 1, \"s\": \"x\", \"a\": 1}",
      "Invalid parameter type for 'a', expected: array" },
};

START_TEST(test_args_table)
{
    Client *c = ready_client();
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"strict\", \"arguments\": %s, \"id\": %d}\n",
        strict_cases[_i].args, _i);
    g_autofree char *id = g_strdup_printf("%d", _i);

    client_send(c, cmd);
    if (strict_cases[_i].desc) {
        expect_generic(c, strict_cases[_i].desc, id);
        ck_assert_uint_eq(qfx.strict_runs, 0);
    } else {
        g_autofree char *want = g_strdup_printf(
            "{\"return\": %s, \"id\": %d}", strict_cases[_i].args, _i);

        expect(c, want);
        ck_assert_uint_eq(qfx.strict_runs, 1);
    }
    /* the connection goes on */
    client_send(c, "{\"execute\": \"strict\", \"arguments\": {\"s\": \"ok\"}}\n");
    expect(c, "{\"return\": {\"s\": \"ok\"}}");
}
END_TEST

/* The built-ins have tables too. */
START_TEST(test_args_builtins)
{
    Client *c = client_new();

    expect(c, greeting);
    client_send(c, "{\"execute\": \"qmp_capabilities\", "
                   "\"arguments\": {\"enable\": [], \"x\": 1}}\n");
    expect_generic(c, "Parameter 'x' is unexpected", NULL);
    /* refused: still negotiating */
    client_send(c, "{\"execute\": \"echo\"}\n");
    expect_generic(c, NEGOTIATION_ERROR, NULL);
    client_send(c, "{\"execute\": \"qmp_capabilities\"}\n");
    expect(c, "{\"return\": {}}");
    client_send(c, "{\"execute\": \"query-commands\", "
                   "\"arguments\": {\"all\": true}}\n");
    expect_generic(c, "Parameter 'all' is unexpected", NULL);
}
END_TEST

/* ---- suite ---------------------------------------------------------- */

Suite *qmp_protocol_suite(void)
{
    Suite *s = suite_create("qmp-protocol");
    TCase *tc;

    tc = qmp_tcase(s, "negotiation");
    tcase_add_test(tc, test_greeting_exact);
    tcase_add_test(tc, test_commands_before_capabilities);
    tcase_add_test(tc, test_capabilities_twice);
    tcase_add_test(tc, test_capabilities_enable);

    tc = qmp_tcase(s, "commands");
    tcase_add_test(tc, test_echo_sync);
    tcase_add_test(tc, test_output_plain);
    tcase_add_loop_test(tc, test_id_echo, 0, G_N_ELEMENTS(ids));
    tcase_add_test(tc, test_error_reply);
    tcase_add_test(tc, test_unknown_command);
    tcase_add_test(tc, test_query_commands);
    tcase_add_test(tc, test_async_reply);
    tcase_add_test(tc, test_async_out_of_order);
    tcase_add_test(tc, test_large_reply);

    tc = qmp_tcase(s, "arguments");
    tcase_add_test(tc, test_args_all_present);
    tcase_add_test(tc, test_args_optional_absent);
    tcase_add_loop_test(tc, test_args_bad, 0, G_N_ELEMENTS(bad_args));
    tcase_add_loop_test(tc, test_args_table, 0, G_N_ELEMENTS(strict_cases));
    tcase_add_test(tc, test_args_builtins);
    return s;
}
