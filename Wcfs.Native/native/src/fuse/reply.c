/* reply.c - the wfuse_reply_* calls: C# answers each request exactly once, from any thread.
 * struct fuse_file_info is built here, never in C#. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <fuse_lowlevel.h>
#include "wcfs_fuse.h"

_Static_assert(sizeof(wfuse_attr) == WFUSE_ATTR_SIZE, "wfuse_attr layout is shared with C#");
_Static_assert(sizeof(wfuse_ops) == WFUSE_OPS_SIZE, "wfuse_ops layout is shared with C#");

/* The kernel's open reply (include/uapi/linux/fuse.h); libfuse 3.14 cannot express FOPEN_STREAM. */
struct wfuse_open_out {
    uint64_t fh;
    uint32_t open_flags;
    uint32_t padding;
};
#define K_FOPEN_DIRECT_IO   (1u << 0)
#define K_FOPEN_KEEP_CACHE  (1u << 1)
#define K_FOPEN_NONSEEKABLE (1u << 2)
#define K_FOPEN_STREAM      (1u << 4)

static fuse_req_t R(uint64_t req) { return (fuse_req_t)(uintptr_t)req; }

static void to_stat(const wfuse_attr *a, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = a->ino;
    st->st_size = (off_t)a->size;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_blksize = a->blksize;
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
    st->st_mtim.tv_sec = a->mtime_sec;
    st->st_mtim.tv_nsec = a->mtime_nsec;
    st->st_ctim = st->st_mtim;
    st->st_atim = st->st_mtim;
}

int32_t wfuse_reply_err(uint64_t req, int32_t err) { return fuse_reply_err(R(req), err); }

int32_t wfuse_reply_entry(uint64_t req, const wfuse_attr *attr, double attr_timeout, double entry_timeout)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = attr->ino;
    e.generation = 1;
    to_stat(attr, &e.attr);
    e.attr_timeout = attr_timeout;
    e.entry_timeout = entry_timeout;
    return fuse_reply_entry(R(req), &e);
}

int32_t wfuse_reply_attr(uint64_t req, const wfuse_attr *attr, double attr_timeout)
{
    struct stat st;
    to_stat(attr, &st);
    return fuse_reply_attr(R(req), &st, attr_timeout);
}

int32_t wfuse_reply_open(uint64_t req, uint64_t fh, uint32_t open_flags)
{
    if (open_flags & WFUSE_OPEN_STREAM) {
        struct wfuse_open_out o = { .fh = fh, .open_flags = 0, .padding = 0 };
        if (open_flags & WFUSE_OPEN_DIRECT_IO) o.open_flags |= K_FOPEN_DIRECT_IO;
        if (open_flags & WFUSE_OPEN_KEEP_CACHE) o.open_flags |= K_FOPEN_KEEP_CACHE;
        if (open_flags & WFUSE_OPEN_NONSEEKABLE) o.open_flags |= K_FOPEN_NONSEEKABLE;
        o.open_flags |= K_FOPEN_STREAM;
        struct iovec iov = { .iov_base = &o, .iov_len = sizeof o };
        return fuse_reply_iov(R(req), &iov, 1);
    }
    struct fuse_file_info fi;
    memset(&fi, 0, sizeof fi);
    fi.fh = fh;
    fi.keep_cache = !!(open_flags & WFUSE_OPEN_KEEP_CACHE);
    fi.direct_io = !!(open_flags & WFUSE_OPEN_DIRECT_IO);
    fi.nonseekable = !!(open_flags & WFUSE_OPEN_NONSEEKABLE);
    return fuse_reply_open(R(req), &fi);
}

int32_t wfuse_reply_buf(uint64_t req, const uint8_t *data, uint64_t size)
{
    return fuse_reply_buf(R(req), (const char *)data, size);
}

int32_t wfuse_reply_data(uint64_t req, const uint8_t *const *datas, const uint64_t *sizes, uint32_t count)
{
    struct iovec iov[64];
    struct iovec *v = iov;
    if (count == 0)
        return fuse_reply_buf(R(req), NULL, 0);
    if (count > 1024) {
        fuse_reply_err(R(req), EIO); /* answered exactly once even on a caller's bug */
        return -EINVAL;
    }
    if (count > 64 && !(v = malloc(count * sizeof *v))) {
        fuse_reply_err(R(req), ENOMEM);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        v[i].iov_base = (void *)datas[i];
        v[i].iov_len = sizes[i];
    }
    int rc = fuse_reply_iov(R(req), v, (int)count);
    if (v != iov)
        free(v);
    return rc;
}

int32_t wfuse_reply_write(uint64_t req, uint64_t count) { return fuse_reply_write(R(req), count); }

int32_t wfuse_reply_dir(uint64_t req, uint64_t size, int64_t off, const char *names,
                        const uint64_t *inos, const uint32_t *modes, uint32_t count)
{
    char buf[8192];
    size_t cap = size < sizeof buf ? size : sizeof buf, used = 0;
    const char *name = names;
    for (uint32_t i = 0; i < count; i++) {
        size_t n = strlen(name);
        if ((int64_t)i >= off) {
            struct stat st;
            memset(&st, 0, sizeof st);
            st.st_ino = inos[i];
            st.st_mode = modes[i];
            size_t need = fuse_add_direntry(R(req), buf + used, cap - used, name, &st, (off_t)i + 1);
            if (need > cap - used)
                break;
            used += need;
        }
        name += n + 1;
    }
    return fuse_reply_buf(R(req), buf, used);
}
