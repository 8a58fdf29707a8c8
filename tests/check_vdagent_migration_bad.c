/*
 * check_vdagent_migration_bad.c: truncated and corrupted streams.  Every
 * truncation and every corruption of the canonical streams is refused
 * with an error, and leaves the destination as a fresh device that works
 * (bugs R4, S18, Q21) (fixture: check_vdagent_migration.h).
 *
 * The Linux agent only (issue 22): the corruptions are of the stream's
 * layout, the same whichever agent the state came from, and they are
 * built on the canonical streams, which are the Linux agent's (see
 * check_vdagent_migration_canonical.c).
 */
#include <check.h>
#include <string.h>

#include "clipboard/vdc-clipboard-vmstate.h"
#include "migration/vdc-vmstate.h"
#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* Most unanswered guest requests per selection and type (the device's). */
#define MAX_PENDING 16

/* ---- fresh devices ----------------------------------------------------- */

/* A device in the state of a new one (no I/O has happened on it). */
static void ck_fresh(TestFe *p)
{
    VdcCounters c = fe_counters(p), zero;
    VdcMouse m;
    size_t n = 99;

    memset(&zero, 0, sizeof(zero));
    ck_assert(!vdc_chardev_connected(p->dev));
    vdc_chardev_guest_caps(p->dev, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(vdc_chardev_pending_output(p->dev), 0);
    vdc_chardev_mouse_state(p->dev, &m);
    ck_assert_uint_eq(m.x | m.y | m.buttons | m.display_id, 0);
    ck_assert_mem_eq(&c, &zero, sizeof(c));
    /* nothing owned: no info, or one released (owner-less, no type) */
    for (unsigned s = 0; s < N_SEL; s++) {
        VdcClipboardInfo *info = vdc_clipboard_hub_info(p->hub, s);

        ck_assert(!info || (!info->owner && !vdc_clipboard_info_types(info)));
    }
    ck_assert_uint_eq(p->wire->len, 0);
}

/*
 * The device works as a new one: open sends exactly one caps request
 * (request=1); a new agent connects and does a clipboard round trip in
 * each direction.
 */
static void ck_works_fresh(TestFe *p)
{
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const GuestAgentMsg *m;
    HostPeer *hp;
    GBytes *got;

    vdc_chardev_set_running(p->dev, true);
    g_byte_array_set_size(p->wire, 0);
    p->ga = ga;
    vdc_chardev_set_guest_open(p->dev, true);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_assert_uint_eq(test_le32(m->data), 1);
    ck_assert_uint_eq(test_le32(m->data + 4),
                      vdc_chardev_host_caps(p->dev));
    fe_pump(p);
    ck_assert(vdc_chardev_connected(p->dev));
    ck_assert(vdc_chardev_guest_has_cap(p->dev,
                                        VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
    guest_agent_clear_received(ga);

    /* guest -> host */
    hp = fe_peer_new(p);
    guest_agent_send_grab(ga, 0, &text, 1);
    fe_pump(p);
    ck_assert_int_eq(hp->view[0].owner, 'g');
    ck_assert(hp_request(hp, 0, VDC_CLIPBOARD_TYPE_TEXT));
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_REQUEST, 0);
    ck_assert_ptr_nonnull(m);
    guest_agent_send_clipboard(ga, 0, text, "round trip", 10);
    fe_pump(p);
    got = hp_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), 10);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), "round trip", 10);

    /* host -> guest */
    guest_agent_clear_received(ga);
    hp_grab_data(hp, 1, VDC_CLIPBOARD_TYPE_TEXT, "from host", 9);
    ck_assert_ptr_nonnull(guest_agent_find(ga, VD_AGENT_CLIPBOARD_GRAB, 0));
    guest_agent_send_request(ga, 1, text);
    fe_pump(p);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->size, 4 + 4 + 9);
    ck_assert_mem_eq(m->data + 8, "from host", 9);
    ck_agent_clean(ga);
    p->ga = NULL;
}

/* ---- tests: truncated and corrupted streams ---------------------------- */

/* A saved stream of canonical state @i. */
static GByteArray *canon_saved(unsigned i)
{
    GByteArray *s;
    Canon c;

    canon_start(&c);
    canon_states[i].drive(&c);
    vdc_chardev_set_running(c.src->dev, false);
    s = save_dev(c.src->dev);
    canon_stop(&c);
    return s;
}

