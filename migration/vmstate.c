/*
 * vmstate.c: the table-driven serializer.  See vmstate.h for the model.
 *
 * Save and load walk the same rows.  Every length and count read from
 * the stream is checked against its row's maximum before anything is
 * allocated or indexed; nothing here aborts on stream content.
 *
 * Error messages: "<vmsd>: field '<row>' at offset <n>: <what>", where the
 * offset is the stream offset of the row's first byte.  A failure inside a
 * nested struct is prefixed with the parent ("<parent>: field 'f[i]': ").
 * Hook and VALIDATE failures keep their code when they are VMSTATE_ERROR
 * errors and become VMSTATE_ERROR_HOOK otherwise; their message is kept.
 *
 * vmdesc: QEMU's shape.  A fixed scalar array is one entry with
 * "array_len".  An array of structs (fixed or STRUCT_VARRAY) with more
 * than one element is one entry with "array_len" when every element was
 * described identically (same fields, buffer sizes and subsections), and
 * otherwise one entry per element with "index": the description is always
 * exact.  A STRUCT_VARRAY with count 0 and VALIDATE rows get no entry.
 */
#define G_LOG_DOMAIN "migration"

#include "migration/vmstate.h"
#include "migration/migration-internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#define VMSTATE_SUBSECTION      0x05
/* Nested structs and subsections deeper than this are a table bug. */
#define VMSD_MAX_DEPTH          16

/* ---- rows ------------------------------------------------------------ */

/* Bytes one scalar element takes on the wire. */
static size_t scalar_wire_size(VMStateKind k)
{
    switch (k) {
    case VMS_KIND_BOOL:
    case VMS_KIND_UINT8:
        return 1;
    case VMS_KIND_UINT16:
        return 2;
    case VMS_KIND_UINT32:
    case VMS_KIND_INT32:
        return 4;
    case VMS_KIND_UINT64:
        return 8;
    default:
        return 0;
    }
}

/* Bytes one scalar element takes in the C struct. */
static size_t scalar_c_size(VMStateKind k)
{
    return k == VMS_KIND_BOOL ? sizeof(bool) : scalar_wire_size(k);
}

/* The vmdesc "type" of a row. */
static const char *kind_type_name(VMStateKind k)
{
    static const char *const names[] = {
        [VMS_KIND_BOOL] = "bool",
        [VMS_KIND_UINT8] = "uint8",
        [VMS_KIND_UINT16] = "uint16",
        [VMS_KIND_UINT32] = "uint32",
        [VMS_KIND_UINT64] = "uint64",
        [VMS_KIND_INT32] = "int32",
        [VMS_KIND_BUFFER] = "buffer",
        [VMS_KIND_VBUFFER] = "buffer",
        [VMS_KIND_STRUCT] = "struct",
        [VMS_KIND_STRUCT_VARRAY] = "struct",
    };

    return (size_t)k < G_N_ELEMENTS(names) && names[k] ? names[k] : "unknown";
}

static uint32_t get_count(const void *opaque, const VMStateField *f)
{
    uint32_t v;

    memcpy(&v, (const uint8_t *)opaque + f->count_offset, sizeof(v));
    return v;
}

static uint8_t *get_pointer(const void *opaque, const VMStateField *f)
{
    uint8_t *p;

    memcpy(&p, (const uint8_t *)opaque + f->offset, sizeof(p));
    return p;
}

static void set_pointer(void *opaque, const VMStateField *f, uint8_t *p)
{
    memcpy((uint8_t *)opaque + f->offset, &p, sizeof(p));
}

static bool field_exists(const VMStateField *f, int version_id)
{
    return f->version_id <= version_id;
}

static bool is_array(const VMStateField *f)
{
    return f->kind == VMS_KIND_STRUCT_VARRAY || f->num > 1;
}

/* ---- table checks (programming errors, not stream errors) ------------ */

/* The uint32 row that holds @f's length or count, earlier in the table. */
static bool count_row_before(const VMStateDescription *vmsd,
                             const VMStateField *f)
{
    const VMStateField *c;

    for (c = vmsd->fields; c != f; c++) {
        if (c->kind == VMS_KIND_UINT32 && c->num == 1 &&
            c->offset == f->count_offset && c->version_id <= f->version_id) {
            return true;
        }
    }
    return false;
}

