/*
 * savevm.c: the section registry, vdc_migration_save() and vdc_migration_load().
 * See vdc-savevm.h for the container's format.
 *
 * Only the stream's public API is used here: the bytes come and go through
 * vdc-stream.h, the sections' contents through vdc-vmstate.h.
 */
#define G_LOG_DOMAIN "migration"

#include "migration/vdc-savevm.h"
#include "migration/json-scan.h"
#include "migration/migration-internal.h"

#include <inttypes.h>
#include <string.h>

/* QEMU's savevm constants (migration/vdc-savevm.h). */
#define QEVM_MAGIC              0x5145564du
#define QEVM_VERSION            3u
#define QEVM_EOF                0x00
#define QEVM_SECTION_START      0x01
#define QEVM_SECTION_PART       0x02
#define QEVM_SECTION_END        0x03
#define QEVM_SECTION_FULL       0x04
#define QEVM_VMDESCRIPTION      0x06
#define QEVM_SECTION_FOOTER     0x7e

#define QEVM_PAGE_SIZE          4096
/* An fd source's vmdesc must not announce more than this. */
#define QEVM_VMDESC_MAX         (16u * 1024 * 1024)
/* The vmdesc of an fd source is read in pieces of this size. */
#define VMDESC_READ_PIECE       (64u * 1024)
/* Nesting depth accepted in a vmdesc (QEMU's has 5 or so). */
#define VMDESC_JSON_DEPTH       VDC_MIGRATION_JSON_MAX_DEPTH

/* ---- the registry ---------------------------------------------------- */

typedef struct VdcMigrationSection {
    char *idstr;
    uint32_t instance_id;
    const VdcVMStateDescription *vmsd;     /* a FULL section's, or NULL */
    const VdcMigrationLiveOps *live;       /* a live section's, or NULL */
    int live_version;
    void *opaque;
} VdcMigrationSection;

struct VdcMigrationRegistry {
    GArray *sections;       /* VdcMigrationSection, in registration order */
};

static void section_clear(gpointer p)
{
    VdcMigrationSection *sec = p;

    g_free(sec->idstr);
}

VdcMigrationRegistry *vdc_migration_registry_new(void)
{
    VdcMigrationRegistry *reg = g_new0(VdcMigrationRegistry, 1);

    reg->sections = g_array_new(FALSE, TRUE, sizeof(VdcMigrationSection));
    g_array_set_clear_func(reg->sections, section_clear);
    return reg;
}

void vdc_migration_registry_free(VdcMigrationRegistry *reg)
{
    if (!reg) {
        return;
    }
    g_array_unref(reg->sections);
    g_free(reg);
}

static VdcMigrationSection *find_section(VdcMigrationRegistry *reg,
                                         const char *idstr, size_t idlen,
                                         uint32_t instance_id, guint *index)
{
    guint i;

    for (i = 0; i < reg->sections->len; i++) {
        VdcMigrationSection *sec = &g_array_index(reg->sections,
                                                  VdcMigrationSection, i);

        if (sec->instance_id == instance_id &&
            strlen(sec->idstr) == idlen &&
            memcmp(sec->idstr, idstr, idlen) == 0) {
            if (index) {
                *index = i;
            }
            return sec;
        }
    }
    return NULL;
}

/*
 * Add @sec (idstr, vmsd or live ops, opaque filled in; idstr borrowed)
 * under @instance_id, unless that name is taken.
 */
static bool register_section(VdcMigrationRegistry *reg, VdcMigrationSection *sec,
                             uint32_t instance_id, GError **errp)
{
    size_t idlen = strlen(sec->idstr);

    g_return_val_if_fail(idlen >= 1 && idlen <= 255, false);
    if (find_section(reg, sec->idstr, idlen, instance_id, NULL)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_DUPLICATE,
                    "section '%s' instance %" PRIu32 " is already registered",
                    sec->idstr, instance_id);
        return false;
    }
    sec->idstr = g_strdup(sec->idstr);
    sec->instance_id = instance_id;
    g_array_append_val(reg->sections, *sec);
    return true;
}

/*
 * Sections are saved in registration order with section ids 0, 1, ...;
 * see the header for the rest of the contract.
 */
