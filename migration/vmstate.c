/*
 * vmstate.c: the table-driven serializer.  See vdc-vmstate.h for the model.
 *
 * Save and load walk the same rows.  What a row does depends on its kind
 * only through vmstate_infos[], one entry per VdcVMStateKind (QEMU's
 * VdcVMStateInfo): the table check, save and load of the whole row, the
 * vmdesc type, and for scalars the element's sizes, put and get.  A new
 * kind is one new entry, never a new case in mirrored switches.
 *
 * Every length and count read from the stream is checked against its
 * row's maximum before anything is allocated or indexed; nothing here
 * aborts on stream content.
 *
 * Error messages: "<vmsd>: field '<row>' at offset <n>: <what>", where the
 * offset is the stream offset of the row's first byte.  A failure inside a
 * nested struct is prefixed with the parent ("<parent>: field 'f[i]': ").
 * Hook and VALIDATE failures keep their code when they are VDC_VMSTATE_ERROR
 * errors and become VDC_VMSTATE_ERROR_HOOK otherwise; their message is kept.
 *
 * vmdesc: QEMU's shape.  A fixed scalar array is one entry with
 * "array_len".  An array of structs (fixed or STRUCT_VARRAY) with more
 * than one element is one entry with "array_len" when every element was
 * described identically (same fields, buffer sizes and subsections), and
 * otherwise one entry per element with "index": the description is always
 * exact.  A STRUCT_VARRAY with count 0 and VALIDATE rows get no entry.
 */
#define G_LOG_DOMAIN "migration"

#include "migration/vdc-vmstate.h"
#include "migration/migration-internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#define VDC_VMSTATE_SUBSECTION      0x05
/* Nested structs and subsections deeper than this are a table bug. */
#define VMSD_MAX_DEPTH          16

/* ---- rows ------------------------------------------------------------ */

static uint32_t get_count(const void *opaque, const VdcVMStateField *f)
{
    uint32_t v;

    memcpy(&v, (const uint8_t *)opaque + f->count_offset, sizeof(v));
    return v;
}

static uint8_t *get_pointer(const void *opaque, const VdcVMStateField *f)
{
    uint8_t *p;

    memcpy(&p, (const uint8_t *)opaque + f->offset, sizeof(p));
    return p;
}

static void set_pointer(void *opaque, const VdcVMStateField *f, uint8_t *p)
{
    memcpy((uint8_t *)opaque + f->offset, &p, sizeof(p));
}

static bool field_exists(const VdcVMStateField *f, int version_id)
{
    return f->version_id <= version_id;
}

/* ---- table checks (programming errors, not stream errors) ------------ */

/* The uint32 row that holds @f's length or count, earlier in the table. */
static bool count_row_before(const VdcVMStateDescription *vmsd,
                             const VdcVMStateField *f)
{
    const VdcVMStateField *c;

    for (c = vmsd->fields; c != f; c++) {
        if (c->kind == VDC_VMS_KIND_UINT32 && c->num == 1 &&
            c->offset == f->count_offset && c->version_id <= f->version_id) {
            return true;
        }
    }
    return false;
}

static bool vmsd_check(const VdcVMStateDescription *vmsd, unsigned depth);
static bool vmsd_usable(const VdcVMStateDescription *vmsd, GError **errp);

/* ---- errors ---------------------------------------------------------- */