static bool vmsd_check(const VMStateDescription *vmsd, unsigned depth);
static bool vmsd_usable(const VMStateDescription *vmsd, GError **errp);

static bool field_check(const VMStateDescription *vmsd, const VMStateField *f,
                        unsigned depth)
{
    if (!f->name) {
        return false;
    }
    switch (f->kind) {
    case VMS_KIND_BOOL:
    case VMS_KIND_UINT8:
    case VMS_KIND_UINT16:
    case VMS_KIND_UINT32:
    case VMS_KIND_UINT64:
    case VMS_KIND_INT32:
        return f->size == scalar_c_size(f->kind) && f->num >= 1;
    case VMS_KIND_BUFFER:
        return f->num == 1;
    case VMS_KIND_VBUFFER:
        return count_row_before(vmsd, f);
    case VMS_KIND_STRUCT:
        return f->vmsd && f->num >= 1 && f->size > 0 &&
               vmsd_check(f->vmsd, depth + 1);
    case VMS_KIND_STRUCT_VARRAY:
        return f->vmsd && f->num == f->max && f->size > 0 &&
               count_row_before(vmsd, f) && vmsd_check(f->vmsd, depth + 1);
    case VMS_KIND_VALIDATE:
        return f->validate != NULL;
    default:
        return false;
    }
}

/*
 * A description the engine can walk: named rows of known kinds, counts in
 * earlier uint32 rows, sane versions, subsections named "<name>/...".
 * Logs what is wrong (g_critical: a programming error) and returns false.
 */
static bool vmsd_check(const VMStateDescription *vmsd, unsigned depth)
{
    const VMStateDescription *const *sub;
    const VMStateField *f;
    size_t nlen;

    if (depth > VMSD_MAX_DEPTH || !vmsd->name || !vmsd->fields ||
        vmsd->minimum_version_id < 0 ||
        vmsd->minimum_version_id > vmsd->version_id) {
        g_critical("vmstate: bad description '%s'",
                   vmsd->name ? vmsd->name : "(null)");
        return false;
    }
    nlen = strlen(vmsd->name);
    for (f = vmsd->fields; f->kind != VMS_KIND_END; f++) {
        if (!field_check(vmsd, f, depth)) {
            g_critical("vmstate: bad row '%s' in '%s'",
                       f->name ? f->name : "(null)", vmsd->name);
            return false;
        }
    }
    for (sub = vmsd->subsections; sub && *sub; sub++) {
        const char *name = (*sub)->name;

        if (!name || strlen(name) > 255 || strlen(name) <= nlen + 1 ||
            strncmp(name, vmsd->name, nlen) != 0 || name[nlen] != '/') {
            g_critical("vmstate: subsection '%s' of '%s' must be named "
                       "'%s/...' (at most 255 bytes)",
                       name ? name : "(null)", vmsd->name, vmsd->name);
            return false;
        }
        if (!vmsd_check(*sub, depth + 1)) {
            return false;
        }
    }
    return true;
}

/* ---- errors ---------------------------------------------------------- */

/* The stream failed inside @f, which started at @off. */
static bool fail_field(MigrationStream *s, const VMStateDescription *vmsd,
                       const VMStateField *f, uint64_t off, GError **errp)
{
    const GError *se = migration_stream_error(s);

    g_set_error(errp, VMSTATE_ERROR,
                se ? se->code : VMSTATE_ERROR_TRUNCATED,
                "%s: field '%s' at offset %" PRIu64 ": %s", vmsd->name,
                f->name, off, se ? se->message : "stream truncated");
    return false;
}

/*
 * A hook or validation failed with @local (taken, may be NULL): keep its
 * message behind @fmt, and its code when it is one of ours.
 */
static void G_GNUC_PRINTF(3, 4)
hook_error(GError **errp, GError *local, const char *fmt, ...)
{
    g_autofree char *prefix = NULL;
    va_list ap;
    int code = VMSTATE_ERROR_HOOK;

    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (local && local->domain == VMSTATE_ERROR) {
        code = local->code;
    }
    g_set_error(errp, VMSTATE_ERROR, code, "%s: %s", prefix,
                local ? local->message : "failed");
    g_clear_error(&local);
}

