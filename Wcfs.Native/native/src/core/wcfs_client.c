/* wcfs_client.c - the native WCFS client: conns, files, mappings, the pinned tables and the @rev fd
 * cache (ARCHITECTURE.md §3 and §7, PROTOCOL.md §4). Files of the subsystem: this one (design,
 * pinned tables, the mapping rule, PinRequest, files, mappings); wcfs_client_conn.c (event queue,
 * @rev fd cache, conn lifecycle); pinner.c (the link thread); wlink.c (frame codec);
 * wcfs_client_fault.c (the message for an access to a closed mapping or to one whose server is gone);
 * wcfs_client_reattach.c (faults on a dead mount wait for its re-attach). The managed control plane
 * is Wcfs.Actors/Client/.
 *
 * What it owns: the address ranges of standalone WCFS Mappings, what each block of a Mapping shows
 * (also of a Mapping that is the base layer of a VMA, inside the VMA's range), the pinned table of each file, and the fds of head/ and @rev/ files. It does
 * NOT own: the watch requests and resync orchestration (managed ConnActor), the dirty pages of a
 * VMA (virtmem; issue 6 associates a Mapping with a VMA through struct vm_base_ops).
 *
 * One pin, from the link to the ack (all native, ARCHITECTURE.md fact 1):
 *
 *   S: 2 pin 00000000000000a1 #3 @00000000000000c0     pinner thread reads the frame
 *      pinner: wcl_revfd_ensure(oid, rev)               open @rev/bigfile/<oid> once per (rev, file)
 *      pinner -> mmap actor: PinRequest (pin_on_actor)  pinned[3] = rev; every Mapping covering
 *                                                       block 3 re-maps it (@rev, head, or zeros)
 *   C: 2 ack                                            pinner writes the ack, then queues a copy
 *                                                       of the event for PinnerActor (never waits)
 *
 * What a block b of a Mapping shows (the mapping rule, applied by map_run on the actor):
 *   pinned[b] = r          -> @r/bigfile/<oid> block b, or zeros if b is past the size of @r
 *   else b < size/blksize  -> head/bigfile/<oid> block b
 *   else                   -> zeros (anonymous read-only memory)
 *
 * Invariants:
 *  (1) conn->files, file->mappings, file->pinned and every change of a Mapping's address range are
 *      touched only on the mmap actor thread; so a pin, a resize, a remmap and an unmap are
 *      serialized by message order and "update pinned, then remap" needs no lock.
 *  (2) pinned[b] is updated before the remaps and before the ack is written (the pinner writes
 *      the ack only after pin_on_actor returned).
 *  (3) file->pinned is sorted by blk, one entry per block, never an entry for @head.
 *  (4) a Mapping never shows head data for a block at or past the file's size as of the conn's
 *      at, nor @r data past the size of @r (that would be SIGBUS or newer data); and before head is
 *      mapped for grown blocks, the kernel's size of head is refreshed (fstat), else SIGBUS.
 *  (5) a closed file's mappings are PROT_NONE (efault) before the file is freed; their handles
 *      stay valid until wcl_unmap, which never touches the file.
 *  (6) the pinner never blocks on the managed side: events go to a lock-free stack and an
 *      eventfd write that cannot block; pin copies beyond WCL_MAX_QUEUED_PINS are dropped and
 *      counted (replies and link-down events are never dropped).
 *  (7) an @rev fd in the cache is closed only on the actor thread (the only user of those fds).
 *  (8) a pin for a file this link watched and closed is acked without remapping anything: the
 *      server may have decided that pin before it processed the unwatch (a nak would make it kill
 *      this process); only a file never opened on this link gets a nak.
 *
 * A Mapping as the base layer of a virtmem VMA (issue 6; wcl_file_vm_base): struct vm_base_ops maps
 * onto the same actor-thread functions - mmap_setup_read = mmap_on_actor at a new range that becomes
 * the VMA's (mapping linked to its vm_vma_t), remmap_blk_read = map_block_bytes (a byte range of one
 * block, per the rule), munmap = unmap_on_actor. For such a Mapping a pin does "check dirty, then
 * remap" itself (pin_vma_pages, in the same actor message as the pinned[] update): pages dirty in the
 * VMA's handle stay, the others are re-mapped and their generation bumped; a dirty page gets what
 * pinned[] says when it goes away (MARKSTORED or discard call remmap_blk_read).
 *
 * Threading: public calls come from managed threads and post to the mmap actor through
 * vm_actor_call (wcfs_virtmem.h: the actor never waits on its callers). revmu guards the @rev fd
 * table only; it is never held across a syscall except close() on the actor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"
#include "wcfs_client_internal.h"


/* ---- pinned table (invariant 3; actor thread) ----------------------------------------------- */