/* The stream failed inside @f, which started at @off. */
static bool fail_field(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                       const VdcVMStateField *f, uint64_t off, GError **errp)
{
    const GError *se = vdc_migration_stream_error(s);

    g_set_error(errp, VDC_VMSTATE_ERROR,
                se ? se->code : VDC_VMSTATE_ERROR_TRUNCATED,
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
    int code = VDC_VMSTATE_ERROR_HOOK;

    va_start(ap, fmt);
    prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (local && local->domain == VDC_VMSTATE_ERROR) {
        code = local->code;
    }
    g_set_error(errp, VDC_VMSTATE_ERROR, code, "%s: %s", prefix,
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

/* ---- the kinds of rows ----------------------------------------------- */

typedef struct VdcVMStateInfo VdcVMStateInfo;

/*
 * One row at work, as save and load hand it to its kind: the stream, the
 * table the row belongs to, the row, the struct, the row's field in it,
 * and the stream offset of the row's first byte (which errors name).
 */
typedef struct VdcVMStateRow {
    const VdcVMStateInfo *info;
    VdcMigrationStream *s;
    const VdcVMStateDescription *vmsd;
    const VdcVMStateField *f;
    void *opaque;
    uint8_t *base;                  /* opaque + f->offset */
    uint64_t start;
} VdcVMStateRow;

/*
 * What one kind of row is and does (QEMU's VMStateInfo): vmstate_infos[]
 * holds one per VdcVMStateKind, and the walks below look a row's kind up
 * there instead of switching on it.
 */
struct VdcVMStateInfo {
    const char *type;               /* the vmdesc "type" (NULL: no entry) */
    /* Scalars: one element's bytes on the wire and in the C struct. */
    size_t wire_size;
    size_t c_size;
    /*
     * Scalars: one element at @p.  get returns false on a stream failure
     * with @errp untouched (the caller names the row) or on a bad value
     * with @errp set to a bare message (the caller prefixes the row).
     */
    void (*put)(VdcMigrationStream *s, const uint8_t *p);
    bool (*get)(VdcMigrationStream *s, uint8_t *p, GError **errp);
    /* Is @f a well-formed row of this kind in @vmsd (a table bug if not)? */
    bool (*check)(const VdcVMStateInfo *info, const VdcVMStateDescription *vmsd,
                  const VdcVMStateField *f, unsigned depth);
    /*
     * The whole row: save writes it and, when @fields is non-NULL, appends
     * its vmdesc entries; load reads it from a stream written at
     * @version_id.  Both return false with @errp set.
     */
    bool (*save)(const VdcVMStateRow *r, json_object *fields, GError **errp);
    bool (*load)(const VdcVMStateRow *r, int version_id, GError **errp);
    /* Optional: free what load allocated for @f in @opaque. */
    void (*free)(const VdcVMStateField *f, void *opaque);
};

static bool save_vmsd(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                      void *opaque, json_object *desc, GError **errp);
static bool load_vmsd(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                      void *opaque, int version_id, bool strict,
                      GError **errp);
static void free_buffers(const VdcVMStateDescription *vmsd, void *opaque);

/* A length or count @n read from @r's struct is above the row's maximum. */
static bool above_max(const VdcVMStateRow *r, const char *what, uint32_t n,
                      GError **errp)
{
    g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                "%s: field '%s' at offset %" PRIu64 ": %s %" PRIu32
                " above maximum %" PRIu32, r->vmsd->name, r->f->name,
                r->start, what, n, r->f->max);
    return false;
}

/* -- scalars: bool, uint8, uint16, uint32, uint64, int32 -- */

static void put_bool(VdcMigrationStream *s, const uint8_t *p)
{
    bool b;

    memcpy(&b, p, sizeof(b));
    vdc_migration_put_u8(s, b ? 1 : 0);
}

static bool get_bool(VdcMigrationStream *s, uint8_t *p, GError **errp)
{
    uint8_t v8;
    bool b;

    if (!vdc_migration_get_u8(s, &v8)) {
        return false;
    }
    if (v8 > 1) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "bool value %u is not 0 or 1", v8);
        return false;
    }
    b = v8;
    memcpy(p, &b, sizeof(b));
    return true;
}

static void put_u8(VdcMigrationStream *s, const uint8_t *p)
{
    vdc_migration_put_u8(s, *p);
}

static bool get_u8(VdcMigrationStream *s, uint8_t *p, GError **errp)
{
    return vdc_migration_get_u8(s, p);
}

/*
 * put_be16, get_be16, put_be32, get_be32, put_be64, get_be64: a uintN_t
 * of the struct as N/8 big-endian bytes.  int32 uses the 32-bit pair: two's
 * complement, the same bits as a uint32.
 */