/* ---- vmdesc ---------------------------------------------------------- */

/*
 * One entry of a "fields" array, keys in QEMU's order: name, array_len or
 * index (when @marker), type, struct (when @st, taken), size.
 */
static json_object *desc_entry(const char *name, const char *marker,
                               int64_t marker_value, const char *type,
                               json_object *st, uint64_t size)
{
    json_object *e = json_object_new_object();

    json_object_object_add(e, "name", json_object_new_string(name));
    if (marker) {
        json_object_object_add(e, marker, json_object_new_int64(marker_value));
    }
    json_object_object_add(e, "type", json_object_new_string(type));
    if (st) {
        json_object_object_add(e, "struct", st);
    }
    json_object_object_add(e, "size", json_object_new_int64((int64_t)size));
    return e;
}

static void desc_unref(gpointer p)
{
    json_object_put(p);
}

/* ---- saving ---------------------------------------------------------- */

static bool save_vmsd(MigrationStream *s, const VMStateDescription *vmsd,
                      void *opaque, json_object *desc, GError **errp);

static void put_scalar(MigrationStream *s, VMStateKind k, const uint8_t *p)
{
    bool b;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;

    switch (k) {
    case VMS_KIND_BOOL:
        memcpy(&b, p, sizeof(b));
        migration_put_u8(s, b ? 1 : 0);
        break;
    case VMS_KIND_UINT8:
        migration_put_u8(s, *p);
        break;
    case VMS_KIND_UINT16:
        memcpy(&v16, p, sizeof(v16));
        migration_put_be16(s, v16);
        break;
    case VMS_KIND_UINT32:
    case VMS_KIND_INT32:
        /* int32: two's complement, the same bits as a uint32. */
        memcpy(&v32, p, sizeof(v32));
        migration_put_be32(s, v32);
        break;
    case VMS_KIND_UINT64:
        memcpy(&v64, p, sizeof(v64));
        migration_put_be64(s, v64);
        break;
    default:
        g_assert_not_reached();
    }
}

/* @n elements of a struct row at @base; their vmdesc into @fields. */
static bool save_struct_elems(MigrationStream *s,
                              const VMStateDescription *vmsd,
                              const VMStateField *f, uint8_t *base,
                              uint32_t n, json_object *fields, GError **errp)
{
    g_autoptr(GPtrArray) descs = NULL;
    g_autofree uint64_t *sizes = NULL;
    bool same = true;
    uint32_t i;

    if (fields) {
        descs = g_ptr_array_new_with_free_func(desc_unref);
        sizes = g_new0(uint64_t, MAX(n, 1));
    }
    for (i = 0; i < n; i++) {
        uint64_t start = migration_stream_offset(s);
        json_object *sd = fields ? json_object_new_object() : NULL;

        if (sd) {
            g_ptr_array_add(descs, sd);
        }
        /* n <= num, and num * size is the C array: no overflow. */
        if (!save_vmsd(s, f->vmsd, base + (size_t)i * f->size, sd, errp)) {
            if (is_array(f)) {
                g_prefix_error(errp, "%s: field '%s[%" PRIu32 "]': ",
                               vmsd->name, f->name, i);
            } else {
                g_prefix_error(errp, "%s: field '%s': ", vmsd->name, f->name);
            }
            return false;
        }
        if (sizes) {
            sizes[i] = migration_stream_offset(s) - start;
        }
    }
    if (!fields || n == 0) {
        return true;
    }
    for (i = 1; i < n; i++) {
        if (sizes[i] != sizes[0] ||
            !json_object_equal(descs->pdata[0], descs->pdata[i])) {
            same = false;
            break;
        }
    }
    if (n == 1 || same) {
        json_object_array_add(fields, desc_entry(
            f->name, n > 1 ? "array_len" : NULL, n, "struct",
            json_object_get(descs->pdata[0]), sizes[0]));
        return true;
    }
    for (i = 0; i < n; i++) {
        json_object_array_add(fields, desc_entry(
            f->name, "index", i, "struct", json_object_get(descs->pdata[i]),
            sizes[i]));
    }
    return true;
}

