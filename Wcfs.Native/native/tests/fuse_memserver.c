/* fuse_memserver.c - a minimal libfuse3 low-level server for one read-only file "data" whose bytes
 * are computed in memory (bench_byte below). It is the baseline of `wcfs bench fuse-cold`: the same
 * init settings as the WCFS shim (1 MiB requests, async reads, explicit cache control), keep_cache,
 * multithreaded loop, no storage and no managed code.
 *
 *   fuse_memserver <mountpoint> <size-bytes>   serve until unmounted (or SIGTERM)
 *   fuse_memserver                             self-test (CTest): mount in a temp dir, read the
 *                                              file through the kernel, check its bytes, unmount
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fuse_lowlevel.h>

/* The byte at offset off: the same function is in Wcfs.Host/Cli/ServeBench.cs (BenchPattern). */
static inline unsigned char bench_byte(uint64_t off) { return (unsigned char)((off >> 12) * 31 + off); }

static uint64_t file_size;
static struct fuse_session *se;

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    if (ino == 1) { st->st_mode = S_IFDIR | 0555; st->st_nlink = 2; }
    else { st->st_mode = S_IFREG | 0444; st->st_nlink = 1; st->st_size = (off_t)file_size; }
}

static void op_init(void *ud, struct fuse_conn_info *conn)
{
    if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA) conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
    conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
    conn->max_write = 1u << 20;
    conn->max_readahead = 1u << 20;
    if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    if (parent != 1 || strcmp(name, "data") != 0) { fuse_reply_err(req, ENOENT); return; }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = 2;
    e.attr_timeout = e.entry_timeout = 3600;
    fill_attr(2, &e.attr);
    fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct stat st;
    fill_attr(ino, &st);
    fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    if ((uint64_t)off >= file_size) { fuse_reply_buf(req, NULL, 0); return; }
    if ((uint64_t)off + size > file_size) size = file_size - (uint64_t)off;
    unsigned char *buf = malloc(size);
    if (!buf) { fuse_reply_err(req, ENOMEM); return; }
    /* Within an aligned 4 KiB page the bytes are a ramp starting at (page * 31) & 0xff: copy it from
     * a precomputed ramp so the baseline is bound by FUSE, not by computing bytes. */
    static unsigned char ramp[4096 + 256];
    static int ramp_ready;
    if (!ramp_ready) { for (int i = 0; i < (int)sizeof ramp; i++) ramp[i] = (unsigned char)i; ramp_ready = 1; }
    size_t i = 0;
    while (i < size) {
        uint64_t o = (uint64_t)off + i;
        if ((o & 4095) == 0 && size - i >= 4096) {
            memcpy(buf + i, ramp + (((o >> 12) * 31) & 0xff), 4096);
            i += 4096;
        } else {
            buf[i] = bench_byte(o);
            i++;
        }
    }
    fuse_reply_buf(req, (const char *)buf, size);
    free(buf);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init, .lookup = op_lookup, .getattr = op_getattr, .open = op_open, .read = op_read,
};

static void on_term(int sig) { if (se) fuse_session_exit(se); }

static int serve(const char *mnt)
{
    char *argv[] = { "fuse_memserver", "-o", "fsname=memserver,subtype=memserver", NULL };
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    se = fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (!se || fuse_session_mount(se, mnt) != 0) { fprintf(stderr, "fuse_memserver: cannot mount %s\n", mnt); return 1; }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_idle_threads(cfg, 16);
    int rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    return rc < 0 ? 1 : 0;
}

/* Reaps the server child after SIGTERM, waiting at most 10 s; then SIGKILL (bounded: the self-test
 * never hangs on its server). 1 if it exited by itself. */
static int reap(pid_t child)
{
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(child, NULL, WNOHANG);
        if (r == child || r < 0) return 1;
        usleep(10000); /* why: waitpid has no timeout; poll for the exit, 10 ms apart */
    }
    fprintf(stderr, "fuse_memserver self-test: the server did not exit within 10 s of SIGTERM; killed\n");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0); /* SIGKILL: returns */
    return 0;
}

static int self_test(void)
{
    char dir[] = "/tmp/fuse_memserver.XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    file_size = (1 << 20) + 123;
    pid_t child = fork();
    if (child == 0) _exit(serve(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/data", dir);
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; i++) { fd = open(path, O_RDONLY); if (fd < 0) usleep(10000); } /* why: the mount appears asynchronously; bounded to 5 s */
    int ok = fd >= 0;
    if (ok) {
        static unsigned char buf[(1 << 20) + 4096];
        ssize_t n = 0, r;
        while ((r = read(fd, buf + n, sizeof buf - (size_t)n)) > 0) n += r;
        ok = n == (ssize_t)file_size;
        for (ssize_t i = 0; ok && i < n; i++) ok = buf[i] == bench_byte((uint64_t)i);
        close(fd);
    }
    kill(child, SIGTERM);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "fusermount3 -u -z %s 2>/dev/null", dir);
    if (system(cmd) < 0) { /* the server unmounts itself on SIGTERM */ }
    if (!reap(child)) ok = 0;
    rmdir(dir);
    printf("fuse_memserver self-test: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 1) return self_test();
    if (argc != 3) { fprintf(stderr, "usage: fuse_memserver <mountpoint> <size-bytes>\n"); return 2; }
    file_size = strtoull(argv[2], NULL, 10);
    return serve(argv[1]);
}