#define VDC_VMSTATE_PUT_GET_BE(_bits)                                         \
static void put_be##_bits(VdcMigrationStream *s, const uint8_t *p)          \
{                                                                         \
    uint##_bits##_t v;                                                    \
                                                                          \
    memcpy(&v, p, sizeof(v));                                             \
    vdc_migration_put_be##_bits(s, v);                                        \
}                                                                         \
                                                                          \
static bool get_be##_bits(VdcMigrationStream *s, uint8_t *p, GError **errp) \
{                                                                         \
    uint##_bits##_t v;                                                    \
                                                                          \
    if (!vdc_migration_get_be##_bits(s, &v)) {                                \
        return false;                                                     \
    }                                                                     \
    memcpy(p, &v, sizeof(v));                                             \
    return true;                                                          \
}

VDC_VMSTATE_PUT_GET_BE(16)
VDC_VMSTATE_PUT_GET_BE(32)
VDC_VMSTATE_PUT_GET_BE(64)

static bool check_scalar(const VdcVMStateInfo *info,
                         const VdcVMStateDescription *vmsd,
                         const VdcVMStateField *f, unsigned depth)
{
    return f->size == info->c_size && f->num >= 1;
}

/* @num elements; a fixed array is one vmdesc entry with "array_len". */
static bool save_scalar(const VdcVMStateRow *r, json_object *fields,
                        GError **errp)
{
    const VdcVMStateField *f = r->f;
    uint32_t i;

    for (i = 0; i < f->num; i++) {
        r->info->put(r->s, r->base + (size_t)i * f->size);
    }
    if (fields) {
        json_object_array_add(fields, desc_entry(
            f->name, f->num > 1 ? "array_len" : NULL, f->num, r->info->type,
            NULL, r->info->wire_size));
    }
    return true;
}

