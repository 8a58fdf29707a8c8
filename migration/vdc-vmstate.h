/*
 * vdc-vmstate.h: a table-driven state serializer in QEMU's vmstate style.
 *
 * A VdcVMStateDescription lists the fields of a C struct (VMSTATE_* rows
 * ending in VDC_VMSTATE_END_OF_LIST()) plus optional subsections, each written
 * only when its needed() says so.  Save and load walk the same table, so
 * they cannot drift apart.  Every offset in a row is type-checked at
 * compile time against the field's declared C type.
 *
 * Encoding (QEMU's savevm format, so QEMU's tools can read the stream):
 * integers big-endian; bool one byte 0/1; fixed arrays as consecutive
 * elements; buffers raw, their length in another field; nested structs
 * inline, then their subsections; a subsection is 0x05, a counted name
 * ("parent/child"), be32 version, its fields.
 *
 * Loading is for untrusted input: every count and length read from the
 * stream is bounded by the row's maximum before anything is allocated or
 * indexed; errors name the description, the field and the byte offset.
 * A failed load may leave the struct partly written: the caller resets it
 * (the vdagent section loads into a scratch state and commits on success).
 * Errors are in the engine's VDC_VMSTATE_ERROR domain (vdc-stream.h).
 */
#ifndef VDC_VMSTATE_H
#define VDC_VMSTATE_H

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migration/vdc-stream.h"

typedef struct VdcVMStateDescription VdcVMStateDescription;
typedef struct VdcVMStateField VdcVMStateField;

typedef enum VdcVMStateKind {
    VDC_VMS_KIND_BOOL,
    VDC_VMS_KIND_UINT8,
    VDC_VMS_KIND_UINT16,
    VDC_VMS_KIND_UINT32,
    VDC_VMS_KIND_UINT64,
    VDC_VMS_KIND_INT32,
    VDC_VMS_KIND_BUFFER,        /* fixed-size byte array inside the struct */
    VDC_VMS_KIND_VBUFFER,       /* uint8_t * whose length is another field */
    VDC_VMS_KIND_STRUCT,        /* nested struct (or fixed array of them) */
    VDC_VMS_KIND_STRUCT_VARRAY, /* array of structs whose count is a field */
    VDC_VMS_KIND_VALIDATE,      /* a check, no bytes */
    VDC_VMS_KIND_END,
} VdcVMStateKind;

struct VdcVMStateField {
    const char *name;
    VdcVMStateKind kind;
    size_t offset;
    size_t size;                    /* one element (BUFFER: all bytes) */
    uint32_t num;                   /* fixed elements (arrays), else 1 */
    size_t count_offset;            /* VBUFFER length / VARRAY count:
                                       a uint32_t field of the same struct,
                                       saved and loaded before this row */
    uint32_t max;                   /* VBUFFER / VARRAY bound on load */
    int version_id;                 /* exists from this version on */
    const VdcVMStateDescription *vmsd; /* STRUCT, STRUCT_VARRAY */
    bool (*validate)(void *opaque, int version_id, GError **errp);
};

struct VdcVMStateDescription {
    const char *name;
    int version_id;
    int minimum_version_id;
    /* Hooks, all optional.  Errors through GError; return false on error. */
    bool (*pre_save)(void *opaque, GError **errp);
    void (*post_save)(void *opaque);
    bool (*pre_load)(void *opaque, GError **errp);
    bool (*post_load)(void *opaque, int version_id, GError **errp);
    /*
     * Top-level sections only, optional: vdc_migration_load() failed as a
     * whole after this section's load began (perhaps after its post_load
     * committed): go back to a fresh state.
     */
    void (*load_failed)(void *opaque);
    /* Subsections only: is it written?  NULL means always. */
    bool (*needed)(void *opaque);
    const VdcVMStateField *fields;                     /* ends with END */
    const VdcVMStateDescription *const *subsections;   /* NULL-terminated */
};

/* ---- compile-time type checks ---- */

#define vdc_vmstate_typeof_field(type, field) typeof(((type *)0)->field)
/* 0, or a compile error when @t1 and @t2 are different types. */
#define vdc_vmstate_type_check(t1, t2) \
    (sizeof(char[1 - 2 * !__builtin_types_compatible_p(t1, t2)]) - 1)