/* Offset of the section footer (0x7e, be32 0) before the EOF byte. */
static size_t footer_offset(const GByteArray *s)
{
    size_t eof = eof_offset(s);

    ck_assert_uint_ge(eof, 5);
    ck_assert_uint_eq(s->data[eof - 5], 0x7e);
    return eof - 5;
}

/*
 * Load the first @len bytes of @s into a fresh stopped destination.  It
 * must fail cleanly, leave the device fresh, and the device must work as
 * a new one afterwards.
 */
static void ck_truncated(const GByteArray *s, size_t len, const char *name)
{
    VdcConfig config = mig_config();
    g_autoptr(GError) err = NULL;
    TestFe *dst = fe_new_detached(&config);

    vdc_chardev_set_running(dst->dev, false);
    ck_assert_msg(!load_dev(dst->dev, s->data, len, &err),
                  "%s: %zu of %u bytes loaded", name, len, s->len);
    ck_assert_ptr_nonnull(err);
    ck_assert(err->domain == VDC_VMSTATE_ERROR);
    ck_assert_msg(strstr(err->message, "offset") != NULL,
                  "%s: %zu: no offset in '%s'", name, len, err->message);
    ck_assert_msg(!vdc_chardev_connected(dst->dev),
                  "%s: truncated at %zu of %u ('%s'): the device is "
                  "connected after a failed load", name, len, s->len,
                  err->message);
    ck_fresh(dst);
    ck_works_fresh(dst);
    fe_free(dst);
}

/*
 * Every truncation inside the header and the section (before its footer)
 * fails cleanly, and the destination stays fresh and usable.
 */
START_TEST(test_truncated_in_section)
{
    g_autoptr(GByteArray) s = canon_saved(_i);
    size_t footer = footer_offset(s);

    for (size_t len = 0; len <= footer; len++) {
        ck_truncated(s, len, canon_states[_i].name);
    }
}
END_TEST

/*
 * Every truncation after the section (in its footer, before EOF, in the
 * vmdesc) fails too, and leaves the destination as fresh as any failed
 * load: the section was read, but the stream is not a whole one.  The
 * stream cut right after EOF (no vmdesc) is a whole one in memory.
 */
START_TEST(test_truncated_after_section)
{
    g_autoptr(GByteArray) s = canon_saved(_i);
    size_t footer = footer_offset(s);
    size_t eof = eof_offset(s);

    for (size_t len = footer + 1; len < s->len; len++) {
        if (len == eof + 1) {
            VdcConfig config = mig_config();
            g_autoptr(GError) err = NULL;
            TestFe *dst = fe_new_detached(&config);

            vdc_chardev_set_running(dst->dev, false);
            ck_assert_msg(load_dev(dst->dev, s->data, len, &err), "%s",
                          err ? err->message : "");
            ck_assert(vdc_chardev_connected(dst->dev));
            fe_free(dst);
            continue;
        }
        ck_truncated(s, len, canon_states[_i].name);
    }
}
END_TEST

/* One corruption of the full state, and what the error must say. */
typedef struct Corruption {
    const char *name;
    void (*apply)(Spec *sp);
    const char *expect;          /* in the error message */
    bool header;                 /* refused before the section is read */
} Corruption;

static const uint8_t body30[30];