/* A bad value names the offset of its own element, not the row's. */
static bool load_scalar(const VdcVMStateRow *r, int version_id, GError **errp)
{
    const VdcVMStateField *f = r->f;
    uint32_t i;

    for (i = 0; i < f->num; i++) {
        uint64_t off = vdc_migration_stream_offset(r->s);
        GError *local = NULL;

        if (r->info->get(r->s, r->base + (size_t)i * f->size, &local)) {
            continue;
        }
        if (!local) {
            return fail_field(r->s, r->vmsd, f, r->start, errp);
        }
        g_set_error(errp, VDC_VMSTATE_ERROR, local->code,
                    "%s: field '%s' at offset %" PRIu64 ": %s",
                    r->vmsd->name, f->name, off, local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

/* -- BUFFER: a fixed byte array inside the struct -- */

static bool check_buffer(const VdcVMStateInfo *info,
                         const VdcVMStateDescription *vmsd,
                         const VdcVMStateField *f, unsigned depth)
{
    return f->num == 1;
}

static bool save_buffer(const VdcVMStateRow *r, json_object *fields,
                        GError **errp)
{
    vdc_migration_put_bytes(r->s, r->base, r->f->size);
    if (fields) {
        json_object_array_add(fields, desc_entry(r->f->name, NULL, 0,
                                                 r->info->type, NULL,
                                                 r->f->size));
    }
    return true;
}

static bool load_buffer(const VdcVMStateRow *r, int version_id, GError **errp)
{
    if (!vdc_migration_get_bytes(r->s, r->base, r->f->size)) {
        return fail_field(r->s, r->vmsd, r->f, r->start, errp);
    }
    return true;
}

/* -- VBUFFER: a uint8_t * whose length is an earlier uint32 row -- */

static bool check_vbuffer(const VdcVMStateInfo *info,
                          const VdcVMStateDescription *vmsd,
                          const VdcVMStateField *f, unsigned depth)
{
    return count_row_before(vmsd, f);
}

static bool save_vbuffer(const VdcVMStateRow *r, json_object *fields,
                         GError **errp)
{
    uint32_t n = get_count(r->opaque, r->f);
    uint8_t *p = get_pointer(r->opaque, r->f);

    /* Never write what the destination must refuse. */
    if (n > r->f->max) {
        return above_max(r, "length", n, errp);
    }
    if (n > 0 && !p) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "%s: field '%s' at offset %" PRIu64 ": no buffer "
                    "for length %" PRIu32, r->vmsd->name, r->f->name,
                    r->start, n);
        return false;
    }
    vdc_migration_put_bytes(r->s, p, n);
    if (fields) {
        json_object_array_add(fields, desc_entry(r->f->name, NULL, 0,
                                                 r->info->type, NULL, n));
    }
    return true;
}

static bool load_vbuffer(const VdcVMStateRow *r, int version_id, GError **errp)
{
    const VdcVMStateField *f = r->f;
    uint32_t n, have = 0, cap;
    uint8_t *p;

    /* The length row came earlier (vmsd_check): bound it, then alloc. */
    n = get_count(r->opaque, f);
    g_free(get_pointer(r->opaque, f));
    set_pointer(r->opaque, f, NULL);
    if (n > f->max) {
        return above_max(r, "length", n, errp);
    }
    if (n == 0) {
        return true;
    }
    if (n > vdc_migration_stream_remaining(r->s)) {
        /* A memory stream too short: "truncated", before allocating. */
        return fail_field(r->s, r->vmsd, f, r->start, errp);
    }
    /*
     * An fd: memory follows the bytes that actually arrive, in growing
     * pieces, never the announced length up front.
     */
    cap = MIN(n, 1024u * 1024);
    p = g_malloc(cap);
    set_pointer(r->opaque, f, p);       /* owned by the struct from now on */
    while (have < n) {
        uint32_t k = MIN(n - have, cap - have);

        if (!vdc_migration_get_bytes(r->s, p + have, k)) {
            return fail_field(r->s, r->vmsd, f, r->start, errp);
        }
        have += k;
        if (have == cap && have < n) {
            cap = (uint32_t)MIN((uint64_t)cap * 2, (uint64_t)n);
            p = g_realloc(p, cap);
            set_pointer(r->opaque, f, p);
        }
    }
    return true;
}

static void free_vbuffer(const VdcVMStateField *f, void *opaque)
{
    uint32_t zero = 0;

    g_free(get_pointer(opaque, f));
    set_pointer(opaque, f, NULL);
    memcpy((uint8_t *)opaque + f->count_offset, &zero, sizeof(zero));
}

/* -- STRUCT and STRUCT_VARRAY: nested structs, fixed or counted -- */

/* Element @i of a struct row failed: prefix the row ("f[i]" in an @array). */
static bool fail_elem(const VdcVMStateRow *r, bool array, uint32_t i,
                      GError **errp)
{
    if (array) {
        g_prefix_error(errp, "%s: field '%s[%" PRIu32 "]': ", r->vmsd->name,
                       r->f->name, i);
    } else {
        g_prefix_error(errp, "%s: field '%s': ", r->vmsd->name, r->f->name);
    }
    return false;
}

/*
 * @n elements of a struct row; their vmdesc into @fields.  @array: name
 * the element in errors ("f[i]").
 */
static bool save_struct_elems(const VdcVMStateRow *r, uint32_t n, bool array,
                              json_object *fields, GError **errp)
{
    const VdcVMStateField *f = r->f;
    g_autoptr(GPtrArray) descs = NULL;
    g_autofree uint64_t *sizes = NULL;
    bool same = true;
    uint32_t i;

    if (fields) {
        descs = g_ptr_array_new_with_free_func(desc_unref);
        sizes = g_new0(uint64_t, MAX(n, 1));
    }
    for (i = 0; i < n; i++) {
        uint64_t start = vdc_migration_stream_offset(r->s);
        json_object *sd = fields ? json_object_new_object() : NULL;

        if (sd) {
            g_ptr_array_add(descs, sd);
        }
        /* n <= num, and num * size is the C array: no overflow. */
        if (!save_vmsd(r->s, f->vmsd, r->base + (size_t)i * f->size, sd,
                       errp)) {
            return fail_elem(r, array, i, errp);
        }
        if (sizes) {
            sizes[i] = vdc_migration_stream_offset(r->s) - start;
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
            f->name, n > 1 ? "array_len" : NULL, n, r->info->type,
            json_object_get(descs->pdata[0]), sizes[0]));
        return true;
    }
    for (i = 0; i < n; i++) {
        json_object_array_add(fields, desc_entry(
            f->name, "index", i, r->info->type,
            json_object_get(descs->pdata[i]), sizes[i]));
    }
    return true;
}

