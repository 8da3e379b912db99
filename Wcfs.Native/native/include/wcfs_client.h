/* wcfs_client.h - the native data plane of the WCFS client: watch link, pinner, files, mappings
 * (ARCHITECTURE.md §3 and §7, PROTOCOL.md §4). The design lives in src/core/wcfs_client.c.
 *
 * Objects (opaque; created and destroyed by the calls below; prefix wcl_):
 *   wcl_conn_t     one watch link (an open of <mnt>/head/watch) and its pinner thread.
 *   wcl_file_t     one file watched through a conn: head fd, size as of the conn's at, the pinned
 *                  table (blk -> rev), the cache of @rev fds and the list of its mappings.
 *   wcl_mapping_t  blocks [blk_start, blk_stop) of a file mapped read-only: head, zeros past the
 *                  size, pinned blocks at @rev.
 *
 * Calling context: every function may be called from any thread except the mmap actor thread and
 * the pinner thread. Functions that change mappings or tables post a message to the native mmap
 * actor (wcfs_virtmem.h) and wait for it; the actor never waits on managed code. Functions that do
 * file I/O on the mount (open, fstat, write of a frame) block for one FUSE request. Nothing here
 * calls managed code (ARCHITECTURE.md fact 1). Return value: 0, a count where documented, or a
 * negative errno-style code.
 *
 * Units: blk counts blocks of the file's block size; sizes and offsets are bytes; times are ns.
 */
#ifndef WCFS_CLIENT_H
#define WCFS_CLIENT_H

#include <stdint.h>
#include "wcfs_native.h"
#include "wcfs_virtmem.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wcl_conn wcl_conn_t;
typedef struct wcl_file wcl_file_t;
typedef struct wcl_mapping wcl_mapping_t;

/* A frame is at most this many bytes including its '\n' (PROTOCOL.md §4). */
#define WCL_FRAME_MAX 256

/* Event kinds handed from the pinner to the managed side (struct wcl_event.kind). */
#define WCL_EV_REPLY 1 /* a reply on an odd stream: stream, text */
#define WCL_EV_PIN   2 /* a copy of a handled pin: stream, oid, blk, rev/is_head, rc, nanos */
#define WCL_EV_DOWN  3 /* the link is down: text says why (EOF, server's last words, bad frame) */
#define WCL_EV_LAST_WORDS 4 /* stream 0 text from the server (comes before DOWN) */
#define WCL_EV_REATTACHING 5 /* the server died; waiting for a new one (text: why, how long, where) */
#define WCL_EV_REATTACHED 6 /* the conn's files are re-mapped and re-watched on a new server (text) */

/* One event. Blittable; C# mirrors it (ClientNative.Event) and a test checks the layout. */
struct wcl_event {
    int32_t kind;
    int32_t rc;        /* PIN: 0 = acked, else the negative error that made it a nak */
    uint64_t stream;
    uint64_t oid;
    uint64_t blk;
    uint64_t rev;      /* PIN: revision (meaningless if is_head) */
    uint64_t nanos;    /* PIN: from the start of handling this frame to its ack written (frames
                        * that arrive in one read are handled one after another) */
    int32_t is_head;   /* PIN: 1 for @head (unpin) */
    int32_t text_len;
    char text[WCL_FRAME_MAX];
};

/* ---- frame codec (pure; any thread; used by the pinner and checked against transcripts) ---- */

/* Splits one line (without '\n') into stream and text. 0, or -EPROTO for an unframed line (no
 * space, non-decimal or overflowing stream, longer than WCL_FRAME_MAX-1 bytes). */
WCFS_API int32_t wcl_wlink_parse_frame(const char *line, uint64_t len, uint64_t *stream, uint64_t *text_off);
/* Parses "pin <oid> #<blk> @<rev|head>". 0, or -EPROTO. */
WCFS_API int32_t wcl_wlink_parse_pin(const char *text, uint64_t len, uint64_t *oid, uint64_t *blk, uint64_t *rev, int32_t *is_head);
/* Formats "<stream> <text>\n" into buf (cap bytes). The frame length, or -EMSGSIZE. */
WCFS_API int32_t wcl_wlink_format(char *buf, uint64_t cap, uint64_t stream, const char *text, uint64_t len);

/* ---- conn ------------------------------------------------------------------------------------ */

/* Opens <mountpoint>/head/watch and starts the pinner thread. mountpoint is NUL-terminated. */
WCFS_API int32_t wcl_conn_open(const char *mountpoint, wcl_conn_t **out);
/* Writes a client request "<odd> <text>\n" with a fresh odd stream (stored in *stream). Blocks
 * for one FUSE write. -ENOTCONN once the link is down. */
WCFS_API int32_t wcl_conn_request(wcl_conn_t *c, const char *text, uint64_t len, uint64_t *stream);
/* Takes up to cap events from the queue without blocking; returns how many. */
WCFS_API int32_t wcl_conn_poll(wcl_conn_t *c, struct wcl_event *evs, int32_t cap);
/* An eventfd that becomes readable when events are queued (the managed drain loop waits on it;
 * the pinner only ever writes it without blocking). Owned by the conn. */