bool vdc_migration_register(VdcMigrationRegistry *reg, const char *idstr,
                            uint32_t instance_id, const VdcVMStateDescription *vmsd,
                            void *opaque, GError **errp)
{
    VdcMigrationSection sec = { .idstr = (char *)idstr, .vmsd = vmsd,
                             .opaque = opaque };

    g_return_val_if_fail(reg != NULL && idstr != NULL && vmsd != NULL, false);
    return register_section(reg, &sec, instance_id, errp);
}

bool vdc_migration_register_live(VdcMigrationRegistry *reg, const char *idstr,
                                 uint32_t instance_id, int version_id,
                                 const VdcMigrationLiveOps *ops, void *opaque,
                                 GError **errp)
{
    VdcMigrationSection sec = { .idstr = (char *)idstr, .live = ops,
                             .live_version = version_id, .opaque = opaque };

    g_return_val_if_fail(reg != NULL && idstr != NULL && ops != NULL, false);
    g_return_val_if_fail(ops->save && ops->pending && ops->load, false);
    return register_section(reg, &sec, instance_id, errp);
}

/* Remove @idstr / @instance_id; an unknown one is a no-op. */
void vdc_migration_unregister(VdcMigrationRegistry *reg, const char *idstr,
                              uint32_t instance_id)
{
    guint i;

    g_return_if_fail(reg != NULL && idstr != NULL);

    if (find_section(reg, idstr, strlen(idstr), instance_id, &i)) {
        g_array_remove_index(reg->sections, i);
    }
}

/* ---- saving ---------------------------------------------------------- */

/*
 * QEMU's analyze-migration.py finds the vmdesc by searching for the first
 * '{' after the last NUL byte of the file, and the JSON itself holds no
 * NUL.  So the last NUL is either the EOF marker before 0x06 or a zero
 * byte of the be32 length, and no length byte after it may be '{'.
 */
static bool vmdesc_len_ok(uint32_t len)
{
    uint8_t b[4] = { len >> 24, len >> 16, len >> 8, len };
    int i;

    for (i = 3; i >= 0 && b[i] != 0; i--) {
        if (b[i] == '{') {
            return false;
        }
    }
    return true;
}

/*
 * The vmdesc text: @root serialized plain (no spaces, '/' not escaped),
 * with spaces inserted before the final '}' until the length is safe.
 */
static char *vmdesc_text(json_object *root, size_t *lenp)
{
    const char *json = json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = strlen(json);
    GString *out;

    if (len > G_MAXUINT32 - 256) {
        return NULL;
    }
    out = g_string_new_len(json, (gssize)len - 1);   /* without the '}' */
    while (!vmdesc_len_ok((uint32_t)len)) {
        g_string_append_c(out, ' ');
        len++;
    }
    g_string_append_c(out, '}');
    *lenp = out->len;
    return g_string_free(out, FALSE);
}

static void put_header(VdcMigrationStream *s)
{
    vdc_migration_put_be32(s, QEVM_MAGIC);
    vdc_migration_put_be32(s, QEVM_VERSION);
}

/*
 * A section's start, FULL and live alike: @type and the section id @id;
 * with @sec (a FULL or a live START section) its name, its instance and
 * @version follow.
 */
static void put_section_start(VdcMigrationStream *s, uint8_t type, guint id,
                              const VdcMigrationSection *sec, uint32_t version)
{
    vdc_migration_put_u8(s, type);
    vdc_migration_put_be32(s, id);
    if (sec) {
        size_t idlen = strlen(sec->idstr);

        vdc_migration_put_u8(s, (uint8_t)idlen);
        vdc_migration_put_bytes(s, sec->idstr, idlen);
        vdc_migration_put_be32(s, sec->instance_id);
        vdc_migration_put_be32(s, version);
    }
}

/* A section's end: the footer and the section id again. */
static void put_section_footer(VdcMigrationStream *s, guint id)
{
    vdc_migration_put_u8(s, QEVM_SECTION_FOOTER);
    vdc_migration_put_be32(s, id);
}

/* A section's save failed: which section, before the reason. */
static void prefix_section_error(GError **errp, const VdcMigrationSection *sec)
{
    g_prefix_error(errp, "section '%s' instance %" PRIu32 ": ", sec->idstr,
                   sec->instance_id);
}

