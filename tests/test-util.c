/*
 * test-util.c: byte helpers every test program shares (see test-util.h).
 */
#include "tests/test-util.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

GByteArray *test_hex(const char *s)
{
    g_autoptr(GByteArray) out = g_byte_array_new();

    g_return_val_if_fail(s != NULL, NULL);
    while (*s) {
        int hi, lo;
        uint8_t b;

        if (*s == ' ' || *s == '|') {
            s++;
            continue;
        }
        hi = g_ascii_xdigit_value(s[0]);
        lo = hi < 0 ? -1 : g_ascii_xdigit_value(s[1]);
        if (hi < 0 || lo < 0) {
            g_critical("test_hex: no hex byte at \"%.8s\"", s);
            return NULL;
        }
        b = (uint8_t)(hi << 4 | lo);
        g_byte_array_append(out, &b, 1);
        s += 2;
    }
    return g_steal_pointer(&out);
}

uint32_t test_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint32_t test_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

void test_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void test_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

GByteArray *test_append_le32(GByteArray *b, uint32_t v)
{
    uint8_t le[4];

    test_put_le32(le, v);
    return g_byte_array_append(b, le, 4);
}

GByteArray *test_append_be32(GByteArray *b, uint32_t v)
{
    uint8_t be[4];

    test_put_be32(be, v);
    return g_byte_array_append(b, be, 4);
}

uint8_t *test_pattern(size_t n, unsigned seed)
{
    uint8_t *p = g_malloc(n ? n : 1);
    uint32_t x = 0x9e3779b9u * (seed + 1);

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = x >> 24;
    }
    return p;
}

GByteArray *test_append_bytes(GByteArray *b, const void *p, size_t n)
{
    if (n) {
        g_byte_array_append(b, p, (guint)n);
    }
    return b;
}

uint64_t test_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    }
    return h;
}

void test_fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 0x9e3779b9u;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)(x >> 11);
    }
}

static gboolean set_flag(gpointer p)
{
    *(bool *)p = true;
    return G_SOURCE_REMOVE;
}

bool test_run_until(GMainContext *ctx, TestPred pred, const void *arg,
                    unsigned max_ms)
{
    bool expired = false;
    GSource *guard = g_timeout_source_new(max_ms);

    g_source_set_callback(guard, set_flag, &expired, NULL);
    g_source_attach(guard, ctx);
    while (!expired && !(pred && pred(arg))) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(guard);
    g_source_unref(guard);
    return pred ? pred(arg) : true;
}

void test_run_for(unsigned ms)
{
    test_run_until(NULL, NULL, NULL, ms);
}

bool test_reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

unsigned test_proc_self_count(const char *what)
{
    g_autofree char *path = g_strconcat("/proc/self/", what, NULL);
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    unsigned n = 0;

    g_assert(dir != NULL);
    while (g_dir_read_name(dir)) {
        n++;
    }
    return n;
}

uint64_t test_proc_status_kb(const char *key)
{
    g_autofree char *text = NULL;
    g_autofree char *needle = g_strconcat("\n", key, ":", NULL);
    const char *p;

    if (!g_file_get_contents("/proc/self/status", &text, NULL, NULL) ||
        !(p = strstr(text, needle))) {
        return 0;
    }
    return g_ascii_strtoull(p + strlen(needle), NULL, 10);
}
