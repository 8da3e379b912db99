/* wcfs_client_internal.h - structures shared by wcfs_client.c (design, files, mappings) and
 * pinner.c (the link thread). Who writes what is stated per field; invariant numbers refer to
 * wcfs_client.c.
 */
#ifndef WCFS_CLIENT_INTERNAL_H
#define WCFS_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "wcfs_client.h"
#include "wcfs_virtmem.h"

struct wcl_revfd {
    uint64_t oid, rev;
    int fd;
    uint64_t size;               /* st_size of @rev/bigfile/<oid> */
};

struct wcl_evnode {
    struct wcl_evnode *next;
    struct wcl_event ev;
};

/* One mountpoint, interned (wcfs_client_fault.c invariant F4: never freed, read by fault handlers). */
#define WCL_MOUNT_PATH 1024
struct wcl_mount {
    char path[WCL_MOUNT_PATH];
    struct wcl_mount *next;      /* the list of records (wcfs_client_fault.c, under its mutex) */
    _Atomic int32_t pending;     /* conns of this mount whose link dropped and that are re-attaching */
    _Atomic uint32_t epoch;      /* bumped on every change of pending or dead_dev: fault waiters wake */
    _Atomic int64_t deadline_ns; /* CLOCK_MONOTONIC end of the latest re-attach window */
    _Atomic int64_t reattach_ns; /* re-attach timeout of this mount's conns (0: never re-attach) */
    _Atomic uint64_t dead_dev;   /* st_dev of a server a conn gave up on (faults there end at once) */
    _Atomic uint64_t started_for;/* st_dev of the dead server a conn already ran the autostart for */
    pthread_mutex_t mu;
};

struct wcl_conn {
    char *mnt;
    struct wcl_mount *mount;     /* the mountpoint's record (never NULL: the open fails without one) */
    _Atomic uint64_t dev;        /* st_dev of the mount when the link was opened (its server) */
    int watch_fd;
    int event_fd;                /* eventfd, EFD_NONBLOCK: the pinner never blocks on it */
    pthread_t pinner;
    int pinner_started;
    _Atomic int up;              /* 1 until the pinner saw the link go down (0 while re-attaching) */
    _Atomic uint64_t at;         /* the conn's at (set by the managed side): a re-attach re-watches there */
    _Atomic int64_t reattach_ns; /* how long a dropped link waits for a new server (0: never) */
    _Atomic int closing;         /* wcl_conn_close started: no re-attach */
    _Atomic int floored;         /* some file has a floor (wcl_conn_unfloor has work) */
    /* re-watch of a re-attach (pinner thread only): streams of its watch requests not yet answered */
    uint64_t *rw_streams;
    int nrw, rw_errors, reattaching;
    char reason[192];            /* pinner only: why the link went down for good */
    char **autostart;            /* argv (NULL-terminated) that starts a new server, or NULL */
    char *autostart_input;       /* what that command reads on stdin (the server's settings), or NULL */
    _Atomic uint64_t next_stream;/* next odd stream id of a client request */
    /* event queue: lock-free stack pushed by the pinner, drained by one managed thread at a time */
    _Atomic(struct wcl_evnode *) evstack;
    struct wcl_evnode *evpending;/* consumer side, FIFO leftovers (consumer only) */
    _Atomic int64_t evpins;      /* pin copies queued (bounded, invariant 6) */
    _Atomic uint64_t stat_pins, stat_naks, stat_dropped;
    /* files: mmap actor thread only (invariant 1) */
    struct wcl_file *files;
    uint64_t *closed_oids;       /* files closed on this link: a late pin for them is acked */
    uint64_t nclosed, capclosed;
    /* @rev fd cache: mutex guards the table; fds are used (mmap) and closed on the actor only */
    pthread_mutex_t revmu;
    struct wcl_revfd *revs;
    int nrevs, caprevs;
};

struct wcl_pin {
    uint64_t blk, rev;
};