/*
 * How a stream begins, the whole save's and the live setup's alike: the
 * arguments checked (@s a sink), then magic and version.
 */
static bool save_begin(VdcMigrationRegistry *reg, VdcMigrationStream *s)
{
    g_return_val_if_fail(reg != NULL && s != NULL, false);
    g_return_val_if_fail(vdc_migration_stream_is_sink(s), false);

    put_header(s);
    return true;
}

/*
 * One FULL section per registered FULL section (section ids: registration
 * indexes), EOF and the vmdesc; flush an fd sink.  Errors: a section's
 * pre_save or table, the sink.
 */
static bool put_full_and_tail(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                              GError **errp)
{
    json_object *root = NULL;
    json_object *devices;
    g_autofree char *text = NULL;
    size_t text_len = 0;
    guint i;

    root = json_object_new_object();
    json_object_object_add(root, "page_size",
                           json_object_new_int(QEVM_PAGE_SIZE));
    devices = json_object_new_array();
    json_object_object_add(root, "devices", devices);

    for (i = 0; i < reg->sections->len; i++) {
        VdcMigrationSection *sec = &g_array_index(reg->sections,
                                                  VdcMigrationSection, i);
        json_object *dev;

        if (sec->live) {
            continue;               /* its END went before */
        }
        dev = json_object_new_object();
        json_object_array_add(devices, dev);
        json_object_object_add(dev, "name", json_object_new_string(sec->idstr));
        json_object_object_add(dev, "instance_id",
                               json_object_new_int64(sec->instance_id));

        put_section_start(s, QEVM_SECTION_FULL, i, sec,
                          (uint32_t)sec->vmsd->version_id);
        if (!vdc_vmstate_save(s, sec->vmsd, sec->opaque, dev, errp)) {
            prefix_section_error(errp, sec);
            goto err;
        }
        put_section_footer(s, i);
    }
    vdc_migration_put_u8(s, QEVM_EOF);

    text = vmdesc_text(root, &text_len);
    if (!text) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "vmdesc too large");
        goto err;
    }
    vdc_migration_put_u8(s, QEVM_VMDESCRIPTION);
    vdc_migration_put_be32(s, (uint32_t)text_len);
    vdc_migration_put_bytes(s, text, text_len);
    if (!vdc_migration_stream_flush(s, errp)) {
        goto err;
    }
    json_object_put(root);
    return true;

err:
    json_object_put(root);
    return false;
}

/*
 * Write magic, version, one FULL section per registered FULL section
 * (live sections are not written), EOF and the vmdesc; flush an fd sink.
 */
bool vdc_migration_save(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                        GError **errp)
{
    return save_begin(reg, s) && put_full_and_tail(reg, s, errp);
}

/* ---- saving live ------------------------------------------------------ */

/* One live section of @phase with its payload and footer. */
static bool put_live(VdcMigrationStream *s, VdcMigrationSection *sec, guint id,
                     VdcMigrationLivePhase phase, uint64_t budget, GError **errp)
{
    put_section_start(s, (uint8_t)phase, id,
                      phase == VDC_MIGRATION_LIVE_START ? sec : NULL,
                      (uint32_t)sec->live_version);
    if (!sec->live->save(s, sec->opaque, phase, budget, errp)) {
        prefix_section_error(errp, sec);
        return false;
    }
    put_section_footer(s, id);
    if (vdc_migration_stream_error(s)) {
        g_set_error_literal(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_IO,
                            vdc_migration_stream_error(s)->message);
        return false;
    }
    return true;
}

static bool put_live_all(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                         VdcMigrationLivePhase phase, uint64_t budget,
                         GError **errp)
{
    guint i;

    for (i = 0; i < reg->sections->len; i++) {
        VdcMigrationSection *sec = &g_array_index(reg->sections,
                                                  VdcMigrationSection, i);

        if (sec->live && !put_live(s, sec, i, phase, budget, errp)) {
            return false;
        }
    }
    return true;
}

bool vdc_migration_save_live_setup(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                                   GError **errp)
{
    return save_begin(reg, s) &&
           put_live_all(reg, s, VDC_MIGRATION_LIVE_START, UINT64_MAX, errp);
}

