/* wcfs_fuse.h - the C shim between the WCFS server (C#) and libfuse3's low-level API.
 *
 * Owns: the fuse_session (mount, multithreaded loop, unmount), everything that touches
 * struct fuse_file_info (a bitfield struct whose layout changed across libfuse versions and whose
 * pointer dies when a callback returns), and the reply/notify calls. The filesystem itself (inodes,
 * data, the watch-link protocol) lives in C# (Wcfs.Host/Server/).
 *
 * Organization:
 *   - C# passes a wfuse_ops table of plain C function pointers ([UnmanagedCallersOnly] on its
 *     side). The shim calls them from libfuse worker threads with the arguments copied into plain
 *     values; pointers passed to a callback (name, data) are valid only during that callback.
 *   - Every request is identified by an opaque uint64 handle (the fuse_req_t). C# answers it
 *     exactly once with one wfuse_reply_* call, from any thread, during or after the callback.
 *   - Notifications (wfuse_notify_*) may block on kernel page locks (ARCHITECTURE.md fact 5):
 *     the server calls them from one dedicated thread only, never from a request callback.
 *
 * Invariants:
 *   (1) Init turns FUSE_CAP_EXPLICIT_INVAL_DATA on and FUSE_CAP_AUTO_INVAL_DATA off, and asks for
 *       1 MiB requests (max_write, max_readahead); the kernel cache is then controlled only by
 *       wfuse_notify_inval_inode.
 *   (2) No libfuse signal handlers are installed (.NET owns SIGINT/SIGTERM).
 *   (3) Read and write requests get an interrupt hook before C# sees them, so that a request that
 *       waits for an event (a watch-link read) can be answered with EINTR when its caller is
 *       killed; otherwise such a caller would hang in uninterruptible sleep.
 *
 * Every function returns 0 (or a non-negative count) or a negative errno. Nothing here calls into
 * managed code except through the wfuse_ops callbacks.
 */
#ifndef WCFS_FUSE_H
#define WCFS_FUSE_H
#include <stdint.h>
#define WFUSE_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the libfuse version the shim was built against (e.g. 314 for 3.14). Never blocks. */
WFUSE_API int32_t wfuse_lib_version(void);

/* File attributes as C# reports them (shared layout, checked by tests/abi_layout.c + NativeAbiTests against the C#
 * WfuseAttr struct). Units: bytes for size/blksize; mode is st_mode (type | permissions). */
typedef struct wfuse_attr {
    uint64_t ino;
    uint64_t size;
    uint32_t mode;
    uint32_t nlink;
    uint32_t blksize;
    uint32_t reserved;
    int64_t  mtime_sec;
    int64_t  mtime_nsec;
} wfuse_attr;
#define WFUSE_ATTR_SIZE 48

/* Open flags of wfuse_reply_open (become FOPEN_* bits). */
#define WFUSE_OPEN_KEEP_CACHE  1u
#define WFUSE_OPEN_DIRECT_IO   2u
#define WFUSE_OPEN_NONSEEKABLE 4u
#define WFUSE_OPEN_STREAM      8u   /* FOPEN_STREAM: no f_pos lock, read and write may run at once */

/* Callbacks from libfuse worker threads into the server. They must not block for long (hand off
 * and return); each request is answered later with exactly one wfuse_reply_*.
 * pid is the calling *thread* id (fuse_req_ctx); `interrupted` is 1 if the kernel already asked to
 * interrupt the request before the callback ran. */
typedef struct wfuse_ops {
    void (*lookup)(uint64_t req, uint64_t parent, const char *name);
    void (*getattr)(uint64_t req, uint64_t ino);
    void (*open)(uint64_t req, uint64_t ino, int32_t flags, int32_t pid);
    void (*read)(uint64_t req, uint64_t ino, uint64_t fh, int64_t off, uint64_t size, int32_t interrupted);
    void (*write)(uint64_t req, uint64_t ino, uint64_t fh, int64_t off, const uint8_t *data, uint64_t size, int32_t interrupted);
    void (*release)(uint64_t req, uint64_t ino, uint64_t fh);
    void (*opendir)(uint64_t req, uint64_t ino);
    void (*readdir)(uint64_t req, uint64_t ino, int64_t off, uint64_t size);
    /* The kernel interrupts request `req` (its caller got a signal). Called on a libfuse thread
     * while `req` is still valid; the server may answer `req` now (EINTR) or ignore this. */
    void (*interrupt)(uint64_t req);
} wfuse_ops;
#define WFUSE_OPS_SIZE (9 * 8)

typedef struct wfuse_session wfuse_session;

/* Creates a session and mounts it at `mountpoint`. `options` is a comma-separated -o list (may be
 * NULL or empty), e.g. "fsname=wcfs:...,subtype=wcfs,allow_other". `ops` is copied.
 * Returns 0 and *out, or a negative errno (-ENOTCONN etc. from mount). Any thread. */
WFUSE_API int32_t wfuse_mount(const char *mountpoint, const char *options, const wfuse_ops *ops, wfuse_session **out);

/* Runs the multithreaded request loop until unmount or wfuse_exit. Blocks the calling thread.
 * Returns 0 after a clean exit, else a negative errno. */
WFUSE_API int32_t wfuse_loop(wfuse_session *s, uint32_t max_idle_threads);

/* Asks the loop to stop and detaches the mount (the loop then returns). Any thread; idempotent. */
WFUSE_API int32_t wfuse_exit(wfuse_session *s);

/* Frees the session after wfuse_loop returned (also unmounts if still mounted). */
WFUSE_API void wfuse_destroy(wfuse_session *s);

/* Replies. Each answers req exactly once; req is invalid afterwards. Any thread. */
WFUSE_API int32_t wfuse_reply_err(uint64_t req, int32_t err);            /* err > 0 (errno) */
WFUSE_API int32_t wfuse_reply_entry(uint64_t req, const wfuse_attr *attr, double attr_timeout, double entry_timeout);
WFUSE_API int32_t wfuse_reply_attr(uint64_t req, const wfuse_attr *attr, double attr_timeout);
WFUSE_API int32_t wfuse_reply_open(uint64_t req, uint64_t fh, uint32_t open_flags);
WFUSE_API int32_t wfuse_reply_buf(uint64_t req, const uint8_t *data, uint64_t size);
WFUSE_API int32_t wfuse_reply_write(uint64_t req, uint64_t count);
/* Replies to readdir with entries [off, count) of the listing: names is `count` NUL-terminated
 * strings back to back, inos/modes are parallel arrays. The offset of entry i is i+1. */
WFUSE_API int32_t wfuse_reply_dir(uint64_t req, uint64_t size, int64_t off, const char *names,
                                  const uint64_t *inos, const uint32_t *modes, uint32_t count);

/* Invalidates the kernel page cache of ino in [off, off+len) (len 0 = to the end); off < 0
 * invalidates only the attributes. May block on kernel page locks: call from the one notify
 * thread, never from a request callback (ARCHITECTURE.md fact 5). -ENOENT: kernel has no inode. */
WFUSE_API int32_t wfuse_notify_inval_inode(wfuse_session *s, uint64_t ino, int64_t off, int64_t len);

/* Drops the kernel's dentry `name` under `parent` (and its attr cache). Same rules as above. */
WFUSE_API int32_t wfuse_notify_inval_entry(wfuse_session *s, uint64_t parent, const char *name);

#ifdef __cplusplus
}
#endif
#endif
