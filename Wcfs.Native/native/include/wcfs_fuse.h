/* wcfs_fuse.h - the C shim between the WCFS server (C#) and libfuse3's low-level API.
 * (Filled by the server subsystem; see Wcfs.Host/Server/.)
 */
#ifndef WCFS_FUSE_H
#define WCFS_FUSE_H
#include <stdint.h>
#define WFUSE_API __attribute__((visibility("default")))

/* Returns the libfuse version the shim was built against (e.g. 314 for 3.14). Never blocks. */
WFUSE_API int32_t wfuse_lib_version(void);
#endif