bool vdc_migration_save_live_iterate(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                                     uint64_t budget, GError **errp)
{
    g_return_val_if_fail(reg != NULL && s != NULL, false);
    g_return_val_if_fail(vdc_migration_stream_is_sink(s), false);

    return put_live_all(reg, s, VDC_MIGRATION_LIVE_PART, budget, errp);
}

uint64_t vdc_migration_save_live_pending(VdcMigrationRegistry *reg)
{
    uint64_t sum = 0;
    guint i;

    g_return_val_if_fail(reg != NULL, 0);
    for (i = 0; i < reg->sections->len; i++) {
        VdcMigrationSection *sec = &g_array_index(reg->sections,
                                                  VdcMigrationSection, i);

        if (sec->live) {
            sum += sec->live->pending(sec->opaque);
        }
    }
    return sum;
}

bool vdc_migration_save_live_complete(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                                      GError **errp)
{
    g_return_val_if_fail(reg != NULL && s != NULL, false);
    g_return_val_if_fail(vdc_migration_stream_is_sink(s), false);

    return put_live_all(reg, s, VDC_MIGRATION_LIVE_END, UINT64_MAX, errp) &&
           put_full_and_tail(reg, s, errp);
}

void vdc_migration_save_live_cleanup(VdcMigrationRegistry *reg)
{
    guint i;

    g_return_if_fail(reg != NULL);
    for (i = 0; i < reg->sections->len; i++) {
        VdcMigrationSection *sec = &g_array_index(reg->sections,
                                                  VdcMigrationSection, i);

        if (sec->live && sec->live->save_cleanup) {
            sec->live->save_cleanup(sec->opaque);
        }
    }
}

/* ---- loading --------------------------------------------------------- */

/* The stream failed while reading @what at @off: its error, named. */
static bool fail_read(VdcMigrationStream *s, GError **errp, const char *what,
                      uint64_t off)
{
    const GError *se = vdc_migration_stream_error(s);

    g_set_error(errp, VDC_VMSTATE_ERROR, se ? se->code : VDC_VMSTATE_ERROR_TRUNCATED,
                "%s at offset %" PRIu64 ": %s", what, off,
                se ? se->message : "stream truncated");
    return false;
}

/*
 * Read the vmdesc after its 0x06 marker; see vdc_migration_load().  The JSON
 * is checked in pieces as it is read, by a scanner that builds nothing
 * (json-scan.h): memory stays one piece whatever the JSON holds (a tree
 * of a million "{}" would cost a gigabyte), and a lying length costs no
 * more than the bytes sent.
 */
static bool load_vmdesc(VdcMigrationStream *s, GError **errp)
{
    g_autoptr(VdcMigrationJsonScan) js = NULL;
    g_autofree uint8_t *piece = NULL;
    uint64_t off = vdc_migration_stream_offset(s);
    uint32_t len, done = 0;
    bool ended = false;
    const char *why = NULL;

    if (!vdc_migration_get_be32(s, &len)) {
        return fail_read(s, errp, "vmdesc length", off);
    }
    /* Bound the length before reading anything. */
    if (vdc_migration_stream_is_memory(s) &&
        len > vdc_migration_stream_remaining(s)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_TRUNCATED,
                    "vmdesc at offset %" PRIu64 ": length %" PRIu32
                    " but only %" PRIu64 " bytes left", off, len,
                    vdc_migration_stream_remaining(s));
        return false;
    }
    if (!vdc_migration_stream_is_memory(s) && len > QEVM_VMDESC_MAX) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "vmdesc at offset %" PRIu64 ": length %" PRIu32
                    " above maximum %u", off, len, QEVM_VMDESC_MAX);
        return false;
    }
    if (len == 0) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "vmdesc at offset %" PRIu64 ": empty", off + 4);
        return false;
    }
    js = vdc_migration_json_scan_new(VMDESC_JSON_DEPTH);
    piece = g_malloc(MIN(len, VMDESC_READ_PIECE));
    while (done < len) {
        uint32_t n = MIN(len - done, VMDESC_READ_PIECE), i;
        size_t used = 0;

        if (!vdc_migration_get_bytes(s, piece, n)) {
            return fail_read(s, errp, "vmdesc", off + 4);
        }
        done += n;
        if (memchr(piece, 0, n)) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "vmdesc at offset %" PRIu64 ": contains a NUL byte",
                        off + 4);
            return false;
        }
        if (why) {
            continue;               /* read to the end: NULs first */
        }
        if (ended) {
            i = 0;
        } else {
            switch (vdc_migration_json_scan_push(js, piece, n, &used)) {
            case VDC_MIGRATION_JSON_MORE:
                continue;
            case VDC_MIGRATION_JSON_ERROR:
                why = vdc_migration_json_scan_error(js);
                continue;
            case VDC_MIGRATION_JSON_VALUE:
                ended = true;
                break;
            }
            if (vdc_migration_json_scan_first_byte(js) != '{') {
                why = "wrong type";
                continue;
            }
            i = (uint32_t)used;
        }
        for (; i < n; i++) {
            if (!g_ascii_isspace(piece[i])) {
                g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                            "vmdesc at offset %" PRIu64 ": bytes after the "
                            "JSON object", off + 4);
                return false;
            }
        }
    }
    if (!why && !ended) {
        /* The JSON stopped short, or was a number (ended only now). */
        if (vdc_migration_json_scan_finish(js) == VDC_MIGRATION_JSON_VALUE) {
            why = "wrong type";
        } else {
            why = vdc_migration_json_scan_error(js);
            why = why ? why : "unexpected end of input";
        }
    }
    if (why) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "vmdesc at offset %" PRIu64 ": not a JSON object (%s)",
                    off + 4, why);
        return false;
    }
    return true;
}