struct wcl_file {
    wcl_conn_t *conn;
    uint64_t oid;
    uint64_t blksize;
    _Atomic uint64_t size;       /* as of the conn's at; written on the actor (resize) */
    int head_fd;                 /* replaced in place (dup2) by a re-attach, on the actor */
    uint64_t floor;              /* actor only: != 0 -> unpinned blocks show @floor, not head (re-attach) */
    /* actor thread only: */
    struct wcl_file *next;       /* in conn->files */
    struct wcl_mapping *mappings;
    struct wcl_pin *pinned;      /* sorted by blk (invariant 3) */
    uint64_t npinned, cappinned;
};

struct wcl_mapping {
    struct wcl_file *file;       /* NULL once the file closed (mapping efaulted, invariant 5) */
    vm_vma_t *vma;               /* set when this Mapping is the base layer of a virtmem VMA */
    uint64_t blk_start, blk_stop, blksize;
    uintptr_t addr;
    uint64_t len;
    int efault;
    struct wcl_mapping *next;    /* in file->mappings */
};

/* wcfs_client.c, wcfs_client_conn.c */
int32_t wcl_pin_apply(wcl_conn_t *c, uint64_t oid, uint64_t blk, uint64_t rev, int is_head);
int wcl_revfd_ensure(wcl_conn_t *c, uint64_t oid, uint64_t rev); /* any thread but the actor: open+cache */
/* Actor thread: the fd of @rev/bigfile/<oid> (or WCL_REV_ABSENT: the file does not exist as of rev,
 * every block reads as zeros) and its size; opens and caches it if needed; -errno on failure. */
#define WCL_REV_ABSENT (-100000) /* not an errno */
int wcl_revfd_get_on_actor(wcl_conn_t *c, uint64_t oid, uint64_t rev, uint64_t *size);
void wcl_event_push(wcl_conn_t *c, const struct wcl_event *ev);

/* wcfs_client_fault.c */
int32_t wcl_fault_install(void);
void wcl_closed_add(uintptr_t lo, uintptr_t hi);
void wcl_closed_remove(uintptr_t lo);
struct wcl_mount *wcl_mount_get(const char *path);
/* Actor thread: a live range [lo, hi) of a mapping of file oid from blk_start on, served by the server
 * of device dev at mount (published before it is mapped, withdrawn after munmap; invariant F2). */
void wcl_live_add(uintptr_t lo, uintptr_t hi, uint64_t oid, uint64_t blk_start, uint64_t blksize, struct wcl_mount *mount, uint64_t dev);
void wcl_live_remove(uintptr_t lo);
int wcl_server_gone(const struct wcl_mount *m, uint64_t dev); /* async-signal-safe */

/* wcfs_client_reattach.c: in a SIGBUS handler on a range of mount m served by device dev: 1 when the
 * access should be retried (the mount was re-attached meanwhile), 0 when it cannot be served. */
int wcl_reattach_wait(struct wcl_mount *m, uint64_t dev);
void wcl_mount_bump(struct wcl_mount *m); /* epoch++ and wake every fault waiter (invariant R2) */

/* wcfs_client.c: re-attach steps on the mmap actor (wcfs_client_reattach.c drives them). */
int32_t wcl_reattach_remap(wcl_conn_t *c, uint64_t new_dev, uint64_t **oids, int *n);
int32_t wcl_unfloor(wcl_conn_t *c);

/* wcfs_client_reattach.c: the pinner calls it when its link dropped; 0: re-attached (the pinner goes
 * on reading the new link, re-watches pending), <0: not (why set). */
int wcl_reattach(wcl_conn_t *c, const char **why);
/* pinner.c: a reply on an odd stream that belongs to a re-attach's re-watch (consumed natively). */
int wcl_reattach_reply(wcl_conn_t *c, uint64_t stream, const char *text, uint64_t len);

/* pinner.c */
int32_t wcl_pinner_start(wcl_conn_t *c);

#endif
