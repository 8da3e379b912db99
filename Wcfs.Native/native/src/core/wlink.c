/* wlink.c - the frame codec of the watch link (PROTOCOL.md §1, §4): pure functions, no state.
 *
 * Used by the pinner (pinner.c) on its own thread and by the C test that replays the shared
 * transcripts (the .txt files in protocol/transcripts/) that the C# grammar (WatchLinkGrammar.cs) is checked
 * against as well, so the two sides cannot drift apart.
 *
 * Invariants:
 *  (W1) a frame is "<stream> <text>\n", stream decimal uint64 (no sign, no overflow), at most
 *       WCL_FRAME_MAX bytes including the '\n';
 *  (W2) oid/rev are exactly 16 hex digits (either case); blk is decimal without leading zeros
 *       (except "0") and without sign, at most INT64_MAX (C#'s BlockNumber).
 */
#include <errno.h>
#include <string.h>

#include "wcfs_client.h"

int32_t wcl_wlink_parse_frame(const char *line, uint64_t len, uint64_t *stream, uint64_t *text_off)
{
    if (len + 1 > WCL_FRAME_MAX)
        return -EPROTO;
    uint64_t i = 0, s = 0;
    while (i < len && line[i] != ' ') {
        char ch = line[i];
        if (ch < '0' || ch > '9')
            return -EPROTO;
        uint64_t d = (uint64_t)(ch - '0');
        if (s > (UINT64_MAX - d) / 10)
            return -EPROTO;
        s = s * 10 + d;
        i++;
    }
    if (i == 0 || i == len) /* no stream, or no space */
        return -EPROTO;
    for (uint64_t k = 0; k < len; k++)
        if (line[k] == '\n')
            return -EPROTO;
    *stream = s;
    *text_off = i + 1;
    return 0;
}

static int parse_hex16(const char *p, uint64_t len, uint64_t *out)
{
    if (len != 16)
        return -EPROTO;
    uint64_t v = 0;
    for (uint64_t i = 0; i < 16; i++) {
        char ch = p[i];
        uint64_t d;
        if (ch >= '0' && ch <= '9')
            d = (uint64_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (uint64_t)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (uint64_t)(ch - 'A' + 10);
        else
            return -EPROTO;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static int parse_blk(const char *p, uint64_t len, uint64_t *out)
{
    if (len == 0 || (len > 1 && p[0] == '0'))
        return -EPROTO;
    uint64_t v = 0;
    for (uint64_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EPROTO;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EPROTO;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX) /* blocks are int64 on both sides (C# BlockNumber) */
        return -EPROTO;
    *out = v;
    return 0;
}

int32_t wcl_wlink_parse_pin(const char *text, uint64_t len, uint64_t *oid, uint64_t *blk, uint64_t *rev, int32_t *is_head)
{
    /* split into exactly 4 space-separated words */
    const char *w[4];
    uint64_t wl[4];
    uint64_t n = 0, i = 0;
    while (i <= len) {
        uint64_t j = i;
        while (j < len && text[j] != ' ')
            j++;
        if (n == 4)
            return -EPROTO;
        w[n] = text + i;
        wl[n] = j - i;
        n++;
        i = j + 1;
    }
    if (n != 4 || wl[0] != 3 || memcmp(w[0], "pin", 3) != 0)
        return -EPROTO;
    if (parse_hex16(w[1], wl[1], oid) < 0)
        return -EPROTO;
    if (wl[2] < 2 || w[2][0] != '#' || parse_blk(w[2] + 1, wl[2] - 1, blk) < 0)
        return -EPROTO;
    if (wl[3] < 2 || w[3][0] != '@')
        return -EPROTO;
    if (wl[3] == 5 && memcmp(w[3], "@head", 5) == 0) {
        *is_head = 1;
        *rev = 0;
        return 0;
    }
    *is_head = 0;
    return parse_hex16(w[3] + 1, wl[3] - 1, rev);
}

int32_t wcl_wlink_format(char *buf, uint64_t cap, uint64_t stream, const char *text, uint64_t len)
{
    char num[24];
    int n = 0;
    do {
        num[n++] = (char)('0' + stream % 10);
        stream /= 10;
    } while (stream);
    uint64_t total = (uint64_t)n + 1 + len + 1;
    if (total > WCL_FRAME_MAX || total > cap || memchr(text, '\n', len))
        return -EMSGSIZE;
    uint64_t k = 0;
    while (n)
        buf[k++] = num[--n];
    buf[k++] = ' ';
    memcpy(buf + k, text, len);
    k += len;
    buf[k++] = '\n';
    return (int32_t)k;
}