/* One FULL section after its 0x04 marker, read at @start. */
static bool load_section(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                         bool *loaded, uint64_t start, GError **errp)
{
    uint8_t idstr[256];
    g_autofree char *name = NULL;
    VdcMigrationSection *sec;
    uint32_t section_id, instance_id, version, footer_id;
    uint8_t idlen, footer;
    uint64_t off;
    guint index;

    if (!vdc_migration_get_be32(s, &section_id) ||
        !vdc_migration_get_u8(s, &idlen) ||
        !vdc_migration_get_bytes(s, idstr, idlen) ||
        !vdc_migration_get_be32(s, &instance_id) ||
        !vdc_migration_get_be32(s, &version)) {
        return fail_read(s, errp, "section header", start);
    }
    name = vdc_migration_printable(idstr, idlen);
    sec = find_section(reg, (const char *)idstr, idlen, instance_id, &index);
    if (!sec) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_UNKNOWN,
                    "unknown section '%s' instance %" PRIu32
                    " at offset %" PRIu64, name, instance_id, start);
        return false;
    }
    if (!sec->vmsd) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": a live section sent as a full one", name, instance_id,
                    start);
        return false;
    }
    if (loaded[index]) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": appears twice", name, instance_id, start);
        return false;
    }
    if (version > (uint32_t)sec->vmsd->version_id ||
        version < (uint32_t)sec->vmsd->minimum_version_id) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_VERSION,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": unsupported version %" PRIu32 " (supported %d..%d)",
                    name, instance_id, start, version,
                    sec->vmsd->minimum_version_id, sec->vmsd->version_id);
        return false;
    }
    /* From here on the section's hooks run: it is told of a failure. */
    loaded[index] = true;
    if (!vdc_vmstate_load(s, sec->vmsd, sec->opaque, (int)version, errp)) {
        g_prefix_error(errp, "section '%s' instance %" PRIu32 ": ",
                       name, instance_id);
        return false;
    }

    off = vdc_migration_stream_offset(s);
    if (!vdc_migration_get_u8(s, &footer) || !vdc_migration_get_be32(s, &footer_id)) {
        g_autofree char *what = g_strdup_printf(
            "section '%s' instance %" PRIu32 ": footer", name, instance_id);

        return fail_read(s, errp, what, off);
    }
    if (footer != QEVM_SECTION_FOOTER || footer_id != section_id) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 ": bad footer at offset "
                    "%" PRIu64 " (0x%02x id %" PRIu32 ", expected 0x%02x id "
                    "%" PRIu32 ")", name, instance_id, off, footer, footer_id,
                    QEVM_SECTION_FOOTER, section_id);
        return false;
    }
    return true;
}