static bool load_struct_elems(const VdcVMStateRow *r, uint32_t n, bool array,
                              GError **errp)
{
    const VdcVMStateField *f = r->f;
    uint32_t i;

    for (i = 0; i < n; i++) {
        /* n <= num (checked by the caller): inside the C array. */
        if (!load_vmsd(r->s, f->vmsd, r->base + (size_t)i * f->size,
                       f->vmsd->version_id, false, errp)) {
            return fail_elem(r, array, i, errp);
        }
    }
    return true;
}

static bool check_struct(const VdcVMStateInfo *info,
                         const VdcVMStateDescription *vmsd,
                         const VdcVMStateField *f, unsigned depth)
{
    return f->vmsd && f->num >= 1 && f->size > 0 &&
           vmsd_check(f->vmsd, depth + 1);
}

static bool save_struct(const VdcVMStateRow *r, json_object *fields,
                        GError **errp)
{
    return save_struct_elems(r, r->f->num, r->f->num > 1, fields, errp);
}

static bool load_struct(const VdcVMStateRow *r, int version_id, GError **errp)
{
    return load_struct_elems(r, r->f->num, r->f->num > 1, errp);
}

static bool check_varray(const VdcVMStateInfo *info,
                         const VdcVMStateDescription *vmsd,
                         const VdcVMStateField *f, unsigned depth)
{
    return f->vmsd && f->num == f->max && f->size > 0 &&
           count_row_before(vmsd, f) && vmsd_check(f->vmsd, depth + 1);
}

static bool save_varray(const VdcVMStateRow *r, json_object *fields,
                        GError **errp)
{
    uint32_t n = get_count(r->opaque, r->f);

    if (n > r->f->max) {
        return above_max(r, "count", n, errp);
    }
    return save_struct_elems(r, n, true, fields, errp);
}

static bool load_varray(const VdcVMStateRow *r, int version_id, GError **errp)
{
    uint32_t n = get_count(r->opaque, r->f);

    if (n > r->f->max) {
        return above_max(r, "count", n, errp);
    }
    return load_struct_elems(r, n, true, errp);
}

/* Every element up to the maximum: a failed load may have stopped anywhere. */
static void free_structs(const VdcVMStateField *f, void *opaque)
{
    uint8_t *base = (uint8_t *)opaque + f->offset;
    uint32_t i;

    for (i = 0; i < f->num; i++) {
        free_buffers(f->vmsd, base + (size_t)i * f->size);
    }
}

/* -- VALIDATE: a check at this point of the load, no bytes -- */

static bool check_validate(const VdcVMStateInfo *info,
                           const VdcVMStateDescription *vmsd,
                           const VdcVMStateField *f, unsigned depth)
{
    return f->validate != NULL;
}

static bool save_nothing(const VdcVMStateRow *r, json_object *fields,
                         GError **errp)
{
    return true;
}

static bool load_validate(const VdcVMStateRow *r, int version_id, GError **errp)
{
    GError *local = NULL;

    if (!r->f->validate(r->opaque, version_id, &local)) {
        hook_error(errp, local, "%s: field '%s' at offset %" PRIu64,
                   r->vmsd->name, r->f->name, r->start);
        return false;
    }
    return true;
}

#define VDC_VMSTATE_INFO_SCALAR(_type, _ctype, _wire, _put, _get) {           \
    .type = (_type), .wire_size = (_wire), .c_size = sizeof(_ctype),     \
    .put = (_put), .get = (_get), .check = check_scalar,                 \
    .save = save_scalar, .load = load_scalar,                            \
}

