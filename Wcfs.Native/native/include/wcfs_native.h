/* wcfs_native.h - the C ABI of wcfs-actors' native library.
 *
 * Rules of this boundary (STYLE.md "Native boundary"):
 *  - a prefix per subsystem (wcfs_, vm_, mmapa_, wcl_ (WCFS client), wfuse_), opaque handles, fixed-width types;
 *  - every function returns 0 or a negative errno-style code; nothing unwinds across the boundary;
 *  - nothing here ever calls into managed code on the data plane (ARCHITECTURE.md fact 1).
 * Struct layouts and constants shared with C# are checked by a compiled static_assert test.
 */
#ifndef WCFS_NATIVE_H
#define WCFS_NATIVE_H

#include <stdint.h>

#define WCFS_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header; C# checks it at load time. Bumped on every incompatible change. */
#define WCFS_ABI_VERSION 2

/* Returns WCFS_ABI_VERSION. Any thread; never blocks. */
WCFS_API int32_t wcfs_abi_version(void);

#ifdef __cplusplus
}
#endif
#endif