/* ---- the loader ------------------------------------------------------ */

enum { LIVE_NONE, LIVE_STARTED, LIVE_ENDED };

struct VdcMigrationLoader {
    VdcMigrationRegistry *reg;
    guint n;                    /* sections registered at its creation */
    bool header;                /* the stream's header was read */
    bool has_live;              /* a live section is registered */
    bool failed, done;
    uint64_t base;              /* bytes of the pieces before this one */
    bool *loaded;               /* per section: a FULL load began */
    uint8_t *live;              /* per section: LIVE_* */
    uint32_t *live_id;          /* per section: the id its START gave */
};

VdcMigrationLoader *vdc_migration_loader_new(VdcMigrationRegistry *reg)
{
    VdcMigrationLoader *ld;

    g_return_val_if_fail(reg != NULL, NULL);
    ld = g_new0(VdcMigrationLoader, 1);
    ld->reg = reg;
    ld->n = reg->sections->len;
    ld->loaded = g_new0(bool, ld->n + 1);
    ld->live = g_new0(uint8_t, ld->n + 1);
    ld->live_id = g_new0(uint32_t, ld->n + 1);
    for (guint i = 0; i < ld->n; i++) {
        ld->has_live |= g_array_index(reg->sections, VdcMigrationSection,
                                      i).live != NULL;
    }
    return ld;
}

bool vdc_migration_loader_done(const VdcMigrationLoader *ld)
{
    return ld->done;
}

/*
 * The load failed or was abandoned: a section whose load began (it may
 * even have committed, its post_load running before a later byte failed)
 * must not keep that state; a live section drops what it holds.  Sections
 * never reached are left as they were.
 */
static void loader_abort(VdcMigrationLoader *ld)
{
    guint i;

    ld->failed = true;
    for (i = 0; i < ld->n; i++) {
        VdcMigrationSection *sec = &g_array_index(ld->reg->sections,
                                                  VdcMigrationSection, i);

        if (ld->loaded[i] && sec->vmsd->load_failed) {
            sec->vmsd->load_failed(sec->opaque);
        }
        if (ld->live[i] != LIVE_NONE && sec->live->load_failed) {
            sec->live->load_failed(sec->opaque);
        }
        ld->loaded[i] = false;
        ld->live[i] = LIVE_NONE;
    }
}

void vdc_migration_loader_free(VdcMigrationLoader *ld)
{
    if (!ld) {
        return;
    }
    if (!ld->done && !ld->failed) {
        loader_abort(ld);
    }
    g_free(ld->loaded);
    g_free(ld->live);
    g_free(ld->live_id);
    g_free(ld);
}

/* The footer of a live section of id @id. */
static bool load_footer(VdcMigrationStream *s, uint32_t id, GError **errp)
{
    uint64_t off = vdc_migration_stream_offset(s);
    uint32_t footer_id;
    uint8_t footer;

    if (!vdc_migration_get_u8(s, &footer) || !vdc_migration_get_be32(s, &footer_id)) {
        return fail_read(s, errp, "live section footer", off);
    }
    if (footer != QEVM_SECTION_FOOTER || footer_id != id) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "live section: bad footer at offset %" PRIu64 " (0x%02x "
                    "id %" PRIu32 ", expected 0x%02x id %" PRIu32 ")", off,
                    footer, footer_id, QEVM_SECTION_FOOTER, id);
        return false;
    }
    return true;
}