/* Every kind but the VDC_VMS_KIND_END marker; a kind missing here is a bad row. */
static const VdcVMStateInfo vmstate_infos[VDC_VMS_KIND_END] = {
    [VDC_VMS_KIND_BOOL] = VDC_VMSTATE_INFO_SCALAR("bool", bool, 1, put_bool, get_bool),
    [VDC_VMS_KIND_UINT8] = VDC_VMSTATE_INFO_SCALAR("uint8", uint8_t, 1, put_u8, get_u8),
    [VDC_VMS_KIND_UINT16] = VDC_VMSTATE_INFO_SCALAR("uint16", uint16_t, 2,
                                                    put_be16, get_be16),
    [VDC_VMS_KIND_UINT32] = VDC_VMSTATE_INFO_SCALAR("uint32", uint32_t, 4,
                                                    put_be32, get_be32),
    [VDC_VMS_KIND_UINT64] = VDC_VMSTATE_INFO_SCALAR("uint64", uint64_t, 8,
                                                    put_be64, get_be64),
    [VDC_VMS_KIND_INT32] = VDC_VMSTATE_INFO_SCALAR("int32", int32_t, 4,
                                                   put_be32, get_be32),
    [VDC_VMS_KIND_BUFFER] = {
        .type = "buffer", .check = check_buffer,
        .save = save_buffer, .load = load_buffer,
    },
    [VDC_VMS_KIND_VBUFFER] = {
        .type = "buffer", .check = check_vbuffer,
        .save = save_vbuffer, .load = load_vbuffer, .free = free_vbuffer,
    },
    [VDC_VMS_KIND_STRUCT] = {
        .type = "struct", .check = check_struct,
        .save = save_struct, .load = load_struct, .free = free_structs,
    },
    [VDC_VMS_KIND_STRUCT_VARRAY] = {
        .type = "struct", .check = check_varray,
        .save = save_varray, .load = load_varray, .free = free_structs,
    },
    [VDC_VMS_KIND_VALIDATE] = {
        .check = check_validate, .save = save_nothing, .load = load_validate,
    },
};

/* @k's entry, or NULL for the END marker and values outside the enum. */
static const VdcVMStateInfo *info_of(VdcVMStateKind k)
{
    if ((unsigned)k >= G_N_ELEMENTS(vmstate_infos) ||
        !vmstate_infos[k].check) {
        return NULL;
    }
    return &vmstate_infos[k];
}

/*
 * @f of @vmsd at work on @s and @opaque, starting at the stream's current
 * offset.  Only for rows that passed vmsd_check() (their kind is known).
 */
static VdcVMStateRow row_at(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                            const VdcVMStateField *f, void *opaque)
{
    VdcVMStateRow r = {
        .info = info_of(f->kind), .s = s, .vmsd = vmsd, .f = f,
        .opaque = opaque, .base = (uint8_t *)opaque + f->offset,
        .start = vdc_migration_stream_offset(s),
    };

    g_assert(r.info != NULL);
    return r;
}

/* ---- table checks, continued ----------------------------------------- */

static bool field_check(const VdcVMStateDescription *vmsd, const VdcVMStateField *f,
                        unsigned depth)
{
    const VdcVMStateInfo *info = info_of(f->kind);

    return f->name && info && info->check(info, vmsd, f, depth);
}

/*
 * A description the engine can walk: named rows of known kinds, counts in
 * earlier uint32 rows, sane versions, subsections named "<name>/...".
 * Logs what is wrong (g_critical: a programming error) and returns false.
 */