static bool save_field(MigrationStream *s, const VMStateDescription *vmsd,
                       const VMStateField *f, void *opaque,
                       json_object *fields, GError **errp)
{
    uint8_t *base = (uint8_t *)opaque + f->offset;
    uint64_t start = migration_stream_offset(s);
    uint8_t *p;
    uint32_t i, n;

    switch (f->kind) {
    case VMS_KIND_BOOL:
    case VMS_KIND_UINT8:
    case VMS_KIND_UINT16:
    case VMS_KIND_UINT32:
    case VMS_KIND_UINT64:
    case VMS_KIND_INT32:
        for (i = 0; i < f->num; i++) {
            put_scalar(s, f->kind, base + (size_t)i * f->size);
        }
        if (fields) {
            json_object_array_add(fields, desc_entry(
                f->name, f->num > 1 ? "array_len" : NULL, f->num,
                kind_type_name(f->kind), NULL, scalar_wire_size(f->kind)));
        }
        return true;
    case VMS_KIND_BUFFER:
        migration_put_bytes(s, base, f->size);
        if (fields) {
            json_object_array_add(fields, desc_entry(f->name, NULL, 0, "buffer",
                                                     NULL, f->size));
        }
        return true;
    case VMS_KIND_VBUFFER:
        n = get_count(opaque, f);
        p = get_pointer(opaque, f);
        /* Never write what the destination must refuse. */
        if (n > f->max) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "%s: field '%s' at offset %" PRIu64 ": length %"
                        PRIu32 " above maximum %" PRIu32, vmsd->name,
                        f->name, start, n, f->max);
            return false;
        }
        if (n > 0 && !p) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "%s: field '%s' at offset %" PRIu64 ": no buffer "
                        "for length %" PRIu32, vmsd->name, f->name, start, n);
            return false;
        }
        migration_put_bytes(s, p, n);
        if (fields) {
            json_object_array_add(fields, desc_entry(f->name, NULL, 0, "buffer",
                                                     NULL, n));
        }
        return true;
    case VMS_KIND_STRUCT:
        return save_struct_elems(s, vmsd, f, base, f->num, fields, errp);
    case VMS_KIND_STRUCT_VARRAY:
        n = get_count(opaque, f);
        if (n > f->max) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "%s: field '%s' at offset %" PRIu64 ": count %" PRIu32
                        " above maximum %" PRIu32, vmsd->name, f->name, start,
                        n, f->max);
            return false;
        }
        return save_struct_elems(s, vmsd, f, base, n, fields, errp);
    case VMS_KIND_VALIDATE:
        return true;
    default:
        g_assert_not_reached();
    }
}

/* Every needed subsection: 0x05, counted name, be32 version, contents. */
static bool save_subsections(MigrationStream *s,
                             const VMStateDescription *vmsd, void *opaque,
                             json_object *desc, GError **errp)
{
    const VMStateDescription *const *sub;
    json_object *subs = NULL;

    for (sub = vmsd->subsections; sub && *sub; sub++) {
        size_t len = strlen((*sub)->name);
        json_object *sd = NULL;

        if ((*sub)->needed && !(*sub)->needed(opaque)) {
            continue;
        }
        if (desc) {
            if (!subs) {
                subs = json_object_new_array();
                json_object_object_add(desc, "subsections", subs);
            }
            sd = json_object_new_object();
            json_object_array_add(subs, sd);
        }
        migration_put_u8(s, VMSTATE_SUBSECTION);
        migration_put_u8(s, (uint8_t)len);
        migration_put_bytes(s, (*sub)->name, len);
        migration_put_be32(s, (uint32_t)(*sub)->version_id);
        if (!save_vmsd(s, *sub, opaque, sd, errp)) {
            return false;
        }
    }
    return true;
}

