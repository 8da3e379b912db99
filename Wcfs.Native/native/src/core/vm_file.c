/* vm_file.c - BigFile backends of virtmem (VIRTMEM.md §1).
 *
 * Classic mode loaders run on the FAULTING thread inside the SIGSEGV handler: they are native,
 * never wait on managed code, and use only async-signal-safe calls (pread). Zero-fill is a no-op
 * because a freshly allocated RAM slot reads as zeros (ram.c invariant R3).
 *
 * Overlay mode's plain-file base ("filebase"): the file is mapped read-only MAP_SHARED; block blk
 * comes from the default fd or from a per-block override fd set with vm_filebase_set_block_fd
 * (a test stand-in for a WCFS pin to @rev). Its ops and the override table are used only on the
 * mmap actor thread, so they need no lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm_internal.h"

struct vm_filebase_pin {
    uint64_t blk;
    int fd;
    struct vm_filebase_pin *next;
};

struct vm_filebase {
    int fd;
    uint64_t blksize;
    struct vm_filebase_pin *pins;
};

static int32_t file_new(uint64_t blksize, int mode, vm_file_t **out)
{
    if (!out || blksize == 0 || blksize % (uint64_t)sysconf(_SC_PAGESIZE) != 0)
        return -EINVAL;
    int32_t rc = vm_init();
    if (rc < 0)
        return rc;
    vm_file_t *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->blksize = blksize;
    f->mode = mode;
    f->fd = -1;
    *out = f;
    return 0;
}

int32_t vm_file_create_zero(uint64_t blksize, vm_file_t **out) { return file_new(blksize, VM_MODE_CLASSIC, out); }

int32_t vm_file_create_pread(uint64_t blksize, int32_t fd, vm_file_t **out)
{
    if (fd < 0)
        return -EBADF;
    int32_t rc = file_new(blksize, VM_MODE_CLASSIC, out);
    if (rc == 0)
        (*out)->fd = fd;
    return rc;
}

int32_t vm_file_create_overlay(uint64_t blksize, const struct vm_base_ops *ops, void *ctx, vm_file_t **out)
{
    if (!ops || !ops->mmap_setup_read || !ops->remmap_blk_read || !ops->munmap)
        return -EINVAL;
    int32_t rc = file_new(blksize, VM_MODE_OVERLAY, out);
    if (rc == 0) {
        (*out)->ops = ops;
        (*out)->ctx = ctx;
    }
    return rc;
}

int32_t vm_file_create_filebase(uint64_t blksize, int32_t fd, vm_file_t **out)
{
    if (fd < 0)
        return -EBADF;
    struct vm_filebase *fb = calloc(1, sizeof *fb);
    if (!fb)
        return -ENOMEM;
    fb->fd = fd;
    fb->blksize = blksize;
    int32_t rc = vm_file_create_overlay(blksize, &vm_filebase_ops, fb, out);
    if (rc < 0) {
        free(fb);
        return rc;
    }
    (*out)->filebase = fb;
    return 0;
}

struct set_fd_args {
    struct vm_filebase *fb;
    uint64_t blk;
    int fd;
};

static int32_t set_block_fd_on_actor(void *p)
{
    struct set_fd_args *a = p;
    struct vm_filebase_pin **pp = &a->fb->pins;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->blk == a->blk)
            break;
    if (a->fd < 0) {
        if (*pp) {
            struct vm_filebase_pin *dead = *pp;
            *pp = dead->next;
            free(dead);
        }
        return 0;
    }
    if (!*pp) {
        *pp = calloc(1, sizeof **pp);
        if (!*pp)
            return -ENOMEM;
        (*pp)->blk = a->blk;
    }
    (*pp)->fd = a->fd;
    return 0;
}

int32_t vm_filebase_set_block_fd(vm_file_t *file, uint64_t blk, int32_t fd)
{
    if (!file || !file->filebase)
        return -EINVAL;
    struct set_fd_args a = { file->filebase, blk, fd };
    return vm_actor_call(set_block_fd_on_actor, &a);
}

int32_t vm_filebase_block_fd(struct vm_filebase *fb, uint64_t blk)
{
    for (struct vm_filebase_pin *p = fb->pins; p; p = p->next)
        if (p->blk == blk)
            return p->fd;
    return fb->fd;
}

static int32_t fb_map(struct vm_filebase *fb, void *addr, uint64_t blk, uint64_t off, uint64_t len)
{
    void *a = mmap(addr, len, PROT_READ, MAP_SHARED | MAP_FIXED, vm_filebase_block_fd(fb, blk),
                   (off_t)(blk * fb->blksize + off));
    return a == MAP_FAILED ? -errno : 0;
}

static int32_t fb_mmap_setup_read(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t blklen, void **addr_out)
{
    struct vm_filebase *fb = ctx;
    uint64_t len = blklen * fb->blksize;
    /* reserved at a huge-page boundary first (ram.c R4), then the file over it */
    void *a = vm_reserve_aligned(len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    if (a == MAP_FAILED)
        return -errno;
    if (mmap(a, len, PROT_READ, MAP_SHARED | MAP_FIXED, fb->fd, (off_t)(blk * fb->blksize)) == MAP_FAILED) {
        int e = -errno;
        munmap(a, len);
        return e;
    }
    for (struct vm_filebase_pin *p = fb->pins; p; p = p->next) {
        if (p->blk < blk || p->blk >= blk + blklen)
            continue;
        int32_t rc = fb_map(fb, (uint8_t *)a + (p->blk - blk) * fb->blksize, p->blk, 0, fb->blksize);
        if (rc < 0) {
            munmap(a, len);
            return rc;
        }
    }
    *addr_out = a;
    return 0;
}

static int32_t fb_remmap_blk_read(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t off, uint64_t len)
{
    return fb_map(ctx, (uint8_t *)vm_vma_blk_addr(vma, blk) + off, blk, off, len);
}

static void fb_munmap(void *ctx, vm_vma_t *vma) { munmap((void *)atomic_load(&vma->addr), vma->len); }

const struct vm_base_ops vm_filebase_ops = { fb_mmap_setup_read, fb_remmap_blk_read, fb_munmap };

static void file_free_now(void *p)
{
    vm_file_t *f = p;
    if (f->filebase) {
        while (f->filebase->pins) {
            struct vm_filebase_pin *n = f->filebase->pins->next;
            free(f->filebase->pins);
            f->filebase->pins = n;
        }
        free(f->filebase);
    }
    free(f);
}

static int32_t file_destroy_on_actor(void *p)
{
    vm_file_t *f = p;
    if (f->users > 0)
        return -EBUSY;
    vm_retire(file_free_now, f);
    return 0;
}

int32_t vm_file_destroy(vm_file_t *file)
{
    if (!file)
        return -EINVAL;
    return vm_actor_call(file_destroy_on_actor, file);
}

/* Faulting thread (SIGSEGV handler): async-signal-safe only. */
int32_t vm_file_load(vm_file_t *file, uint64_t off, void *buf, uint64_t len)
{
    if (file->fd < 0)
        return 0; /* zero-fill: the slot is fresh (ram.c R3) */
    uint64_t done = 0;
    while (done < len) {
        ssize_t n = pread(file->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break; /* past EOF: the rest stays zero */
        done += (uint64_t)n;
    }
    return 0;
}