static bool vmsd_check(const VdcVMStateDescription *vmsd, unsigned depth)
{
    const VdcVMStateDescription *const *sub;
    const VdcVMStateField *f;
    size_t nlen;

    if (depth > VMSD_MAX_DEPTH || !vmsd->name || !vmsd->fields ||
        vmsd->minimum_version_id < 0 ||
        vmsd->minimum_version_id > vmsd->version_id) {
        g_critical("vmstate: bad description '%s'",
                   vmsd->name ? vmsd->name : "(null)");
        return false;
    }
    nlen = strlen(vmsd->name);
    for (f = vmsd->fields; f->kind != VDC_VMS_KIND_END; f++) {
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


/* ---- saving ---------------------------------------------------------- */

static bool save_field(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                       const VdcVMStateField *f, void *opaque,
                       json_object *fields, GError **errp)
{
    VdcVMStateRow r = row_at(s, vmsd, f, opaque);

    return r.info->save(&r, fields, errp);
}

/* Every needed subsection: 0x05, counted name, be32 version, contents. */
static bool save_subsections(VdcMigrationStream *s,
                             const VdcVMStateDescription *vmsd, void *opaque,
                             json_object *desc, GError **errp)
{
    const VdcVMStateDescription *const *sub;
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
        vdc_migration_put_u8(s, VDC_VMSTATE_SUBSECTION);
        vdc_migration_put_u8(s, (uint8_t)len);
        vdc_migration_put_bytes(s, (*sub)->name, len);
        vdc_migration_put_be32(s, (uint32_t)(*sub)->version_id);
        if (!save_vmsd(s, *sub, opaque, sd, errp)) {
            return false;
        }
    }
    return true;
}

/* pre_save, fields, subsections, post_save (whenever pre_save passed). */
static bool save_vmsd(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                      void *opaque, json_object *desc, GError **errp)
{
    const VdcVMStateField *f;
    json_object *fields = NULL;
    bool ok = true;

    if (vmsd->pre_save) {
        GError *local = NULL;

        if (!vmsd->pre_save(opaque, &local)) {
            hook_error(errp, local, "%s: pre_save at offset %" PRIu64,
                       vmsd->name, vdc_migration_stream_offset(s));
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
    for (f = vmsd->fields; ok && f->kind != VDC_VMS_KIND_END; f++) {
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
 * Write @opaque; see vdc-vmstate.h.  A sink error is reported here only when
 * the sink has already failed (an fd sink may fail later, at flush).
 */
bool vdc_vmstate_save(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
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
    se = vdc_migration_stream_error(s);
    if (se) {
        g_set_error(errp, VDC_VMSTATE_ERROR, se->code, "%s: at offset %" PRIu64
                    ": %s", vmsd->name, vdc_migration_stream_offset(s),
                    se->message);
        return false;
    }
    return true;
}

/* ---- loading --------------------------------------------------------- */

static bool load_field(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                       const VdcVMStateField *f, void *opaque, int version_id,
                       GError **errp)
{
    VdcVMStateRow r = row_at(s, vmsd, f, opaque);

    return r.info->load(&r, version_id, errp);
}

static const VdcVMStateDescription *find_subsection(
    const VdcVMStateDescription *vmsd, const uint8_t *name, size_t len,
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
static bool subsection_follows(VdcMigrationStream *s,
                               const VdcVMStateDescription *vmsd)
{
    uint8_t buf[VDC_MIGRATION_PEEK_MAX];
    size_t plen = strlen(vmsd->name) + 1;

    if (2 + plen > sizeof(buf)) {
        return false;   /* no subsection name (<= 255) can be this long */
    }
    if (!vdc_migration_peek_bytes(s, buf, 2) || buf[0] != VDC_VMSTATE_SUBSECTION ||
        buf[1] <= plen) {
        return false;
    }
    return vdc_migration_peek_bytes(s, buf, 2 + plen) &&
           memcmp(buf + 2, vmsd->name, plen - 1) == 0 &&
           buf[2 + plen - 1] == '/';
}

/*
 * The subsections after @vmsd's fields.  @strict (the top level of a
 * section, where only a subsection or the section footer can follow):
 * every 0x05 starts a subsection, which must be one of @vmsd's.
 * Otherwise the parent's next field follows: see subsection_follows().
 */
static bool load_subsections(VdcMigrationStream *s,
                             const VdcVMStateDescription *vmsd, void *opaque,
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
        const VdcVMStateDescription *sub;
        uint64_t start = vdc_migration_stream_offset(s);
        g_autofree char *name = NULL;
        uint8_t raw[255];
        uint8_t marker, len;
        uint32_t version;
        size_t index = 0;

        if (strict) {
            if (!vdc_migration_peek_u8(s, &marker)) {
                if (vdc_migration_stream_error(s)) {
                    goto read_err;
                }
                return true;            /* end of stream: the caller sees */
            }
            if (marker != VDC_VMSTATE_SUBSECTION) {
                return true;
            }
        } else if (!subsection_follows(s, vmsd)) {
            return true;
        }

        if (!vdc_migration_get_u8(s, &marker) || !vdc_migration_get_u8(s, &len) ||
            !vdc_migration_get_bytes(s, raw, len)) {
            goto read_err;
        }
        name = vdc_migration_printable(raw, len);
        sub = find_subsection(vmsd, raw, len, &index);
        if (!sub) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_UNKNOWN,
                        "unknown subsection '%s' in '%s' at offset %" PRIu64,
                        name, vmsd->name, start);
            return false;
        }
        if (seen[index]) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "subsection '%s' in '%s' at offset %" PRIu64
                        ": appears twice", name, vmsd->name, start);
            return false;
        }
        seen[index] = true;
        if (!vdc_migration_get_be32(s, &version)) {
            goto read_err;
        }
        if (version > (uint32_t)sub->version_id ||
            version < (uint32_t)sub->minimum_version_id) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_VERSION,
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
            const GError *se = vdc_migration_stream_error(s);

            g_set_error(errp, VDC_VMSTATE_ERROR,
                        se ? se->code : VDC_VMSTATE_ERROR_TRUNCATED,
                        "%s: subsection at offset %" PRIu64 ": %s",
                        vmsd->name, start,
                        se ? se->message : "stream truncated");
            return false;
        }
    }
}

