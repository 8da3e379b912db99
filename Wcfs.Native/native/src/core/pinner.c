/* pinner.c - the pinner: one native thread per watch link (ARCHITECTURE.md §3, PROTOCOL.md §4).
 *
 * It reads frames from head/watch and dispatches them:
 *
 *   S: <even> pin <oid> #<blk> @<rev|head>  -> open @rev once (cache), PinRequest to the mmap actor
 *                                              (wcl_pin_apply), then write "<even> ack", or
 *                                              "<even> nak: <reason>" if the pin cannot be served
 *                                              (unwatched file, block out of range, I/O error);
 *                                              then a copy of the event is queued (WCL_EV_PIN)
 *   S: <odd> ok | <odd> error ...           -> queued as WCL_EV_REPLY for the managed ConnActor
 *   S: 0 error: ... | 0 fatal: ...          -> queued as WCL_EV_LAST_WORDS; EOF follows
 *   EOF, read error, unframed line, frame   -> the link is down: if the server died and re-attach is
 *   over WCL_FRAME_MAX, malformed pin          on, wcl_reattach (wcfs_client_reattach.c) waits for a
 *                                              new server and the thread reads its link; else
 *                                              WCL_EV_DOWN with the reason and the thread ends
 *
 * Invariants:
 *  (P1) the thread never waits on managed code: it blocks only in read(2)/write(2)/open(2) on the
 *       mount and in the mmap actor's mailbox, which never waits on managed code either;
 *  (P2) the ack is written only after the PinRequest returned (wcfs_client.c invariant 2);
 *  (P3) all async signals are blocked on this thread and it has its own sigaltstack, so a fault
 *       or signal never runs a managed handler on it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wcfs_client_internal.h"

#define WCL_READ_BUF 65536 /* the server drains its whole queue into one read */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void event_text(struct wcl_event *ev, const char *s, uint64_t len)
{
    if (len > WCL_FRAME_MAX - 1)
        len = WCL_FRAME_MAX - 1;
    memcpy(ev->text, s, len);
    ev->text[len] = 0;
    ev->text_len = (int32_t)len;
}

static void link_down(wcl_conn_t *c, const char *why)
{
    atomic_store(&c->up, 0);
    struct wcl_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = WCL_EV_DOWN;
    event_text(&ev, why, strlen(why));
    wcl_event_push(c, &ev);
}

static const char *nak_reason(int32_t rc)
{
    switch (rc) {
    case -ENOENT:
        return "nak: file not watched by this link";
    case -ERANGE:
        return "nak: block out of range";
    case -ENOMEM:
        return "nak: out of memory or vm.max_map_count reached";
    default:
        return "nak: cannot remap the block";
    }
}

static int write_frame(wcl_conn_t *c, uint64_t stream, const char *text)
{
    char buf[WCL_FRAME_MAX];
    int32_t n = wcl_wlink_format(buf, sizeof buf, stream, text, strlen(text));
    if (n < 0)
        return n;
    ssize_t w = write(c->watch_fd, buf, (size_t)n);
    return w == n ? 0 : -EIO;
}

/* One pin: returns 0, or -EPIPE if the reply could not be written (the link is then down). */
static int handle_pin(wcl_conn_t *c, uint64_t stream, const char *text, uint64_t len, uint64_t t0)
{
    struct wcl_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = WCL_EV_PIN;
    ev.stream = stream;
    int32_t rc = wcl_wlink_parse_pin(text, len, &ev.oid, &ev.blk, &ev.rev, &ev.is_head);
    if (rc == 0 && !ev.is_head)
        rc = wcl_revfd_ensure(c, ev.oid, ev.rev);
    if (rc == 0)
        rc = wcl_pin_apply(c, ev.oid, ev.blk, ev.rev, ev.is_head);
    int w = write_frame(c, stream, rc == 0 ? "ack" : rc == -EPROTO ? "nak: malformed pin request" : nak_reason(rc));
    ev.rc = rc;
    ev.nanos = now_ns() - t0;
    event_text(&ev, text, len);
    atomic_fetch_add(rc == 0 ? &c->stat_pins : &c->stat_naks, 1);
    wcl_event_push(c, &ev);
    if (w < 0)
        return -EPIPE;
    return rc == -EPROTO ? -EPROTO : 0;
}

/* One line (without '\n'). 0 to go on, <0 when the link must go down (*why set). */
static int handle_line(wcl_conn_t *c, const char *line, uint64_t len, const char **why)
{
    uint64_t stream, off;
    if (wcl_wlink_parse_frame(line, len, &stream, &off) < 0) {
        *why = "malformed frame from the server";
        return -EPROTO;
    }
    const char *text = line + off;
    uint64_t tlen = len - off;
    if (stream == 0) {
        struct wcl_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = WCL_EV_LAST_WORDS;
        event_text(&ev, text, tlen);
        wcl_event_push(c, &ev);
        return 0;
    }
    if (stream % 2 == 1) {
        if (wcl_reattach_reply(c, stream, text, tlen))
            return 0; /* a re-watch of a re-attach (wcfs_client_reattach.c) */
        struct wcl_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = WCL_EV_REPLY;
        ev.stream = stream;
        event_text(&ev, text, tlen);
        wcl_event_push(c, &ev);
        return 0;
    }
    int rc = handle_pin(c, stream, text, tlen, now_ns());
    if (rc == -EPIPE)
        *why = "cannot write to the watch link (server gone)";
    else if (rc == -EPROTO)
        *why = "malformed pin request from the server";
    return rc;
}

/* Reads and dispatches frames until the link goes down; returns why. */
static const char *read_link(wcl_conn_t *c, char *buf, char *whybuf, size_t whycap)
{
    uint64_t have = 0;
    const char *why = NULL;
    while (!why) {
        ssize_t n = read(c->watch_fd, buf + have, WCL_READ_BUF - have);
        if (n == 0)
            return "EOF: the server closed the link";
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(whybuf, whycap, "read of the watch link failed: %s (server gone)", strerror(errno));
            return whybuf;
        }
        have += (uint64_t)n;
        uint64_t start = 0;
        for (uint64_t i = 0; i < have && !why; i++) {
            if (buf[i] != '\n')
                continue;
            if (handle_line(c, buf + start, i - start, &why) < 0)
                break;
            start = i + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (!why && have >= WCL_FRAME_MAX)
            why = "frame from the server longer than 256 bytes";
    }
    return why;
}

static void *pinner_main(void *arg)
{
    wcl_conn_t *c = arg;
    (void)vm_request_short_slice(); /* a pin waits for this thread to wake (wcfs_virtmem.h) */
    stack_t ss = { .ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0 }; /* invariant (P3) */
    if (ss.ss_sp)
        sigaltstack(&ss, NULL);
    char *buf = malloc(WCL_READ_BUF);
    const char *why = NULL;
    char whybuf[128];
    if (!buf)
        why = "out of memory for the link buffer";
    while (!why) {
        why = read_link(c, buf, whybuf, sizeof whybuf);
        if (wcl_reattach(c, &why) == 0) /* the server died and a new one answered: read its link */
            why = NULL;
    }
    link_down(c, why);
    free(buf);
    if (ss.ss_sp) {
        stack_t off = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
        sigaltstack(&off, NULL);
        free(ss.ss_sp);
    }
    return NULL;
}

int32_t wcl_pinner_start(wcl_conn_t *c)
{
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* invariant (P3): the thread inherits the mask */
    int e = pthread_create(&c->pinner, NULL, pinner_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return -e;
    pthread_setname_np(c->pinner, "wcfs-pinner");
    c->pinner_started = 1;
    return 0;
}