#define vdc_vmstate_offset_value(type, field, ftype) \
    (offsetof(type, field) + vdc_vmstate_type_check(ftype, vdc_vmstate_typeof_field(type, field)))
#define vdc_vmstate_offset_array(type, field, ftype, n) \
    (offsetof(type, field) + vdc_vmstate_type_check(ftype[n], vdc_vmstate_typeof_field(type, field)))
#define vdc_vmstate_offset_pointer(type, field, ftype) \
    (offsetof(type, field) + vdc_vmstate_type_check(ftype *, vdc_vmstate_typeof_field(type, field)))

/* ---- rows ---- */

#define VDC_VMSTATE_SCALAR_V(_f, _s, _v, _kind, _ctype) {                    \
    .name = #_f, .kind = _kind, .version_id = (_v), .num = 1,            \
    .size = sizeof(_ctype),                                              \
    .offset = vdc_vmstate_offset_value(_s, _f, _ctype),                      \
}
#define VDC_VMSTATE_BOOL_V(f, s, v)   VDC_VMSTATE_SCALAR_V(f, s, v, VDC_VMS_KIND_BOOL, bool)
#define VDC_VMSTATE_UINT8_V(f, s, v)  VDC_VMSTATE_SCALAR_V(f, s, v, VDC_VMS_KIND_UINT8, uint8_t)
#define VDC_VMSTATE_UINT16_V(f, s, v) VDC_VMSTATE_SCALAR_V(f, s, v, VDC_VMS_KIND_UINT16, uint16_t)
#define VDC_VMSTATE_UINT32_V(f, s, v) VDC_VMSTATE_SCALAR_V(f, s, v, VDC_VMS_KIND_UINT32, uint32_t)
#define VDC_VMSTATE_UINT64_V(f, s, v) VDC_VMSTATE_SCALAR_V(f, s, v, VDC_VMS_KIND_UINT64, uint64_t)
#define VDC_VMSTATE_INT32_V(f, s, v)  VDC_VMSTATE_SCALAR_V(f, s, v, VDC_VMS_KIND_INT32, int32_t)
#define VDC_VMSTATE_BOOL(f, s)   VDC_VMSTATE_BOOL_V(f, s, 0)
#define VDC_VMSTATE_UINT8(f, s)  VDC_VMSTATE_UINT8_V(f, s, 0)
#define VDC_VMSTATE_UINT16(f, s) VDC_VMSTATE_UINT16_V(f, s, 0)
#define VDC_VMSTATE_UINT32(f, s) VDC_VMSTATE_UINT32_V(f, s, 0)
#define VDC_VMSTATE_UINT64(f, s) VDC_VMSTATE_UINT64_V(f, s, 0)
#define VDC_VMSTATE_INT32(f, s)  VDC_VMSTATE_INT32_V(f, s, 0)

/* A fixed array of @n scalars. */
#define VDC_VMSTATE_ARRAY_V(_f, _s, _n, _v, _kind, _ctype) {                 \
    .name = #_f, .kind = _kind, .version_id = (_v), .num = (_n),         \
    .size = sizeof(_ctype),                                              \
    .offset = vdc_vmstate_offset_array(_s, _f, _ctype, _n),                  \
}
#define VDC_VMSTATE_BOOL_ARRAY(f, s, n)   VDC_VMSTATE_ARRAY_V(f, s, n, 0, VDC_VMS_KIND_BOOL, bool)
#define VDC_VMSTATE_UINT8_ARRAY(f, s, n)  VDC_VMSTATE_ARRAY_V(f, s, n, 0, VDC_VMS_KIND_UINT8, uint8_t)
#define VDC_VMSTATE_UINT32_ARRAY(f, s, n) VDC_VMSTATE_ARRAY_V(f, s, n, 0, VDC_VMS_KIND_UINT32, uint32_t)
#define VDC_VMSTATE_UINT64_ARRAY(f, s, n) VDC_VMSTATE_ARRAY_V(f, s, n, 0, VDC_VMS_KIND_UINT64, uint64_t)