/* Version check, pre_load, fields, subsections, post_load. */
static bool load_vmsd(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                      void *opaque, int version_id, bool strict,
                      GError **errp)
{
    const VdcVMStateField *f;

    if (version_id > vmsd->version_id ||
        version_id < vmsd->minimum_version_id) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_VERSION,
                    "%s: unsupported version %d (supported %d..%d)",
                    vmsd->name, version_id, vmsd->minimum_version_id,
                    vmsd->version_id);
        return false;
    }
    if (vmsd->pre_load) {
        GError *local = NULL;

        if (!vmsd->pre_load(opaque, &local)) {
            hook_error(errp, local, "%s: pre_load at offset %" PRIu64,
                       vmsd->name, vdc_migration_stream_offset(s));
            return false;
        }
    }
    for (f = vmsd->fields; f->kind != VDC_VMS_KIND_END; f++) {
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
                       vmsd->name, vdc_migration_stream_offset(s));
            return false;
        }
    }
    return true;
}

/*
 * Read @opaque; see vdc-vmstate.h.  After the fields, every 0x05 must start
 * one of @vmsd's subsections (at a section's top level only a subsection
 * or the footer can follow); nested structs' subsections are recognised
 * by their name prefix, as QEMU does.  The end of the stream right after
 * the fields or a subsection is not an error here (the caller reads what
 * comes next).
 */
bool vdc_vmstate_load(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
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
static bool vmsd_usable(const VdcVMStateDescription *vmsd, GError **errp)
{
    if (!vmsd_check(vmsd, 0)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "vmstate: malformed description '%s'",
                    vmsd->name ? vmsd->name : "(null)");
        return false;
    }
    return true;
}

static void free_buffers(const VdcVMStateDescription *vmsd, void *opaque)
{
    const VdcVMStateDescription *const *sub;
    const VdcVMStateField *f;

    for (f = vmsd->fields; f->kind != VDC_VMS_KIND_END; f++) {
        const VdcVMStateInfo *info = info_of(f->kind);

        if (info->free) {
            info->free(f, opaque);
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
void vdc_vmstate_free_buffers(const VdcVMStateDescription *vmsd, void *opaque)
{
    g_return_if_fail(vmsd != NULL);
    if (!opaque || !vmsd_check(vmsd, 0)) {
        return;
    }
    free_buffers(vmsd, opaque);
}

