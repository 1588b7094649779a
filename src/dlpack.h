/* dlpack.h -- the DLPack exchange structs tapegrad reads and writes.
 *
 * Written from the public DLPack 1.0 specification (dmlc/dlpack's
 * dlpack.h and the array API standard's __dlpack__ page), keeping the
 * spec's names so the fields can be looked up there.  Only what tapegrad
 * uses: the CPU device, the integer/float/bool type codes, the legacy
 * DLManagedTensor (capsule "dltensor") and the versioned
 * DLManagedTensorVersioned (capsule "dltensor_versioned") with its flags.
 *
 * The layouts are an ABI shared with every other DLPack library: field
 * order and types must stay exactly as the spec has them.
 */
#ifndef TAPEGRAD_DLPACK_H
#define TAPEGRAD_DLPACK_H

#include <stdint.h>

/* the version tapegrad produces (and the newest major it reads) */
#define TG_DLPACK_MAJOR 1
#define TG_DLPACK_MINOR 0

typedef struct {
    uint32_t major;
    uint32_t minor;
} DLPackVersion;

/* DLDeviceType: tapegrad lives on kDLCPU; the others are named only for
 * error messages */
enum {
    kDLCPU = 1,
    kDLCUDA = 2,
    kDLCUDAHost = 3,
    kDLOpenCL = 4,
    kDLVulkan = 7,
    kDLMetal = 8,
    kDLVPI = 9,
    kDLROCM = 10,
    kDLROCMHost = 11,
    kDLExtDev = 12,
    kDLCUDAManaged = 13,
    kDLOneAPI = 14,
    kDLWebGPU = 15,
    kDLHexagon = 16,
    kDLMAIA = 17
};

typedef struct {
    int32_t device_type;       /* a DLDeviceType (a C enum: int-sized) */
    int32_t device_id;
} DLDevice;

/* DLDataTypeCode */
enum {
    kDLInt = 0,
    kDLUInt = 1,
    kDLFloat = 2,
    kDLOpaqueHandle = 3,
    kDLBfloat = 4,
    kDLComplex = 5,
    kDLBool = 6
};

typedef struct {
    uint8_t code;              /* a DLDataTypeCode */
    uint8_t bits;              /* per lane: 8, 16, 32, 64 */
    uint16_t lanes;            /* 1 for scalars (tapegrad has no vectors) */
} DLDataType;

typedef struct {
    void *data;                /* start of the allocation; see byte_offset */
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;            /* ndim entries */
    int64_t *strides;          /* ndim entries, in elements; NULL means
                                  C-contiguous (legacy consumers only) */
    uint64_t byte_offset;      /* first element at data + byte_offset */
} DLTensor;

/* legacy (DLPack < 0.8 ABI): capsule "dltensor", "used_dltensor" once a
 * consumer has taken it */
typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

/* DLManagedTensorVersioned.flags */
#define DLPACK_FLAG_BITMASK_READ_ONLY (UINT64_C(1) << 0)
#define DLPACK_FLAG_BITMASK_IS_COPIED (UINT64_C(1) << 1)

/* DLPack >= 1.0: capsule "dltensor_versioned", then
 * "used_dltensor_versioned".  Everything up to `flags` stays put in
 * future versions, so a consumer can always reach the deleter. */
typedef struct DLManagedTensorVersioned {
    DLPackVersion version;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensorVersioned *self);
    uint64_t flags;
    DLTensor dl_tensor;
} DLManagedTensorVersioned;

#endif /* TAPEGRAD_DLPACK_H */
