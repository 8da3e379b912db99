/* session.c - mount, multithreaded loop, unmount, and the libfuse callbacks that forward to C#.
 * See include/wcfs_fuse.h for the design and invariants. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fuse_lowlevel.h>
#include "wcfs_fuse.h"

struct wfuse_session {
    struct fuse_session *se;
    wfuse_ops ops;
    int mounted;
};

static wfuse_ops *ops_of(fuse_req_t req) { return &((wfuse_session *)fuse_req_userdata(req))->ops; }
static uint64_t H(fuse_req_t req) { return (uint64_t)(uintptr_t)req; }

static void on_interrupt(fuse_req_t req, void *data)
{
    wfuse_session *s = data;
    s->ops.interrupt(H(req));
}

/* invariant (1) */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA)
        conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
    conn->max_write = 1u << 20;
    conn->max_readahead = 1u << 20;
    /* Parallel reads on one handle: the kernel must not serialize reads of a big file. */
    if (conn->capable & FUSE_CAP_ASYNC_READ)
        conn->want |= FUSE_CAP_ASYNC_READ;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    ops_of(req)->lookup(H(req), parent, name);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    ops_of(req)->getattr(H(req), ino);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    ops_of(req)->open(H(req), ino, fi->flags, fuse_req_ctx(req)->pid);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    wfuse_session *s = fuse_req_userdata(req);
    fuse_req_interrupt_func(req, on_interrupt, s); /* invariant (3) */
    s->ops.read(H(req), ino, fi->fh, off, size, fuse_req_interrupted(req));
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    wfuse_session *s = fuse_req_userdata(req);
    fuse_req_interrupt_func(req, on_interrupt, s); /* invariant (3) */
    s->ops.write(H(req), ino, fi->fh, off, (const uint8_t *)buf, size, fuse_req_interrupted(req));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    ops_of(req)->release(H(req), ino, fi->fh);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    ops_of(req)->opendir(H(req), ino);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    ops_of(req)->readdir(H(req), ino, off, size);
}

static const struct fuse_lowlevel_ops lowlevel_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
};

int32_t wfuse_mount(const char *mountpoint, const char *options, const wfuse_ops *ops, wfuse_session **out)
{
    if (!mountpoint || !ops || !out)
        return -EINVAL;
    *out = NULL;
    wfuse_session *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->ops = *ops;

    char *argv[4];
    int argc = 0;
    argv[argc++] = "wcfs";
    if (options && options[0]) {
        argv[argc++] = "-o";
        argv[argc++] = (char *)options;
    }
    argv[argc] = NULL;
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    /* invariant (2): no fuse_set_signal_handlers() anywhere. */
    s->se = fuse_session_new(&args, &lowlevel_ops, sizeof lowlevel_ops, s);
    if (!s->se) {
        free(s);
        return -EINVAL;
    }
    if (fuse_session_mount(s->se, mountpoint) != 0) {
        fuse_session_destroy(s->se);
        free(s);
        return -EIO;
    }
    s->mounted = 1;
    *out = s;
    return 0;
}

int32_t wfuse_loop(wfuse_session *s, uint32_t max_idle_threads, uint32_t max_threads)
{
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (!cfg)
        return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_idle_threads(cfg, max_idle_threads ? max_idle_threads : 16);
    fuse_loop_cfg_set_max_threads(cfg, max_threads ? max_threads : 64);
    int rc = fuse_session_loop_mt(s->se, cfg);
    fuse_loop_cfg_destroy(cfg);
    return rc > 0 ? 0 : rc; /* >0: exited by signal; 0: unmounted/exit */
}

int32_t wfuse_exit(wfuse_session *s)
{
    if (!s)
        return -EINVAL;
    fuse_session_exit(s->se);
    if (__atomic_exchange_n(&s->mounted, 0, __ATOMIC_SEQ_CST))
        fuse_session_unmount(s->se); /* makes the loop's read of /dev/fuse fail: the loop returns */
    return 0;
}

void wfuse_destroy(wfuse_session *s)
{
    if (!s)
        return;
    if (__atomic_exchange_n(&s->mounted, 0, __ATOMIC_SEQ_CST))
        fuse_session_unmount(s->se);
    fuse_session_destroy(s->se);
    free(s);
}

int32_t wfuse_notify_inval_inode(wfuse_session *s, uint64_t ino, int64_t off, int64_t len)
{
    return fuse_lowlevel_notify_inval_inode(s->se, ino, off, len);
}

int32_t wfuse_notify_inval_entry(wfuse_session *s, uint64_t parent, const char *name)
{
    return fuse_lowlevel_notify_inval_entry(s->se, parent, name, strlen(name));
}