/* pre_save, fields, subsections, post_save (whenever pre_save passed). */
static bool save_vmsd(MigrationStream *s, const VMStateDescription *vmsd,
                      void *opaque, json_object *desc, GError **errp)
{
    const VMStateField *f;
    json_object *fields = NULL;
    bool ok = true;

    if (vmsd->pre_save) {
        GError *local = NULL;

        if (!vmsd->pre_save(opaque, &local)) {
            hook_error(errp, local, "%s: pre_save at offset %" PRIu64,
                       vmsd->name, migration_stream_offset(s));
            return false;
        }
    }
    if (desc) {
        json_object_object_add(desc, "vmsd_name",
                               json_object_new_string(vmsd->name));
        json_object_object_add(desc, "version",
                               json_object_new_int(vmsd->version_id));
        fields = json_object_new_array();
        json_object_object_add(desc, "fields", fields);
    }
    for (f = vmsd->fields; ok && f->kind != VMS_KIND_END; f++) {
        if (field_exists(f, vmsd->version_id)) {
            ok = save_field(s, vmsd, f, opaque, fields, errp);
        }
    }
    if (ok) {
        ok = save_subsections(s, vmsd, opaque, desc, errp);
    }
    if (vmsd->post_save) {
        vmsd->post_save(opaque);
    }
    return ok;
}

/*
 * Write @opaque; see vmstate.h.  A sink error is reported here only when
 * the sink has already failed (an fd sink may fail later, at flush).
 */
bool vmstate_save(MigrationStream *s, const VMStateDescription *vmsd,
                  void *opaque, json_object *desc, GError **errp)
{
    const GError *se;

    g_return_val_if_fail(s != NULL && vmsd != NULL && opaque != NULL, false);
    g_return_val_if_fail(!desc || json_object_is_type(desc, json_type_object),
                         false);
    g_return_val_if_fail(errp == NULL || *errp == NULL, false);
    if (!vmsd_usable(vmsd, errp)) {
        return false;
    }

    if (!save_vmsd(s, vmsd, opaque, desc, errp)) {
        return false;
    }
    se = migration_stream_error(s);
    if (se) {
        g_set_error(errp, VMSTATE_ERROR, se->code, "%s: at offset %" PRIu64
                    ": %s", vmsd->name, migration_stream_offset(s),
                    se->message);
        return false;
    }
    return true;
}

/* ---- loading --------------------------------------------------------- */

static bool load_vmsd(MigrationStream *s, const VMStateDescription *vmsd,
                      void *opaque, int version_id, bool strict,
                      GError **errp);

/* One scalar element at @off into @p; false with the error set. */
static bool get_scalar(MigrationStream *s, const VMStateDescription *vmsd,
                       const VMStateField *f, uint8_t *p, uint64_t start,
                       GError **errp)
{
    uint64_t off = migration_stream_offset(s);
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    bool b;

    switch (f->kind) {
    case VMS_KIND_BOOL:
        if (!migration_get_u8(s, &v8)) {
            return fail_field(s, vmsd, f, start, errp);
        }
        if (v8 > 1) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "%s: field '%s' at offset %" PRIu64
                        ": bool value %u is not 0 or 1", vmsd->name,
                        f->name, off, v8);
            return false;
        }
        b = v8;
        memcpy(p, &b, sizeof(b));
        return true;
    case VMS_KIND_UINT8:
        if (!migration_get_u8(s, p)) {
            return fail_field(s, vmsd, f, start, errp);
        }
        return true;
    case VMS_KIND_UINT16:
        if (!migration_get_be16(s, &v16)) {
            return fail_field(s, vmsd, f, start, errp);
        }
        memcpy(p, &v16, sizeof(v16));
        return true;
    case VMS_KIND_UINT32:
    case VMS_KIND_INT32:
        if (!migration_get_be32(s, &v32)) {
            return fail_field(s, vmsd, f, start, errp);
        }
        memcpy(p, &v32, sizeof(v32));
        return true;
    case VMS_KIND_UINT64:
        if (!migration_get_be64(s, &v64)) {
            return fail_field(s, vmsd, f, start, errp);
        }
        memcpy(p, &v64, sizeof(v64));
        return true;
    default:
        g_assert_not_reached();
    }
}