static void c_parser_len(Spec *sp)
{
    sp->len = 0xffffffffu;
    sp->body = NULL;
}
static void c_parser_len_max(Spec *sp)
{
    sp->len = mig_config().max_message + 1;
    sp->body = NULL;
}
static void c_out_len(Spec *sp)
{
    sp->out_len = 0xffffffffu;
    sp->out_written = 0;
}
static void c_out_len_limit(Spec *sp)
{
    /*
     * The limit (vdagent-vmstate.c): max_message, an answer of
     * max_message data bytes ([sel] type + data, 20-byte header, an
     * 8-byte header per 2048-byte chunk) and 1 MiB; one byte more.
     */
    uint32_t mm = mig_config().max_message;
    uint32_t msg = 20 + 8 + mm;

    sp->out_len = mm + msg + 8 * ((msg + 2047) / 2048) + 1024 * 1024 + 1;
    sp->out_written = 0;
}
static void c_sel3(Spec *sp) { sp->infos[0].selection = 3; }
static void c_sel_ffff(Spec *sp) { sp->infos[0].selection = 0xffffffffu; }
static void c_n4(Spec *sp)
{
    sp->n = 4;
    for (unsigned i = 1; i < 4; i++) {
        sp->infos[i] = (SpecInfo){ .selection = i };
    }
}
static void c_n_huge(Spec *sp) { sp->n = 0x80000000u; }
static void c_info_types(Spec *sp) { sp->infos[0].types |= 1u << N_TYPES; }
static void c_info_types_high(Spec *sp) { sp->infos[0].types |= 0x80000000u; }
static void c_cbpending_bits(Spec *sp) { sp->cbpending[2] = 1u << N_TYPES; }
static void c_host_pending_bits(Spec *sp) { sp->host_pending[1] = 0x80000000u; }
static void c_count_no_bit(Spec *sp)
{
    sp->cbpending_n[2 * N_TYPES + VDC_CLIPBOARD_TYPE_PNG] = 1;
}
static void c_count_above(Spec *sp)
{
    sp->cbpending_n[1 * N_TYPES + VDC_CLIPBOARD_TYPE_TEXT] = MAX_PENDING + 1;
}
static void c_own_pending(Spec *sp)
{
    sp->cbpending[0] = BIT(TEXT);
    sp->cbpending_n[0] = 1;
}
static void c_chdr_have(Spec *sp) { sp->chdr_have = 9; }
static void c_msg_state(Spec *sp) { sp->msg = 7; }
static void c_mhdr_have(Spec *sp) { sp->mhdr_have = 21; }
static void c_body_long(Spec *sp)
{
    sp->len = 30;                /* the header says 28 */
    sp->body = body30;
}
static void c_msg_left(Spec *sp) { sp->msg_left = 19; }
static void c_chunk_left(Spec *sp) { sp->chunk_left = 1000; }
static void c_bad_protocol(Spec *sp) { sp->mhdr[0] = 2; }
static void c_caps_word0(Spec *sp) { sp->words[0] ^= 1; }
static void c_not_connected(Spec *sp) { sp->connected = 0; }
static void c_bool2(Spec *sp) { sp->connected = 2; }
static void c_n_caps(Spec *sp) { sp->n_caps = VDC_MAX_CAPS_WORDS + 1; }
static void c_gmc(Spec *sp) { sp->gmc = -2; }
static void c_version2(Spec *sp) { sp->version = 2; }
static void c_version0(Spec *sp) { sp->version = 0; }
static void c_unknown_sub(Spec *sp) { sp->extra_sub = "vdagent/bogus"; }
static void c_twice_sub(Spec *sp) { sp->extra_sub = "vdagent/mouse"; }
static void c_foreign_sub(Spec *sp) { sp->extra_sub = "clipboard/info"; }
static void c_mouse_buttons(Spec *sp) { sp->mouse_buttons |= 1; }
static void c_mouse_display(Spec *sp) { sp->mouse_display = 256; }
/* The config has one head: display 0 is the only one the agent knows. */
static void c_mouse_head(Spec *sp) { sp->mouse_display = 5; }
static void c_data_unavailable(Spec *sp)
{
    sp->infos[0].len[VDC_CLIPBOARD_TYPE_TIFF] = 3;
}
static void c_data_huge(Spec *sp)
{
    sp->infos[0].len[VDC_CLIPBOARD_TYPE_TEXT] = VDC_CLIPBOARD_SAVED_MAX_DATA + 1;
    sp->infos[0].no_data = true;
}
static void c_repeated_sel(Spec *sp)
{
    sp->n = 2;
    sp->infos[1] = sp->infos[0];
}
static void c_has_serial2(Spec *sp) { sp->infos[0].has_serial = 2; }
static void c_no_by_demand(Spec *sp)
{
    sp->caps &= ~CAP(CLIPBOARD_BY_DEMAND);
    sp->words[0] = sp->caps;
}
static void c_no_footer(Spec *sp) { sp->no_footer = true; }
static void c_announced_bits(Spec *sp) { sp->host_announced = 1u << N_SEL; }
/* Saying "not connected" outright, with the caps of a session. */
static void c_not_connected_no_words(Spec *sp)
{
    sp->connected = 0;
    sp->n_caps = 0;
}
/* Host grabs the guest holds, for a guest without CLIPBOARD_BY_DEMAND. */
static void c_announced_no_clipboard(Spec *sp)
{
    Spec idle = spec_idle();

    idle.caps = idle.words[0] = REAL_AGENT_CAPS & ~CAP(CLIPBOARD_BY_DEMAND);
    idle.clipboard = true;
    idle.host_announced = 1u << 2;
    *sp = idle;
}