/* A fixed byte array of @n bytes (uint8_t field[n]). */
#define VDC_VMSTATE_BUFFER(_f, _s, _n) {                                      \
    .name = #_f, .kind = VDC_VMS_KIND_BUFFER, .num = 1, .size = (_n),        \
    .offset = vdc_vmstate_offset_array(_s, _f, uint8_t, _n),                 \
}

/*
 * uint8_t *@_f holding @_len bytes, @_len a uint32_t field of the same
 * struct that comes earlier in the table.  On load, a length above @_max
 * fails; the buffer is (re)allocated with g_malloc (NULL for 0 bytes);
 * the struct owns it.
 */
#define VDC_VMSTATE_VBUFFER_UINT32(_f, _s, _len, _max) {                     \
    .name = #_f, .kind = VDC_VMS_KIND_VBUFFER, .num = 1, .size = 1,          \
    .offset = vdc_vmstate_offset_pointer(_s, _f, uint8_t),                   \
    .count_offset = vdc_vmstate_offset_value(_s, _len, uint32_t),            \
    .max = (_max),                                                       \
}

/* A nested struct of C type @_t described by @_vmsd. */
#define VDC_VMSTATE_STRUCT(_f, _s, _vmsd, _t) {                               \
    .name = #_f, .kind = VDC_VMS_KIND_STRUCT, .num = 1, .size = sizeof(_t),  \
    .vmsd = &(_vmsd), .offset = vdc_vmstate_offset_value(_s, _f, _t),        \
}
/* A fixed array of @_n structs. */
#define VDC_VMSTATE_STRUCT_ARRAY(_f, _s, _n, _vmsd, _t) {                     \
    .name = #_f, .kind = VDC_VMS_KIND_STRUCT, .num = (_n), .size = sizeof(_t),\
    .vmsd = &(_vmsd), .offset = vdc_vmstate_offset_array(_s, _f, _t, _n),    \
}
/*
 * An array _t @_f[@_max] of which the first @_count (a uint32_t field,
 * earlier in the table) elements travel.  A count above @_max fails.
 */
#define VDC_VMSTATE_STRUCT_VARRAY_UINT32(_f, _s, _count, _max, _vmsd, _t) {   \
    .name = #_f, .kind = VDC_VMS_KIND_STRUCT_VARRAY, .size = sizeof(_t),     \
    .num = (_max), .max = (_max), .vmsd = &(_vmsd),                      \
    .offset = vdc_vmstate_offset_array(_s, _f, _t, _max),                    \
    .count_offset = vdc_vmstate_offset_value(_s, _count, uint32_t),          \
}

/* Run @_fn(opaque, version_id, errp) at this point of the load. */
#define VDC_VMSTATE_VALIDATE(_name, _fn) {                                    \
    .name = (_name), .kind = VDC_VMS_KIND_VALIDATE, .validate = (_fn),       \
}

#define VDC_VMSTATE_END_OF_LIST() { .kind = VDC_VMS_KIND_END }

/* ---- save and load ---- */

/*
 * Write @opaque as described by @vmsd (version vmsd->version_id): fields,
 * then each needed subsection.  When @desc (a JSON object) is non-NULL it
 * receives the QEMU vmdesc description of what was written: the keys
 * "vmsd_name", "version", "fields" and, when one was written,
 * "subsections" (the caller adds "name" and "instance_id" first, so the
 * keys come in QEMU's order).  Errors come from pre_save, a VBUFFER
 * length or STRUCT_VARRAY count above its maximum (never written), or a
 * sink that has already failed (an fd sink may fail at flush instead).
 * post_save runs whenever pre_save succeeded.
 */
bool vdc_vmstate_save(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                      void *opaque, json_object *desc, GError **errp);

/*
 * Read @opaque as described by @vmsd, from a stream written at
 * @version_id (checked against vmsd's version and minimum).  Then the
 * subsections present (each must be one of vmsd's, version within its
 * bounds), then post_load.
 */
bool vdc_vmstate_load(VdcMigrationStream *s, const VdcVMStateDescription *vmsd,
                      void *opaque, int version_id, GError **errp);

/* Free what load allocated for @vmsd's VBUFFER rows (and nested ones). */
void vdc_vmstate_free_buffers(const VdcVMStateDescription *vmsd, void *opaque);

#endif /* VDC_VMSTATE_H */