/* Index of the first entry with blk >= b. */
static uint64_t pinned_lower(struct wcl_file *f, uint64_t b)
{
    uint64_t lo = 0, hi = f->npinned;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (f->pinned[mid].blk < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int pinned_set(struct wcl_file *f, uint64_t blk, uint64_t rev, int is_head)
{
    uint64_t i = pinned_lower(f, blk);
    int present = i < f->npinned && f->pinned[i].blk == blk;
    if (is_head) {
        if (present) {
            memmove(&f->pinned[i], &f->pinned[i + 1], (f->npinned - i - 1) * sizeof *f->pinned);
            f->npinned--;
        }
        return 0;
    }
    if (present) {
        f->pinned[i].rev = rev;
        return 0;
    }
    if (f->npinned == f->cappinned) {
        uint64_t cap = f->cappinned ? f->cappinned * 2 : 64;
        struct wcl_pin *t = realloc(f->pinned, cap * sizeof *t);
        if (!t)
            return -ENOMEM;
        f->pinned = t;
        f->cappinned = cap;
    }
    memmove(&f->pinned[i + 1], &f->pinned[i], (f->npinned - i) * sizeof *f->pinned);
    f->pinned[i] = (struct wcl_pin){ blk, rev };
    f->npinned++;
    return 0;
}

/* ---- the mapping rule (actor thread, invariants 1 and 4) ------------------------------------ */

/* The base of a VMA (m->vma) also tells virtmem which pages are the zero mapping, so that a write
 * fault there does not copy them (vm_vma_note_zero_base: set after mapping zeros, cleared before
 * mapping a file). */
static int map_zeros(struct wcl_mapping *m, uintptr_t addr, uint64_t len)
{
    void *a = mmap((void *)addr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED)
        return -errno;
    if (m->vma)
        vm_vma_note_zero_base(m->vma, addr - m->addr, len, 1);
    return 0;
}

static int map_fd(struct wcl_mapping *m, uintptr_t addr, uint64_t len, int fd, uint64_t off)
{
    if (m->vma)
        vm_vma_note_zero_base(m->vma, addr - m->addr, len, 0);
    void *a = mmap((void *)addr, len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
    return a == MAP_FAILED ? -errno : 0;
}

/* Bytes [off, off+len) of block blk of m, which is pinned at rev. */
static int map_pinned(struct wcl_mapping *m, uint64_t blk, uint64_t rev, uint64_t off, uint64_t len)
{
    struct wcl_file *f = m->file;
    uintptr_t a = m->addr + (blk - m->blk_start) * m->blksize + off;
    uint64_t rsize;
    int fd = wcl_revfd_get_on_actor(f->conn, f->oid, rev, &rsize);
    if (fd < 0 && fd != WCL_REV_ABSENT)
        return fd;
    if (fd == WCL_REV_ABSENT || blk >= rsize / f->blksize) /* invariant (4): zeros past the end of @rev */
        return map_zeros(m, a, len);
    return map_fd(m, a, len, fd, blk * f->blksize + off);
}

/* Unpinned blocks [lo, hi) of m: head below the size, zeros past it (with a floor: @floor below its
 * size, zeros past it). */
static int map_unpinned(struct wcl_mapping *m, uint64_t lo, uint64_t hi)
{
    struct wcl_file *f = m->file;
    uint64_t nblk = atomic_load(&f->size) / f->blksize;
    int fd = f->head_fd;
    if (f->floor) {
        uint64_t rsize;
        fd = wcl_revfd_get_on_actor(f->conn, f->oid, f->floor, &rsize);
        if (fd < 0 && fd != WCL_REV_ABSENT)
            return fd;
        nblk = fd == WCL_REV_ABSENT ? 0 : rsize / f->blksize;
    }
    uint64_t mid = hi < nblk ? hi : (lo > nblk ? lo : nblk);
    int rc = 0;
    if (lo < mid)
        rc = map_fd(m, m->addr + (lo - m->blk_start) * m->blksize, (mid - lo) * m->blksize, fd, lo * f->blksize);
    if (rc == 0 && mid < hi)
        rc = map_zeros(m, m->addr + (mid - m->blk_start) * m->blksize, (hi - mid) * m->blksize);
    return rc;
}

/* Bytes [off, off+len) of block blk of m per the mapping rule (the base layer of a VMA remaps pages). */
static int map_block_bytes(struct wcl_mapping *m, uint64_t blk, uint64_t off, uint64_t len)
{
    struct wcl_file *f = m->file;
    uint64_t i = pinned_lower(f, blk);
    if (i < f->npinned && f->pinned[i].blk == blk)
        return map_pinned(m, blk, f->pinned[i].rev, off, len);
    if (f->floor)
        return map_pinned(m, blk, f->floor, off, len);
    uintptr_t a = m->addr + (blk - m->blk_start) * m->blksize + off;
    if (blk < atomic_load(&f->size) / f->blksize)
        return map_fd(m, a, len, f->head_fd, blk * f->blksize + off);
    return map_zeros(m, a, len);
}

/* Blocks [lo, hi) of m per the mapping rule, in runs between pinned entries. */
static int map_run(struct wcl_mapping *m, uint64_t lo, uint64_t hi)
{
    struct wcl_file *f = m->file;
    uint64_t i = pinned_lower(f, lo);
    uint64_t b = lo;
    while (b < hi) {
        uint64_t next_pin = i < f->npinned && f->pinned[i].blk < hi ? f->pinned[i].blk : hi;
        if (b < next_pin) {
            int rc = map_unpinned(m, b, next_pin);
            if (rc < 0)
                return rc;
            b = next_pin;
        }
        if (b < hi) {
            int rc = map_pinned(m, b, f->pinned[i].rev, 0, m->blksize);
            if (rc < 0)
                return rc;
            b++;
            i++;
        }
    }
    return 0;
}

/* ---- PinRequest on the actor (invariant 2) --------------------------------------------------- */

struct pin_args {
    wcl_conn_t *c;
    uint64_t oid, blk, rev;
    int is_head;
};

static struct wcl_file *find_file(wcl_conn_t *c, uint64_t oid)
{
    for (struct wcl_file *f = c->files; f; f = f->next)
        if (f->oid == oid)
            return f;
    return NULL;
}

static int closed_index(wcl_conn_t *c, uint64_t oid)
{
    for (uint64_t i = 0; i < c->nclosed; i++)
        if (c->closed_oids[i] == oid)
            return (int)i;
    return -1;
}

/* "Check dirty, then remap" for a Mapping that is the base of a VMA (VIRTMEM.md §4.2): pages of blk
 * that are dirty in the VMA's handle stay; the others are re-mapped per the rule and their generation
 * is bumped (virtmem invariant 4: a write fault copying the old base concurrently is refused and
 * copies again). One actor message with the pinned[] update: no write can slip in between. */
static int pin_vma_pages(struct wcl_mapping *m, uint64_t blk)
{
    vm_vma_t *v = m->vma;
    vm_fileh_t *fh = v->fh;
    uint64_t first = blk * fh->ppb;
    if (atomic_load(&v->efault) || !vm_vma_covers(v, first))
        return 0;
    int rc = 0;
    uint64_t k = 0;
    while (k < fh->ppb) {
        if (atomic_load(&v->pages[first + k - v->pgoffset]->state) == VM_PAGE_DIRTY) {
            k++;
            continue;
        }
        uint64_t start = k;
        while (k < fh->ppb && atomic_load(&v->pages[first + k - v->pgoffset]->state) != VM_PAGE_DIRTY)
            k++;
        int r = map_block_bytes(m, blk, start * fh->pagesize, (k - start) * fh->pagesize);
        if (r < 0 && rc == 0)
            rc = r;
    }
    for (k = 0; k < fh->ppb; k++) {
        struct vm_page *pg = v->pages[first + k - v->pgoffset];
        if (atomic_load(&pg->state) != VM_PAGE_DIRTY)
            atomic_fetch_add(&pg->gen, 1);
    }
    return rc;
}

static int32_t pin_on_actor(void *arg)
{
    struct pin_args *p = arg;
    struct wcl_file *f = find_file(p->c, p->oid);
    if (!f)
        return closed_index(p->c, p->oid) >= 0 ? 0 : -ENOENT; /* invariant (8) */
    if (p->blk > (uint64_t)INT64_MAX / f->blksize - 1)
        return -ERANGE;
    int32_t rc = pinned_set(f, p->blk, p->rev, p->is_head);
    if (rc < 0)
        return rc;
    for (struct wcl_mapping *m = f->mappings; m; m = m->next) {
        if (m->efault || p->blk < m->blk_start || p->blk >= m->blk_stop)
            continue;
        int r = m->vma ? pin_vma_pages(m, p->blk) : map_run(m, p->blk, p->blk + 1);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

int32_t wcl_pin_apply(wcl_conn_t *c, uint64_t oid, uint64_t blk, uint64_t rev, int is_head)
{
    struct pin_args a = { c, oid, blk, rev, is_head };
    return vm_actor_call(pin_on_actor, &a);
}

/* ---- files ----------------------------------------------------------------------------------- */

static int stat_size(const char *mnt, const char *view, uint64_t oid, uint64_t *size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/bigfile/%016llx", mnt, view, (unsigned long long)oid);
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int size_at(wcl_conn_t *c, uint64_t oid, uint64_t at, uint64_t *size)
{
    char view[32];
    snprintf(view, sizeof view, "@%016llx", (unsigned long long)at);
    return stat_size(c->mnt, view, oid, size);
}

static int32_t register_on_actor(void *arg)
{
    struct wcl_file *f = arg;
    wcl_conn_t *c = f->conn;
    if (find_file(c, f->oid))
        return -EEXIST;
    int k = closed_index(c, f->oid);
    if (k >= 0)
        c->closed_oids[k] = c->closed_oids[--c->nclosed];
    f->next = f->conn->files;
    f->conn->files = f;
    return 0;
}

int32_t wcl_file_open(wcl_conn_t *c, uint64_t oid, uint64_t at, wcl_file_t **out)
{
    if (!c || !out)
        return -EINVAL;
    char path[4096];
    snprintf(path, sizeof path, "%s/head/bigfile/%016llx", c->mnt, (unsigned long long)oid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    uint64_t size = 0;
    int32_t rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && st.st_blksize <= 0)
        rc = -EINVAL;
    if (rc == 0)
        rc = size_at(c, oid, at, &size);
    struct wcl_file *f = rc == 0 ? calloc(1, sizeof *f) : NULL;
    if (rc == 0 && !f)
        rc = -ENOMEM;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    f->conn = c;
    f->oid = oid;
    f->blksize = (uint64_t)st.st_blksize;
    atomic_store(&f->size, size);
    f->head_fd = fd;
    rc = vm_actor_call(register_on_actor, f);
    if (rc < 0) {
        close(fd);
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int32_t wcl_file_info(wcl_file_t *f, uint64_t *blksize, uint64_t *size)
{
    if (!f)
        return -EINVAL;
    if (blksize)
        *blksize = f->blksize;
    if (size)
        *size = atomic_load(&f->size);
    return 0;
}

struct resize_args {
    struct wcl_file *f;
    uint64_t size;
};

static int32_t resize_on_actor(void *arg)
{
    struct resize_args *a = arg;
    struct wcl_file *f = a->f;
    uint64_t old_nblk = atomic_load(&f->size) / f->blksize, new_nblk = a->size / f->blksize;
    if (new_nblk < old_nblk)
        return -EINVAL; /* sizes are high-water marks: a smaller one means going back */
    atomic_store(&f->size, a->size);
    int32_t rc = 0;
    for (struct wcl_mapping *m = f->mappings; m; m = m->next) {
        if (m->efault)
            continue;
        /* clamped to the mapping: nothing before its start, nothing after its end */
        uint64_t lo = old_nblk > m->blk_start ? old_nblk : m->blk_start;
        uint64_t hi = new_nblk < m->blk_stop ? new_nblk : m->blk_stop;
        /* The base of a VMA: "check dirty, then remap" per block, as a pin (VIRTMEM.md §4.5: growth
         * leaves dirty pages in place and bumps the generation of the pages it re-maps). */
        for (uint64_t b = lo; m->vma && b < hi; b++) {
            int r = pin_vma_pages(m, b);
            if (r < 0 && rc == 0)
                rc = r;
        }
        if (!m->vma && lo < hi) {
            int r = map_run(m, lo, hi);
            if (r < 0 && rc == 0)
                rc = r;
        }
    }
    return rc;
}

int32_t wcl_file_resize(wcl_file_t *f, uint64_t new_at)
{
    if (!f)
        return -EINVAL;
    struct resize_args a = { f, 0 };
    int32_t rc = size_at(f->conn, f->oid, new_at, &a.size);
    if (rc < 0)
        return rc;
    /* refresh the kernel's size of head/bigfile/<oid> (attr timeout 0 on the server): a fault past the
     * size the kernel last saw is SIGBUS, even if the server has the data (invariant 4) */
    struct stat st;
    if (fstat(f->head_fd, &st) < 0)
        return -errno;
    if ((uint64_t)st.st_size < a.size)
        return -EIO; /* head is behind the requested at: the caller waits for head/at first */
    return vm_actor_call(resize_on_actor, &a);
}

struct pinned_args {
    struct wcl_file *f;
    uint64_t *blks, *revs;
    uint64_t cap;
    int64_t n;
};

static int32_t pinned_on_actor(void *arg)
{
    struct pinned_args *a = arg;
    a->n = (int64_t)a->f->npinned;
    if (a->f->npinned > a->cap)
        return 0;
    for (uint64_t i = 0; i < a->f->npinned; i++) {
        a->blks[i] = a->f->pinned[i].blk;
        a->revs[i] = a->f->pinned[i].rev;
    }
    return 0;
}

int64_t wcl_file_pinned(wcl_file_t *f, uint64_t *blks, uint64_t *revs, uint64_t cap)
{
    if (!f || (cap && (!blks || !revs)))
        return -EINVAL;
    struct pinned_args a = { f, blks, revs, cap, 0 };
    int32_t rc = vm_actor_call(pinned_on_actor, &a);
    return rc < 0 ? rc : a.n;
}

static int efault_mapping(struct wcl_mapping *m)
{
    m->efault = 1;
    if (m->vma) { /* the VMA's range belongs to virtmem: its efault (fault.c F4 reports accesses) */
        atomic_store(&m->vma->efault, 1);
        return vm_map_none(m->vma, m->vma->pgoffset, m->vma->pglen);
    }
    wcl_closed_add(m->addr, m->addr + m->len); /* before PROT_NONE (wcfs_client_fault.c F2) */
    void *a = mmap((void *)m->addr, m->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    return a == MAP_FAILED ? -errno : 0;
}

static int32_t file_close_on_actor(void *arg)
{
    struct wcl_file *f = arg;
    wcl_conn_t *c = f->conn;
    if (closed_index(c, f->oid) < 0) { /* invariant (8) */
        if (c->nclosed == c->capclosed) {
            uint64_t cap = c->capclosed ? c->capclosed * 2 : 16;
            uint64_t *t = realloc(c->closed_oids, cap * sizeof *t);
            if (t) {
                c->closed_oids = t;
                c->capclosed = cap;
            }
        }
        if (c->nclosed < c->capclosed)
            c->closed_oids[c->nclosed++] = f->oid;
    }
    for (struct wcl_file **pp = &f->conn->files; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    int32_t rc = 0;
    while (f->mappings) { /* invariant (5) */
        struct wcl_mapping *m = f->mappings;
        f->mappings = m->next;
        int r = efault_mapping(m);
        if (r < 0 && rc == 0)
            rc = r;
        m->file = NULL;
        m->next = NULL;
    }
    return rc;
}

int32_t wcl_file_close(wcl_file_t *f)
{
    if (!f)
        return -EINVAL;
    int32_t rc = vm_actor_call(file_close_on_actor, f);
    close(f->head_fd);
    free(f->pinned);
    free(f);
    return rc;
}

/* ---- mappings -------------------------------------------------------------------------------- */

struct mmap_args {
    struct wcl_file *f;
    uint64_t blk_start, blk_len;
    struct wcl_mapping *m;
    vm_vma_t *vma;               /* the VMA whose base this Mapping becomes, or NULL */
};

static int32_t mmap_on_actor(void *arg)
{
    struct mmap_args *a = arg;
    struct wcl_file *f = a->f;
    if (a->blk_len == 0 || a->blk_start > (uint64_t)INT64_MAX / f->blksize - a->blk_len ||
        a->blk_len > SIZE_MAX / f->blksize)
        return -EINVAL;
    struct wcl_mapping *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->file = f;
    m->blk_start = a->blk_start;
    m->blk_stop = a->blk_start + a->blk_len;
    m->blksize = f->blksize;
    m->len = a->blk_len * f->blksize;
    m->vma = a->vma; /* before map_run: it notes the VMA's zero pages */
    /* reserve the range as zeros first, then map what the rule says (nothing half-mapped) */
    /* at a huge-page boundary: virtmem may back this VMA's dirty pages with huge pages (ram.c R4) */
    void *addr = vm_reserve_aligned(m->len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    if (addr == MAP_FAILED) {
        int e = -errno;
        free(m);
        return e;
    }
    m->addr = (uintptr_t)addr;
    wcl_conn_t *c = f->conn; /* published before it is mapped from the server (wcfs_client_fault.c F2) */
    wcl_live_add(m->addr, m->addr + m->len, f->oid, m->blk_start, m->blksize, c->mount, atomic_load(&c->dev));
    int rc = map_run(m, m->blk_start, m->blk_stop);
    if (rc < 0) {
        munmap(addr, m->len);
        wcl_live_remove(m->addr);
        free(m);
        return rc;
    }
    m->next = f->mappings;
    f->mappings = m;
    a->m = m;
    return 0;
}

int32_t wcl_mmap(wcl_file_t *f, uint64_t blk_start, uint64_t blk_len, wcl_mapping_t **out, void **addr_out)
{
    if (!f || !out)
        return -EINVAL;
    struct mmap_args a = { f, blk_start, blk_len, NULL, NULL };
    int32_t rc = vm_actor_call(mmap_on_actor, &a);
    if (rc == 0) {
        *out = a.m;
        if (addr_out)
            *addr_out = (void *)a.m->addr;
    }
    return rc;
}

struct remmap_args {
    struct wcl_mapping *m;
    uint64_t blk;
};

static int32_t remmap_on_actor(void *arg)
{
    struct remmap_args *a = arg;
    struct wcl_mapping *m = a->m;
    if (m->efault || !m->file)
        return -ESHUTDOWN;
    if (a->blk < m->blk_start || a->blk >= m->blk_stop)
        return -EINVAL;
    return map_run(m, a->blk, a->blk + 1);
}

int32_t wcl_mapping_remmap_blk(wcl_mapping_t *m, uint64_t blk)
{
    if (!m)
        return -EINVAL;
    struct remmap_args a = { m, blk };
    return vm_actor_call(remmap_on_actor, &a);
}

static int32_t unmap_on_actor(void *arg)
{
    struct wcl_mapping *m = arg;
    if (m->file)
        for (struct wcl_mapping **pp = &m->file->mappings; *pp; pp = &(*pp)->next)
            if (*pp == m) {
                *pp = m->next;
                break;
            }
    int32_t rc = munmap((void *)m->addr, m->len) < 0 ? -errno : 0;
    wcl_live_remove(m->addr); /* after the unmap (wcfs_client_fault.c F2) */
    if (m->efault)
        wcl_closed_remove(m->addr);
    return rc;
}

int32_t wcl_unmap(wcl_mapping_t *m)
{
    if (!m)
        return -EINVAL;
    int32_t rc = vm_actor_call(unmap_on_actor, m);
    free(m);
    return rc;
}

/* ---- re-attach to a new server (wcfs_client_reattach.c; actor thread) ------------------------------ */

/* Every block of m again per the rule; for the base of a VMA only pages that are not dirty (their
 * generation bumped: a write fault that copied the old base copies again). */
static int remap_all(struct wcl_mapping *m)
{
    if (m->efault)
        return 0;
    if (!m->vma)
        return map_run(m, m->blk_start, m->blk_stop);
    int rc = 0;
    for (uint64_t b = m->blk_start; b < m->blk_stop; b++) {
        int r = pin_vma_pages(m, b);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

struct reattach_args {
    wcl_conn_t *c;
    uint64_t new_dev;
    uint64_t *oids;
    int n;
};

/* The files of c on the new server: head reopened in place (dup2: the fd number stays, so no other
 * thread ever sees a closed one), @rev fds of the dead server dropped, every mapping re-mapped with
 * a floor at the conn's at (unpinned blocks show @at: the snapshot itself, whatever the new server
 * knows of history; wcl_unfloor goes back to head once a watch at at (or later) was accepted). Dirty
 * pages stay. The live ranges move to the new device. */
static int32_t reattach_on_actor(void *arg)
{
    struct reattach_args *a = arg;
    wcl_conn_t *c = a->c;
    uint64_t at = atomic_load(&c->at);
    int n = 0;
    for (struct wcl_file *f = c->files; f; f = f->next)
        n++;
    a->oids = calloc((size_t)n + 1, sizeof *a->oids);
    if (!a->oids)
        return -ENOMEM;
    pthread_mutex_lock(&c->revmu);
    for (int i = 0; i < c->nrevs; i++)
        if (c->revs[i].fd >= 0)
            close(c->revs[i].fd);
    c->nrevs = 0;
    pthread_mutex_unlock(&c->revmu);
    int32_t rc = 0;
    for (struct wcl_file *f = c->files; f; f = f->next) {
        char path[4096];
        snprintf(path, sizeof path, "%s/head/bigfile/%016llx", c->mnt, (unsigned long long)f->oid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = rc ? rc : -errno;
            continue;
        }
        dup2(fd, f->head_fd);
        close(fd);
        f->floor = at;
        f->npinned = 0; /* the new server knows no pins of this link: its pinned set and ours start
                           empty together (the floor shows the snapshot meanwhile) */
        atomic_store(&c->floored, 1);
        a->oids[a->n++] = f->oid;
        for (struct wcl_mapping *m = f->mappings; m; m = m->next) {
            if (m->efault)
                continue;
            wcl_live_remove(m->addr);
            wcl_live_add(m->addr, m->addr + m->len, f->oid, m->blk_start, m->blksize, c->mount, a->new_dev);
            int r = remap_all(m);
            if (r < 0 && rc == 0)
                rc = r;
        }
    }
    atomic_store(&c->dev, a->new_dev);
    return rc;
}

int32_t wcl_reattach_remap(wcl_conn_t *c, uint64_t new_dev, uint64_t **oids, int *n)
{
    struct reattach_args a = { c, new_dev, NULL, 0 };
    int32_t rc = vm_actor_call(reattach_on_actor, &a);
    *oids = a.oids;
    *n = a.n;
    return rc;
}

static int32_t unfloor_on_actor(void *arg)
{
    wcl_conn_t *c = arg;
    int32_t rc = 0;
    atomic_store(&c->floored, 0);
    for (struct wcl_file *f = c->files; f; f = f->next) {
        if (!f->floor)
            continue;
        f->floor = 0;
        for (struct wcl_mapping *m = f->mappings; m; m = m->next) {
            int r = remap_all(m);
            if (r < 0 && rc == 0)
                rc = r;
        }
    }
    return rc;
}

int32_t wcl_unfloor(wcl_conn_t *c) { return atomic_load(&c->floored) ? vm_actor_call(unfloor_on_actor, c) : 0; }

struct floor_args {
    struct wcl_file *f;
    uint64_t at;
};

/* One file of a conn that a re-attach left on the snapshot floor. at != 0: a watch at at was refused
 * (the new server's history starts later): the floor moves to at (the snapshot of the conn's new at,
 * immutable, served from @at whatever the server knows), pins emptied (the server watches nothing of
 * this file on the link), every mapping re-mapped, dirty pages left. at == 0: a watch was accepted:
 * the floor is lifted (head, the server pins what it must). 1 if done, 0 if the conn has no floor
 * (at != 0) or the file none (at == 0). */
static int32_t floor_on_actor(void *arg)
{
    struct floor_args *a = arg;
    struct wcl_file *f = a->f;
    wcl_conn_t *c = f->conn;
    if (a->at) {
        if (!atomic_load(&c->floored))
            return 0;
        f->floor = a->at;
        f->npinned = 0;
    } else {
        if (!f->floor)
            return 0;
        f->floor = 0;
        int any = 0;
        for (struct wcl_file *g = c->files; g; g = g->next)
            any |= g->floor != 0;
        atomic_store(&c->floored, any);
    }
    int32_t rc = 0;
    for (struct wcl_mapping *m = f->mappings; m; m = m->next) {
        int r = remap_all(m);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc < 0 ? rc : 1;
}

int32_t wcl_file_floor(wcl_file_t *f, uint64_t at)
{
    if (!f)
        return -EINVAL;
    struct floor_args a = { f, at };
    return vm_actor_call(floor_on_actor, &a);
}

/* ---- base layer of virtmem VMAs (issue 6; struct vm_base_ops, all on the mmap actor) ------------ */

static struct wcl_mapping *mapping_of_vma(struct wcl_file *f, vm_vma_t *vma)
{
    for (struct wcl_mapping *m = f->mappings; m; m = m->next)
        if (m->vma == vma)
            return m;
    return NULL;
}

static int32_t base_mmap_setup_read(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t blklen, void **addr_out)
{
    struct mmap_args a = { ctx, blk, blklen, NULL, vma };
    int32_t rc = mmap_on_actor(&a);
    if (rc < 0)
        return rc;
    *addr_out = (void *)a.m->addr;
    return 0;
}

static int32_t base_remmap_blk_read(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t off, uint64_t len)
{
    struct wcl_mapping *m = mapping_of_vma(ctx, vma);
    if (!m)
        return -ENOENT;
    return m->efault ? 0 : map_block_bytes(m, blk, off, len);
}

static void base_munmap(void *ctx, vm_vma_t *vma)
{
    struct wcl_mapping *m = mapping_of_vma(ctx, vma);
    if (!m)
        return;
    unmap_on_actor(m);
    free(m);
}

static const struct vm_base_ops wcl_base_ops = { base_mmap_setup_read, base_remmap_blk_read, base_munmap };

int32_t wcl_file_vm_base(wcl_file_t *f, vm_file_t **out)
{
    if (!f || !out)
        return -EINVAL;
    return vm_file_create_overlay(f->blksize, &wcl_base_ops, f, out);
}