static bool load_struct_elems(MigrationStream *s,
                              const VMStateDescription *vmsd,
                              const VMStateField *f, uint8_t *base,
                              uint32_t n, GError **errp)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        /* n <= num (checked by the caller): inside the C array. */
        if (!load_vmsd(s, f->vmsd, base + (size_t)i * f->size,
                       f->vmsd->version_id, false, errp)) {
            if (is_array(f)) {
                g_prefix_error(errp, "%s: field '%s[%" PRIu32 "]': ",
                               vmsd->name, f->name, i);
            } else {
                g_prefix_error(errp, "%s: field '%s': ", vmsd->name, f->name);
            }
            return false;
        }
    }
    return true;
}

static bool load_field(MigrationStream *s, const VMStateDescription *vmsd,
                       const VMStateField *f, void *opaque, int version_id,
                       GError **errp)
{
    uint8_t *base = (uint8_t *)opaque + f->offset;
    uint64_t start = migration_stream_offset(s);
    GError *local = NULL;
    uint8_t *p;
    uint32_t i, n;

    switch (f->kind) {
    case VMS_KIND_BOOL:
    case VMS_KIND_UINT8:
    case VMS_KIND_UINT16:
    case VMS_KIND_UINT32:
    case VMS_KIND_UINT64:
    case VMS_KIND_INT32:
        for (i = 0; i < f->num; i++) {
            if (!get_scalar(s, vmsd, f, base + (size_t)i * f->size, start,
                            errp)) {
                return false;
            }
        }
        return true;
    case VMS_KIND_BUFFER:
        if (!migration_get_bytes(s, base, f->size)) {
            return fail_field(s, vmsd, f, start, errp);
        }
        return true;
    case VMS_KIND_VBUFFER:
        /* The length row came earlier (vmsd_check): bound it, then alloc. */
        n = get_count(opaque, f);
        g_free(get_pointer(opaque, f));
        set_pointer(opaque, f, NULL);
        if (n > f->max) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "%s: field '%s' at offset %" PRIu64 ": length %"
                        PRIu32 " above maximum %" PRIu32, vmsd->name,
                        f->name, start, n, f->max);
            return false;
        }
        if (n == 0) {
            return true;
        }
        if (n > migration_stream_remaining(s)) {
            /* A memory stream too short: "truncated", before allocating. */
            return fail_field(s, vmsd, f, start, errp);
        }
        /*
         * An fd: memory follows the bytes that actually arrive, in
         * growing pieces, never the announced length up front.
         */
        {
            uint32_t have = 0, cap = MIN(n, 1024u * 1024);

            p = g_malloc(cap);
            set_pointer(opaque, f, p);  /* owned by the struct from now on */
            while (have < n) {
                uint32_t k = MIN(n - have, cap - have);

                if (!migration_get_bytes(s, p + have, k)) {
                    return fail_field(s, vmsd, f, start, errp);
                }
                have += k;
                if (have == cap && have < n) {
                    cap = (uint32_t)MIN((uint64_t)cap * 2, (uint64_t)n);
                    p = g_realloc(p, cap);
                    set_pointer(opaque, f, p);
                }
            }
        }
        return true;
    case VMS_KIND_STRUCT:
        return load_struct_elems(s, vmsd, f, base, f->num, errp);
    case VMS_KIND_STRUCT_VARRAY:
        n = get_count(opaque, f);
        if (n > f->max) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "%s: field '%s' at offset %" PRIu64 ": count %"
                        PRIu32 " above maximum %" PRIu32, vmsd->name,
                        f->name, start, n, f->max);
            return false;
        }
        return load_struct_elems(s, vmsd, f, base, n, errp);
    case VMS_KIND_VALIDATE:
        if (!f->validate(opaque, version_id, &local)) {
            hook_error(errp, local, "%s: field '%s' at offset %" PRIu64,
                       vmsd->name, f->name, start);
            return false;
        }
        return true;
    default:
        g_assert_not_reached();
    }
}

static const VMStateDescription *find_subsection(
    const VMStateDescription *vmsd, const uint8_t *name, size_t len,
    size_t *index)
{
    size_t i;

    for (i = 0; vmsd->subsections && vmsd->subsections[i]; i++) {
        const char *n = vmsd->subsections[i]->name;

        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *index = i;
            return vmsd->subsections[i];
        }
    }
    return NULL;
}