static const Corruption corruptions[] = {
    { "partial message len 0xffffffff", c_parser_len,
      "partial message", false },
    { "partial message len above max_message", c_parser_len_max,
      "partial message", false },
    { "output length 0xffffffff", c_out_len, "output above the limit", false },
    { "output length above the limit", c_out_len_limit,
      "output above the limit", false },
    { "selection 3", c_sel3, "selection 3", false },
    { "selection 0xffffffff", c_sel_ffff, "selection 4294967295", false },
    { "n=4 infos", c_n4, "infos", false },
    { "n=2^31 infos", c_n_huge, "infos", false },
    { "unknown type bits in an info", c_info_types, "type bits", false },
    { "type bit 31 in an info", c_info_types_high, "type bits", false },
    { "unknown cbpending bits", c_cbpending_bits, "type bits", false },
    { "unknown host_pending bits", c_host_pending_bits, "type bits", false },
    { "cbpending count without its bit", c_count_no_bit, "counts", false },
    { "cbpending count above the maximum", c_count_above, "counts", false },
    { "requests pending on the guest's selection", c_own_pending,
      "own selection", false },
    { "chdr_have 9", c_chdr_have, "chunk header", false },
    { "msg state 7", c_msg_state, "message state", false },
    { "mhdr_have 21", c_mhdr_have, "message state", false },
    { "body longer than its header's size", c_body_long, "body sizes", false },
    { "body sizes not adding up", c_msg_left, "body sizes", false },
    { "chunk_left above the chunk size", c_chunk_left,
      "chunk bytes left", false },
    { "protocol 2 in the message header", c_bad_protocol, "header", false },
    { "caps word 0 differing from caps", c_caps_word0, "caps word 0", false },
    { "connected=false with caps set", c_not_connected, "connected", false },
    { "bool connected 2", c_bool2, "connected", false },
    { "65 caps words", c_n_caps, "caps_words", false },
    { "guest_max_clipboard -2", c_gmc, "clipboard limit", false },
    { "section version 2", c_version2, "unsupported version 2", true },
    { "section version 0", c_version0, "unsupported version 0", true },
    { "unknown subsection name", c_unknown_sub, "vdagent/bogus", false },
    { "subsection twice", c_twice_sub, "twice", false },
    { "another description's subsection", c_foreign_sub,
      "clipboard/info", false },
    { "mouse button bit 0", c_mouse_buttons, "mouse", false },
    { "mouse display 256", c_mouse_display, "mouse", false },
    { "mouse display beyond the heads", c_mouse_head, "mouse", false },
    { "data for a type not available", c_data_unavailable,
      "not available", false },
    { "data length above 256 MiB", c_data_huge, "above maximum", false },
    { "repeated selection", c_repeated_sel, "repeated", false },
    { "has_serial 2", c_has_serial2, "has_serial", false },
    { "clipboard state without BY_DEMAND", c_no_by_demand, "clipboard", false },
    { "no section footer", c_no_footer, "footer", false },
    { "host_announced bit 3", c_announced_bits, "selection bits", false },
    { "connected=false with caps set, no caps words",
      c_not_connected_no_words, "connected", false },
    { "host grabs held without a clipboard", c_announced_no_clipboard,
      "without a clipboard", false },
};

/*
 * Each corruption of the (otherwise loadable) full state fails with an
 * error naming the problem or the field, and leaves a fresh, usable
 * destination.
 */