/* A live section's START after its 0x01 marker, read at @start. */
static bool load_live_start(VdcMigrationLoader *ld, VdcMigrationStream *s,
                            uint64_t start, GError **errp)
{
    uint8_t idstr[256];
    g_autofree char *name = NULL;
    VdcMigrationSection *sec;
    uint32_t section_id, instance_id, version;
    uint8_t idlen;
    guint index, i;

    if (!vdc_migration_get_be32(s, &section_id) ||
        !vdc_migration_get_u8(s, &idlen) ||
        !vdc_migration_get_bytes(s, idstr, idlen) ||
        !vdc_migration_get_be32(s, &instance_id) ||
        !vdc_migration_get_be32(s, &version)) {
        return fail_read(s, errp, "section header", start);
    }
    name = vdc_migration_printable(idstr, idlen);
    sec = find_section(ld->reg, (const char *)idstr, idlen, instance_id,
                       &index);
    if (!sec) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_UNKNOWN,
                    "unknown section '%s' instance %" PRIu32
                    " at offset %" PRIu64, name, instance_id, start);
        return false;
    }
    if (!sec->live) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": not a live section", name, instance_id, start);
        return false;
    }
    if (ld->live[index] != LIVE_NONE) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": started twice", name, instance_id, start);
        return false;
    }
    for (i = 0; i < ld->n; i++) {
        if (ld->live[i] != LIVE_NONE && ld->live_id[i] == section_id) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "section '%s' at offset %" PRIu64 ": section id %"
                        PRIu32 " already in use", name, start, section_id);
            return false;
        }
    }
    if (version > (uint32_t)sec->live_version || version < 1) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_VERSION,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": unsupported version %" PRIu32 " (supported 1..%d)",
                    name, instance_id, start, version, sec->live_version);
        return false;
    }
    ld->live[index] = LIVE_STARTED;
    ld->live_id[index] = section_id;
    if (!sec->live->load(s, sec->opaque, VDC_MIGRATION_LIVE_START, (int)version,
                         errp)) {
        g_prefix_error(errp, "section '%s' instance %" PRIu32 " (start at "
                       "offset %" PRIu64 "): ", name, instance_id, start);
        return false;
    }
    return load_footer(s, section_id, errp);
}

/* A PART or END after its marker @type, read at @start. */
static bool load_live_part(VdcMigrationLoader *ld, VdcMigrationStream *s,
                           uint8_t type, uint64_t start, GError **errp)
{
    VdcMigrationSection *sec = NULL;
    const char *what = type == QEVM_SECTION_END ? "end" : "part";
    uint32_t section_id;
    guint i;

    if (!vdc_migration_get_be32(s, &section_id)) {
        return fail_read(s, errp, "section header", start);
    }
    for (i = 0; i < ld->n; i++) {
        if (ld->live[i] != LIVE_NONE && ld->live_id[i] == section_id) {
            sec = &g_array_index(ld->reg->sections, VdcMigrationSection, i);
            break;
        }
    }
    if (!sec) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_UNKNOWN,
                    "live %s at offset %" PRIu64 ": section id %" PRIu32
                    " was never started", what, start, section_id);
        return false;
    }
    if (ld->live[i] == LIVE_ENDED) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 ": live %s at offset %"
                    PRIu64 " after its end", sec->idstr, sec->instance_id,
                    what, start);
        return false;
    }
    if (type == QEVM_SECTION_END) {
        ld->live[i] = LIVE_ENDED;
    }
    if (!sec->live->load(s, sec->opaque, (VdcMigrationLivePhase)type,
                         sec->live_version, errp)) {
        g_prefix_error(errp, "section '%s' instance %" PRIu32 " (%s at "
                       "offset %" PRIu64 "): ", sec->idstr, sec->instance_id,
                       what, start);
        return false;
    }
    return load_footer(s, section_id, errp);
}

static bool loader_feed(VdcMigrationLoader *ld, VdcMigrationStream *s, bool last,
                        GError **errp);

bool vdc_migration_loader_feed(VdcMigrationLoader *ld, VdcMigrationStream *s, bool last,
                               GError **errp)
{
    g_return_val_if_fail(ld != NULL && s != NULL, false);
    g_return_val_if_fail(!vdc_migration_stream_is_sink(s), false);
    g_return_val_if_fail(last || vdc_migration_stream_is_memory(s), false);
    g_return_val_if_fail(ld->n == ld->reg->sections->len, false);

    if (ld->failed || ld->done) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "the load already %s", ld->done ? "completed" : "failed");
        return false;
    }
    if (vdc_migration_stream_is_memory(s) && ld->base) {
        vdc_migration_stream_set_offset(s, ld->base);   /* the whole stream's */
    }
    if (loader_feed(ld, s, last, errp)) {
        ld->done = last;
        ld->base = vdc_migration_stream_offset(s);
        return true;
    }
    loader_abort(ld);
    return false;
}

/*
 * Sections may come in any order, each at most once; registered sections
 * missing from the stream are left alone (QEMU does the same).  See the
 * header for the rest.
 */