WCFS_API int32_t wcl_conn_event_fd(wcl_conn_t *c);
/* Forgets cached @rev fds (a resync moves the conn; mappings keep their own references). */
WCFS_API int32_t wcl_conn_drop_rev_cache(wcl_conn_t *c);
/* 1 while the link is up, 0 after it went down. */
WCFS_API int32_t wcl_conn_is_up(wcl_conn_t *c);
/* The conn's at (a re-attach re-watches every file there). Call after open and after each resync. */
WCFS_API int32_t wcl_conn_set_at(wcl_conn_t *c, uint64_t at);
/* How long a link that dropped because its server died waits for a new server on the same mountpoint
 * before it goes down for good (0: it never waits). Faults on the conn's mappings during the wait
 * wait for the re-map and retry (wcfs_client_reattach.c). */
WCFS_API int32_t wcl_conn_set_reattach(wcl_conn_t *c, int64_t timeout_ms);
/* The command (argv[0..argc), copied) a conn runs once per dead server of its mount, when its link
 * dropped because that server died, to start a new one (it must return at once: the server detaches),
 * and the text (copied; NULL: none) the command gets on its stdin: the server's settings, storage URL
 * included, so that no file holds them. At most WCL_AUTOSTART_INPUT_MAX bytes (-E2BIG): the text is
 * written into the pipe before the command starts, which never blocks up to that size. */
#define WCL_AUTOSTART_INPUT_MAX 4096
WCFS_API int32_t wcl_conn_set_autostart(wcl_conn_t *c, const char *const *argv, int32_t argc, const char *input);
/* After a resync whose watches were accepted: unpinned blocks that a re-attach left mapped from the
 * snapshot (@at, because the new server refused a watch that far back) go back to head. */
WCFS_API int32_t wcl_conn_unfloor(wcl_conn_t *c);
/* Counters: pins handled, pins naked, pin copies dropped because the queue was full. */
WCFS_API int32_t wcl_conn_stats(wcl_conn_t *c, uint64_t *pins, uint64_t *naks, uint64_t *dropped);
/* Sends "bye" (if up), waits up to timeout_ms for the pinner to read EOF, makes every mapping of
 * every file of the conn fault (efault), closes the fds. -ETIMEDOUT if the pinner did not stop
 * (it is left detached and the conn memory is leaked on purpose). Exactly once per conn; files
 * must be closed (or are efaulted and freed here). */
WCFS_API int32_t wcl_conn_close(wcl_conn_t *c, int32_t timeout_ms);

/* ---- files ----------------------------------------------------------------------------------- */

/* Looks oid up under head/bigfile/ (a watch needs that), opens it, and registers the file with the
 * conn so that pins for it are served. at: the conn's at, whose @at/ gives the size. */
WCFS_API int32_t wcl_file_open(wcl_conn_t *c, uint64_t oid, uint64_t at, wcl_file_t **out);
/* Block size (st_blksize of head/bigfile/<oid>) and size in bytes as of the current at. */
WCFS_API int32_t wcl_file_info(wcl_file_t *f, uint64_t *blksize, uint64_t *size);
/* Resync step for one file: the size as of new_at; blocks that now exist change from zeros to head
 * in every mapping, clamped to each mapping, except pinned blocks (their pin is applied). */
WCFS_API int32_t wcl_file_resize(wcl_file_t *f, uint64_t new_at);
/* Copies the pinned table, ascending by blk, into blks/revs (cap entries). Returns the number of
 * pinned blocks (nothing copied if it exceeds cap). */
WCFS_API int64_t wcl_file_pinned(wcl_file_t *f, uint64_t *blks, uint64_t *revs, uint64_t cap);
/* A resync step of a conn that a re-attach left on the snapshot floor (wcl_conn_unfloor): at != 0,
 * after the new server refused a watch of f at at (its history starts later), maps f's unpinned
 * blocks from @at (pins emptied, dirty pages left); at == 0, after a watch was accepted, maps head
 * again. 1 if done; 0 if the conn has no floor (at != 0: the refusal is an error) or f none (at == 0). */
WCFS_API int32_t wcl_file_floor(wcl_file_t *f, uint64_t at);
/* Unregisters the file (pins for it are naked from now on), makes its mappings fault, frees it.
 * The mappings' handles stay valid for wcl_unmap. */
WCFS_API int32_t wcl_file_close(wcl_file_t *f);

/* ---- mappings -------------------------------------------------------------------------------- */

/* Maps blocks [blk_start, blk_start+blk_len) read-only: head below the size, zeros past it, pinned
 * blocks at @rev. The whole range or nothing. */
WCFS_API int32_t wcl_mmap(wcl_file_t *f, uint64_t blk_start, uint64_t blk_len, wcl_mapping_t **out, void **addr_out);
/* Maps blk back to pinned[blk], else head, else zeros past the size. -EINVAL outside the mapping,
 * -ESHUTDOWN after its file or conn closed. */
WCFS_API int32_t wcl_mapping_remmap_blk(wcl_mapping_t *m, uint64_t blk);
/* Unmaps and frees. Works after the file or conn closed. Exactly once per mapping. */
WCFS_API int32_t wcl_unmap(wcl_mapping_t *m);

/* ---- base layer of virtmem (issue 6) -------------------------------------------------------- */

/* Creates an overlay vm_file_t whose base layer is this WCFS file: every VMA of it gets a Mapping at
 * its own address range (struct vm_base_ops), and a pin for a block re-maps the pages of it that are
 * not dirty in each VMA's handle, leaving dirty pages in place (pinned[] is updated in every case,
 * and applied when the dirty page goes away: MARKSTORED or discard). The vm_file must be destroyed
 * (all its handles closed) before the WCFS file is closed. */
WCFS_API int32_t wcl_file_vm_base(wcl_file_t *f, vm_file_t **out);

#ifdef __cplusplus
}
#endif
#endif