START_TEST(test_corrupted)
{
    const Corruption *c = &corruptions[_i];
    VdcConfig config = mig_config();
    g_autoptr(GByteArray) s = NULL;
    g_autoptr(GError) err = NULL;
    Spec sp = spec_full();
    TestFe *dst;

    c->apply(&sp);
    s = spec_stream(&sp);
    dst = fe_new_detached(&config);
    vdc_chardev_set_running(dst->dev, false);
    ck_assert_msg(!load_dev(dst->dev, s->data, s->len, &err),
                  "%s: loaded", c->name);
    ck_assert_ptr_nonnull(err);
    ck_assert(err->domain == VDC_VMSTATE_ERROR);
    ck_assert_msg(strstr(err->message, c->expect) != NULL,
                  "%s: '%s' does not say '%s'", c->name, err->message,
                  c->expect);
    ck_assert_msg(strstr(err->message, "vdagent") != NULL,
                  "%s: '%s' does not name the section", c->name,
                  err->message);
    ck_assert_msg(!vdc_chardev_connected(dst->dev),
                  "%s: connected after '%s'", c->name, err->message);
    ck_fresh(dst);
    ck_works_fresh(dst);
    fe_free(dst);
}
END_TEST

/*
 * A failed load into a device that was in use (connected, guest-owned
 * clipboard, output queued, pointer state) leaves it fresh: the section
 * resets it before anything else.  A stream refused at the section header
 * (Q21: a version out of range) leaves it as it was.
 */
START_TEST(test_failed_load_used_device)
{
    const Corruption *c = &corruptions[_i];
    g_autoptr(GByteArray) s = NULL;
    g_autoptr(GError) err = NULL;
    Spec sp = spec_full();
    VdcMouse ms;
    size_t n = 9;
    Canon cn;

    canon_start(&cn);
    drive_full(&cn);
    c->apply(&sp);
    s = spec_stream(&sp);
    vdc_chardev_set_running(cn.src->dev, false);
    ck_assert(!load_dev(cn.src->dev, s->data, s->len, &err));
    if (c->header) {
        ck_assert_int_eq(err->code, VDC_VMSTATE_ERROR_VERSION);
        ck_assert(vdc_chardev_connected(cn.src->dev));
        ck_assert_uint_eq(vdc_chardev_pending_output(cn.src->dev),
                          sizeof(full_out));
        ck_assert_str_eq(vdc_clipboard_hub_info(cn.src->hub, 0)->owner->name,
                         "vdagent");
        canon_stop(&cn);
        return;
    }
    ck_assert_msg(!vdc_chardev_connected(cn.src->dev),
                  "%s: connected after '%s'", c->name, err->message);
    vdc_chardev_guest_caps(cn.src->dev, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(vdc_chardev_pending_output(cn.src->dev), 0);
    vdc_chardev_mouse_state(cn.src->dev, &ms);
    ck_assert_uint_eq(ms.x | ms.y | ms.buttons | ms.display_id, 0);
    /* What the guest owned is released; the host peer's own grab stays. */
    ck_assert_ptr_null(vdc_clipboard_hub_info(cn.src->hub, 0)->owner);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(cn.src->hub, 1)->owner,
                     &cn.hp->peer);
    /* Resumed, it sends nothing of the old session. */
    g_byte_array_set_size(cn.src->wire, 0);
    cn.src->unlimited = true;
    vdc_chardev_set_running(cn.src->dev, true);
    vdc_chardev_accept_input(cn.src->dev);
    ck_assert_int_eq(cn.hp->view[0].owner, 'n');
    ck_assert_uint_eq(cn.src->wire->len, 0);
    g_ptr_array_set_size(cn.src->peers, 0);
    ck_works_fresh(cn.src);
    canon_stop(&cn);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

Suite *vdagent_migration_bad_suite(void)
{
    Suite *s = suite_create("vdagent-migration-bad");
    TCase *tc;

    tc = tcase_create("bad-streams");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_truncated_in_section, 0,
                        G_N_ELEMENTS(canon_states));
    tcase_add_loop_test(tc, test_truncated_after_section, 0,
                        G_N_ELEMENTS(canon_states));
    tcase_add_loop_test(tc, test_corrupted, 0, G_N_ELEMENTS(corruptions));
    tcase_add_loop_test(tc, test_failed_load_used_device, 0,
                        G_N_ELEMENTS(corruptions));
    suite_add_tcase(s, tc);
    return s;
}