bool vdc_migration_load(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                        GError **errp)
{
    g_autoptr(VdcMigrationLoader) ld = NULL;

    g_return_val_if_fail(reg != NULL && s != NULL, false);
    g_return_val_if_fail(!vdc_migration_stream_is_sink(s), false);

    ld = vdc_migration_loader_new(reg);
    return vdc_migration_loader_feed(ld, s, true, errp);
}

static bool loader_feed(VdcMigrationLoader *ld, VdcMigrationStream *s, bool last,
                        GError **errp)
{
    uint32_t magic, version;
    uint8_t type;
    uint64_t off;
    guint i;

    if (!ld->header) {
        off = vdc_migration_stream_offset(s);
        if (!vdc_migration_get_be32(s, &magic) ||
            !vdc_migration_get_be32(s, &version)) {
            return fail_read(s, errp, "stream header", off);
        }
        if (magic != QEVM_MAGIC) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "not a migration stream (magic 0x%08" PRIx32
                        " at offset %" PRIu64 ")", magic, off);
            return false;
        }
        if (version != QEVM_VERSION) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_VERSION,
                        "unsupported stream version %" PRIu32 " at offset %"
                        PRIu64 " (supported %u)", version, off + 4,
                        QEVM_VERSION);
            return false;
        }
        ld->header = true;
    }

    for (;;) {
        off = vdc_migration_stream_offset(s);
        if (!last && vdc_migration_stream_at_end(s)) {
            return true;            /* a whole piece */
        }
        if (!vdc_migration_get_u8(s, &type)) {
            return fail_read(s, errp, "section type", off);
        }
        if (type == QEVM_EOF && last) {
            break;
        }
        /* Without a live section those are unexpected, as they were. */
        switch (ld->has_live ? type : (type == QEVM_SECTION_FULL ? type : 0xff)) {
        case QEVM_SECTION_START:
            if (!load_live_start(ld, s, off, errp)) {
                return false;
            }
            break;
        case QEVM_SECTION_PART:
        case QEVM_SECTION_END:
            if (type == QEVM_SECTION_END && !last) {
                g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                            "live end at offset %" PRIu64 " before the "
                            "final piece", off);
                return false;
            }
            if (!load_live_part(ld, s, type, off, errp)) {
                return false;
            }
            break;
        case QEVM_SECTION_FULL:
            if (last) {
                if (!load_section(ld->reg, s, ld->loaded, off, errp)) {
                    return false;
                }
                continue;
            }
            /* fall through */
        default:
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "unexpected section type 0x%02x at offset %" PRIu64
                        "%s", type, off,
                        last ? "" : " (a live piece holds START and PART "
                        "sections only)");
            return false;
        }
    }

    /* The vmdesc: optional in memory, required (and the end) on an fd. */
    for (i = 0; i < ld->n; i++) {
        if (ld->live[i] == LIVE_STARTED) {
            VdcMigrationSection *sec = &g_array_index(ld->reg->sections,
                                                      VdcMigrationSection, i);

            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "section '%s' instance %" PRIu32 ": live section "
                        "never ended before EOF at offset %" PRIu64,
                        sec->idstr, sec->instance_id,
                        vdc_migration_stream_offset(s) - 1);
            return false;
        }
    }
    off = vdc_migration_stream_offset(s);
    if (vdc_migration_stream_is_memory(s) && vdc_migration_stream_at_end(s)) {
        return true;
    }
    if (!vdc_migration_get_u8(s, &type)) {
        return fail_read(s, errp, "vmdesc", off);
    }
    if (type != QEVM_VMDESCRIPTION) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "unexpected byte 0x%02x after EOF at offset %" PRIu64
                    " (expected the vmdesc 0x%02x)", type, off,
                    QEVM_VMDESCRIPTION);
        return false;
    }
    if (!load_vmdesc(s, errp)) {
        return false;
    }
    if (vdc_migration_stream_is_memory(s) && !vdc_migration_stream_at_end(s)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "%" PRIu64 " bytes of trailing garbage at offset %" PRIu64,
                    vdc_migration_stream_remaining(s),
                    vdc_migration_stream_offset(s));
        return false;
    }
    return true;
}
