/* wcfs_client_conn.c - the conn side of the native WCFS client: the event queue to the managed
 * side (invariant 6 of wcfs_client.c), the @rev fd cache (invariant 7) and the conn's lifecycle
 * (open the watch link and start the pinner; requests; close). The design is in wcfs_client.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vm_internal.h"
#include "wcfs_client_internal.h"

#define WCL_MAX_QUEUED_PINS 65536 /* invariant (6): bounds memory if nobody drains copies */
#define WCL_MAX_REVFDS 1024       /* @rev fds kept per conn; the cache is emptied when full */

/* ---- events (invariant 6) ------------------------------------------------------------------- */

void wcl_event_push(wcl_conn_t *c, const struct wcl_event *ev)
{
    if (ev->kind == WCL_EV_PIN && atomic_load(&c->evpins) >= WCL_MAX_QUEUED_PINS) {
        atomic_fetch_add(&c->stat_dropped, 1);
        return;
    }
    struct wcl_evnode *n = malloc(sizeof *n);
    if (!n) {
        atomic_fetch_add(&c->stat_dropped, 1);
        return;
    }
    n->ev = *ev;
    if (ev->kind == WCL_EV_PIN)
        atomic_fetch_add(&c->evpins, 1);
    struct wcl_evnode *old = atomic_load(&c->evstack);
    do {
        n->next = old;
    } while (!atomic_compare_exchange_weak(&c->evstack, &old, n));
    uint64_t one = 1;
    ssize_t w = write(c->event_fd, &one, sizeof one); /* EFD_NONBLOCK: never waits */
    (void)w;
}

int32_t wcl_conn_poll(wcl_conn_t *c, struct wcl_event *evs, int32_t cap)
{
    if (!c || !evs || cap <= 0)
        return -EINVAL;
    uint64_t drain;
    ssize_t r = read(c->event_fd, &drain, sizeof drain);
    (void)r;
    struct wcl_evnode *list = atomic_exchange(&c->evstack, NULL), *fifo = NULL;
    while (list) {
        struct wcl_evnode *n = list->next;
        list->next = fifo;
        fifo = list;
        list = n;
    }
    /* append the new arrivals after the leftovers */
    struct wcl_evnode **tail = &c->evpending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = fifo;
    int32_t k = 0;
    while (k < cap && c->evpending) {
        struct wcl_evnode *n = c->evpending;
        c->evpending = n->next;
        evs[k++] = n->ev;
        if (n->ev.kind == WCL_EV_PIN)
            atomic_fetch_sub(&c->evpins, 1);
        free(n);
    }
    if (c->evpending) { /* leftovers: make the eventfd readable again for the next round */
        uint64_t one = 1;
        ssize_t w = write(c->event_fd, &one, sizeof one);
        (void)w;
    }
    return k;
}

int32_t wcl_conn_event_fd(wcl_conn_t *c) { return c ? c->event_fd : -EINVAL; }

int32_t wcl_conn_is_up(wcl_conn_t *c) { return c ? atomic_load(&c->up) : -EINVAL; }

int32_t wcl_conn_set_at(wcl_conn_t *c, uint64_t at)
{
    if (!c)
        return -EINVAL;
    atomic_store(&c->at, at);
    return 0;
}

int32_t wcl_conn_set_reattach(wcl_conn_t *c, int64_t timeout_ms)
{
    if (!c || timeout_ms < 0)
        return -EINVAL;
    atomic_store(&c->reattach_ns, timeout_ms * 1000000ll);
    if (c->mount)
        atomic_store(&c->mount->reattach_ns, timeout_ms * 1000000ll);
    return 0;
}

int32_t wcl_conn_set_autostart(wcl_conn_t *c, const char *const *argv, int32_t argc, const char *input)
{
    if (!c || !argv || argc <= 0 || c->autostart)
        return -EINVAL;
    if (input && strlen(input) > WCL_AUTOSTART_INPUT_MAX)
        return -E2BIG;
    char *in = input ? strdup(input) : NULL;
    char **v = calloc((size_t)argc + 1, sizeof *v);
    if (!v || (input && !in)) {
        free(v);
        free(in);
        return -ENOMEM;
    }
    for (int32_t i = 0; i < argc; i++)
        if (!argv[i] || !(v[i] = strdup(argv[i]))) {
            while (i-- > 0)
                free(v[i]);
            free(v);
            free(in);
            return -ENOMEM;
        }
    c->autostart_input = in;
    c->autostart = v; /* read by the pinner only after a link drop, long after this call */
    return 0;
}

int32_t wcl_conn_unfloor(wcl_conn_t *c) { return c ? wcl_unfloor(c) : -EINVAL; }