/*
 * Is the next thing in the stream a subsection of @vmsd?  0x05, then a
 * counted name starting with "<vmsd name>/".  Peeks only as far as the
 * prefix, so a parent's field that happens to start with 0x05 is not
 * mistaken for one (QEMU's rule).  False at the end of the stream.
 */
static bool subsection_follows(MigrationStream *s,
                               const VMStateDescription *vmsd)
{
    uint8_t buf[MIGRATION_PEEK_MAX];
    size_t plen = strlen(vmsd->name) + 1;

    if (2 + plen > sizeof(buf)) {
        return false;   /* no subsection name (<= 255) can be this long */
    }
    if (!migration_peek_bytes(s, buf, 2) || buf[0] != VMSTATE_SUBSECTION ||
        buf[1] <= plen) {
        return false;
    }
    return migration_peek_bytes(s, buf, 2 + plen) &&
           memcmp(buf + 2, vmsd->name, plen - 1) == 0 &&
           buf[2 + plen - 1] == '/';
}

/*
 * The subsections after @vmsd's fields.  @strict (the top level of a
 * section, where only a subsection or the section footer can follow):
 * every 0x05 starts a subsection, which must be one of @vmsd's.
 * Otherwise the parent's next field follows: see subsection_follows().
 */
static bool load_subsections(MigrationStream *s,
                             const VMStateDescription *vmsd, void *opaque,
                             bool strict, GError **errp)
{
    g_autofree bool *seen = NULL;
    size_t nsubs = 0;

    while (vmsd->subsections && vmsd->subsections[nsubs]) {
        nsubs++;
    }
    if (!strict && nsubs == 0) {
        return true;
    }
    seen = g_new0(bool, MAX(nsubs, 1));

    for (;;) {
        const VMStateDescription *sub;
        uint64_t start = migration_stream_offset(s);
        g_autofree char *name = NULL;
        uint8_t raw[255];
        uint8_t marker, len;
        uint32_t version;
        size_t index = 0;

        if (strict) {
            if (!migration_peek_u8(s, &marker)) {
                if (migration_stream_error(s)) {
                    goto read_err;
                }
                return true;            /* end of stream: the caller sees */
            }
            if (marker != VMSTATE_SUBSECTION) {
                return true;
            }
        } else if (!subsection_follows(s, vmsd)) {
            return true;
        }

        if (!migration_get_u8(s, &marker) || !migration_get_u8(s, &len) ||
            !migration_get_bytes(s, raw, len)) {
            goto read_err;
        }
        name = migration_printable(raw, len);
        sub = find_subsection(vmsd, raw, len, &index);
        if (!sub) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_UNKNOWN,
                        "unknown subsection '%s' in '%s' at offset %" PRIu64,
                        name, vmsd->name, start);
            return false;
        }
        if (seen[index]) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "subsection '%s' in '%s' at offset %" PRIu64
                        ": appears twice", name, vmsd->name, start);
            return false;
        }
        seen[index] = true;
        if (!migration_get_be32(s, &version)) {
            goto read_err;
        }
        if (version > (uint32_t)sub->version_id ||
            version < (uint32_t)sub->minimum_version_id) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_VERSION,
                        "subsection '%s' in '%s' at offset %" PRIu64
                        ": unsupported version %" PRIu32 " (supported %d..%d)",
                        name, vmsd->name, start, version,
                        sub->minimum_version_id, sub->version_id);
            return false;
        }
        /* Its name says whose it is: no parent prefix on its errors. */
        if (!load_vmsd(s, sub, opaque, (int)version, false, errp)) {
            return false;
        }
        continue;

read_err:
        {
            const GError *se = migration_stream_error(s);

            g_set_error(errp, VMSTATE_ERROR,
                        se ? se->code : VMSTATE_ERROR_TRUNCATED,
                        "%s: subsection at offset %" PRIu64 ": %s",
                        vmsd->name, start,
                        se ? se->message : "stream truncated");
            return false;
        }
    }
}