int32_t wcl_conn_stats(wcl_conn_t *c, uint64_t *pins, uint64_t *naks, uint64_t *dropped)
{
    if (!c)
        return -EINVAL;
    if (pins)
        *pins = atomic_load(&c->stat_pins);
    if (naks)
        *naks = atomic_load(&c->stat_naks);
    if (dropped)
        *dropped = atomic_load(&c->stat_dropped);
    return 0;
}

/* ---- @rev fd cache (invariant 7) ------------------------------------------------------------ */

/* Index of (oid, rev) in the cache, or -1. revmu held. */
static int revfd_find(wcl_conn_t *c, uint64_t oid, uint64_t rev)
{
    for (int i = 0; i < c->nrevs; i++)
        if (c->revs[i].oid == oid && c->revs[i].rev == rev)
            return i;
    return -1;
}

/* Opens @rev/bigfile/<oid>: the fd (>= 0), WCL_REV_ABSENT if the file does not exist as of rev (it
 * was created later: every block reads as zeros there), or -errno. */
static int revfd_open(wcl_conn_t *c, uint64_t oid, uint64_t rev, uint64_t *size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/@%016llx/bigfile/%016llx", c->mnt, (unsigned long long)rev, (unsigned long long)oid);
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == EINVAL ? WCL_REV_ABSENT : -errno; /* PROTOCOL.md §2: both */
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* Inserts (oid, rev, fd) unless present; returns the cached fd (closing fd if it lost a race).
 * evict: allowed to close cached fds when full (actor thread only, invariant 7). */
static int revfd_insert(wcl_conn_t *c, uint64_t oid, uint64_t rev, int fd, uint64_t size, int evict)
{
    pthread_mutex_lock(&c->revmu);
    int have = revfd_find(c, oid, rev);
    if (have >= 0) {
        int cached = c->revs[have].fd;
        pthread_mutex_unlock(&c->revmu);
        if (fd >= 0)
            close(fd);
        return cached;
    }
    if (c->nrevs == c->caprevs) {
        if (c->caprevs < WCL_MAX_REVFDS) {
            int cap = c->caprevs ? c->caprevs * 2 : 16;
            struct wcl_revfd *t = realloc(c->revs, (size_t)cap * sizeof *t);
            if (t) {
                c->revs = t;
                c->caprevs = cap;
            }
        }
        if (c->nrevs == c->caprevs) {
            if (!evict) { /* the pinner never closes cached fds: the actor will open its own */
                pthread_mutex_unlock(&c->revmu);
                if (fd >= 0)
                    close(fd);
                return -ENOSPC;
            }
            for (int i = 0; i < c->nrevs; i++)
                if (c->revs[i].fd >= 0)
                    close(c->revs[i].fd);
            c->nrevs = 0;
        }
    }
    c->revs[c->nrevs++] = (struct wcl_revfd){ oid, rev, fd, size };
    pthread_mutex_unlock(&c->revmu);
    return fd;
}

int wcl_revfd_ensure(wcl_conn_t *c, uint64_t oid, uint64_t rev)
{
    pthread_mutex_lock(&c->revmu);
    int have = revfd_find(c, oid, rev);
    pthread_mutex_unlock(&c->revmu);
    if (have >= 0)
        return 0;
    uint64_t size;
    int fd = revfd_open(c, oid, rev, &size);
    if (fd < 0 && fd != WCL_REV_ABSENT)
        return fd;
    int r = revfd_insert(c, oid, rev, fd, size, 0);
    return r < 0 && r != WCL_REV_ABSENT && r != -ENOSPC ? r : 0;
}

/* Actor thread: the fd of @rev/bigfile/<oid> (or WCL_REV_ABSENT) and its size, opening it if the
 * cache lacks it; -errno on failure. */
int wcl_revfd_get_on_actor(wcl_conn_t *c, uint64_t oid, uint64_t rev, uint64_t *size)
{
    pthread_mutex_lock(&c->revmu);
    int i = revfd_find(c, oid, rev);
    int fd = i >= 0 ? c->revs[i].fd : 0;
    if (i >= 0)
        *size = c->revs[i].size;
    pthread_mutex_unlock(&c->revmu);
    if (i >= 0)
        return fd;
    fd = revfd_open(c, oid, rev, size);
    if (fd < 0 && fd != WCL_REV_ABSENT)
        return fd;
    return revfd_insert(c, oid, rev, fd, *size, 1);
}

static int32_t drop_revs_on_actor(void *arg)
{
    wcl_conn_t *c = arg;
    pthread_mutex_lock(&c->revmu);
    for (int i = 0; i < c->nrevs; i++)
        if (c->revs[i].fd >= 0)
            close(c->revs[i].fd);
    c->nrevs = 0;
    pthread_mutex_unlock(&c->revmu);
    return 0;
}

int32_t wcl_conn_drop_rev_cache(wcl_conn_t *c) { return c ? vm_actor_call(drop_revs_on_actor, c) : -EINVAL; }

/* ---- conn ------------------------------------------------------------------------------------ */

int32_t wcl_conn_open(const char *mountpoint, wcl_conn_t **out)
{
    if (!mountpoint || !out)
        return -EINVAL;
    int32_t rc = vm_init();
    if (rc == 0)
        rc = wcl_fault_install(); /* after vm_init: chained in front of virtmem's handler */
    if (rc < 0)
        return rc;
    wcl_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->mnt = strdup(mountpoint);
    c->watch_fd = c->event_fd = -1;
    pthread_mutex_init(&c->revmu, NULL);
    atomic_store(&c->next_stream, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/head/watch", mountpoint);
    rc = -ENOMEM;
    if (!c->mnt)
        goto fail;
    c->watch_fd = open(path, O_RDWR | O_CLOEXEC);
    if (c->watch_fd < 0) {
        rc = -errno;
        goto fail;
    }
    struct stat st;
    if (stat(mountpoint, &st) < 0) {
        rc = -errno;
        goto fail;
    }
    atomic_store(&c->dev, (uint64_t)st.st_dev); /* the server of this link (wcl_server_gone) */
    c->mount = wcl_mount_get(mountpoint);
    if (!c->mount) {
        rc = -errno; /* -ENAMETOOLONG: the fault line and the re-attach need the mountpoint's record */
        goto fail;
    }
    c->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->event_fd < 0) {
        rc = -errno;
        goto fail;
    }
    atomic_store(&c->up, 1);
    rc = wcl_pinner_start(c);
    if (rc < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    if (c->watch_fd >= 0)
        close(c->watch_fd);
    if (c->event_fd >= 0)
        close(c->event_fd);
    free(c->mnt);
    free(c);
    return rc;
}

int32_t wcl_conn_request(wcl_conn_t *c, const char *text, uint64_t len, uint64_t *stream)
{
    if (!c || !text)
        return -EINVAL;
    if (!atomic_load(&c->up))
        return -ENOTCONN;
    uint64_t s = atomic_fetch_add(&c->next_stream, 2);
    char buf[WCL_FRAME_MAX];
    int32_t n = wcl_wlink_format(buf, sizeof buf, s, text, len);
    if (n < 0)
        return n;
    /* one write per frame: concurrent writers (pinner acks) never interleave inside a frame */
    ssize_t w = write(c->watch_fd, buf, (size_t)n);
    if (w < 0)
        return -errno;
    if (w != n)
        return -EIO;
    if (stream)
        *stream = s;
    return 0;
}

static int32_t count_files_on_actor(void *arg)
{
    wcl_conn_t *c = arg;
    int n = 0;
    for (struct wcl_file *f = c->files; f; f = f->next)
        n++;
    return n;
}

int32_t wcl_conn_close(wcl_conn_t *c, int32_t timeout_ms)
{
    if (!c)
        return -EINVAL;
    int32_t nf = vm_actor_call(count_files_on_actor, c);
    if (nf != 0)
        return nf < 0 ? nf : -EBUSY;
    atomic_store(&c->closing, 1); /* no re-attach from now on */
    if (atomic_load(&c->up)) {
        const char bye[] = "bye";
        wcl_conn_request(c, bye, sizeof bye - 1, NULL);
    }
    if (c->pinner_started) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(c->pinner, NULL, &ts) != 0) {
            pthread_detach(c->pinner); /* leaked on purpose: the thread may still use c */
            return -ETIMEDOUT;
        }
    }
    vm_actor_call(drop_revs_on_actor, c);
    close(c->watch_fd);
    close(c->event_fd);
    struct wcl_evnode *n = atomic_exchange(&c->evstack, NULL);
    while (n) {
        struct wcl_evnode *x = n->next;
        free(n);
        n = x;
    }
    while (c->evpending) {
        struct wcl_evnode *x = c->evpending->next;
        free(c->evpending);
        c->evpending = x;
    }
    free(c->revs);
    free(c->closed_oids);
    free(c->rw_streams);
    for (char **a = c->autostart; a && *a; a++)
        free(*a);
    free(c->autostart);
    if (c->autostart_input) /* the settings may hold a password: not left in freed memory */
        explicit_bzero(c->autostart_input, strlen(c->autostart_input));
    free(c->autostart_input);
    pthread_mutex_destroy(&c->revmu);
    free(c->mnt);
    free(c);
    return 0;
}