/* Version check, pre_load, fields, subsections, post_load. */
static bool load_vmsd(MigrationStream *s, const VMStateDescription *vmsd,
                      void *opaque, int version_id, bool strict,
                      GError **errp)
{
    const VMStateField *f;

    if (version_id > vmsd->version_id ||
        version_id < vmsd->minimum_version_id) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_VERSION,
                    "%s: unsupported version %d (supported %d..%d)",
                    vmsd->name, version_id, vmsd->minimum_version_id,
                    vmsd->version_id);
        return false;
    }
    if (vmsd->pre_load) {
        GError *local = NULL;

        if (!vmsd->pre_load(opaque, &local)) {
            hook_error(errp, local, "%s: pre_load at offset %" PRIu64,
                       vmsd->name, migration_stream_offset(s));
            return false;
        }
    }
    for (f = vmsd->fields; f->kind != VMS_KIND_END; f++) {
        if (field_exists(f, version_id) &&
            !load_field(s, vmsd, f, opaque, version_id, errp)) {
            return false;
        }
    }
    if (!load_subsections(s, vmsd, opaque, strict, errp)) {
        return false;
    }
    if (vmsd->post_load) {
        GError *local = NULL;

        if (!vmsd->post_load(opaque, version_id, &local)) {
            hook_error(errp, local, "%s: post_load at offset %" PRIu64,
                       vmsd->name, migration_stream_offset(s));
            return false;
        }
    }
    return true;
}

/*
 * Read @opaque; see vmstate.h.  After the fields, every 0x05 must start
 * one of @vmsd's subsections (at a section's top level only a subsection
 * or the footer can follow); nested structs' subsections are recognised
 * by their name prefix, as QEMU does.  The end of the stream right after
 * the fields or a subsection is not an error here (the caller reads what
 * comes next).
 */
bool vmstate_load(MigrationStream *s, const VMStateDescription *vmsd,
                  void *opaque, int version_id, GError **errp)
{
    g_return_val_if_fail(s != NULL && vmsd != NULL && opaque != NULL, false);
    g_return_val_if_fail(errp == NULL || *errp == NULL, false);
    if (!vmsd_usable(vmsd, errp)) {
        return false;
    }
    return load_vmsd(s, vmsd, opaque, version_id, true, errp);
}

/*
 * A malformed table is a bug in the caller (g_critical), but the caller
 * also gets an error, so that code printing err->message cannot crash.
 */
static bool vmsd_usable(const VMStateDescription *vmsd, GError **errp)
{
    if (!vmsd_check(vmsd, 0)) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "vmstate: malformed description '%s'",
                    vmsd->name ? vmsd->name : "(null)");
        return false;
    }
    return true;
}

static void free_buffers(const VMStateDescription *vmsd, void *opaque)
{
    const VMStateDescription *const *sub;
    const VMStateField *f;
    uint32_t i, zero = 0;

    for (f = vmsd->fields; f->kind != VMS_KIND_END; f++) {
        uint8_t *base = (uint8_t *)opaque + f->offset;

        switch (f->kind) {
        case VMS_KIND_VBUFFER:
            g_free(get_pointer(opaque, f));
            set_pointer(opaque, f, NULL);
            memcpy((uint8_t *)opaque + f->count_offset, &zero, sizeof(zero));
            break;
        case VMS_KIND_STRUCT:
        case VMS_KIND_STRUCT_VARRAY:
            /* Every element: a failed load may have stopped anywhere. */
            for (i = 0; i < f->num; i++) {
                free_buffers(f->vmsd, base + (size_t)i * f->size);
            }
            break;
        default:
            break;
        }
    }
    for (sub = vmsd->subsections; sub && *sub; sub++) {
        free_buffers(*sub, opaque);
    }
}

/*
 * Free every VBUFFER of @vmsd in @opaque (all versions' rows, nested
 * structs, every element of struct arrays up to their maximum, and
 * subsections), setting each pointer to NULL and its length row to 0.
 * The struct must not hold stray pointers: zero it before the first load.
 */
void vmstate_free_buffers(const VMStateDescription *vmsd, void *opaque)
{
    g_return_if_fail(vmsd != NULL);
    if (!opaque || !vmsd_check(vmsd, 0)) {
        return;
    }
    free_buffers(vmsd, opaque);
}
