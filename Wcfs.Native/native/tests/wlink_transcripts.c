/* wlink_transcripts.c - CTest driver: the C frame codec (src/core/wlink.c) against the shared
 * watch-link transcripts in protocol/transcripts/ (the C# grammar replays the same files).
 *
 * the session files (sessions/, .txt): "C: <frame>" and "S: <frame>" must parse as frames; an S frame on an even stream must
 * parse as a pin and format back to the same bytes; "S! <line>" must be rejected as a frame or as a pin.
 * grammar.txt (the server's format): every "P: <pin text>" case must give its "= pin <oid> <blk> <rev>"
 * or "= invalid" line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wcfs_client.h"

#define CHECK(c, line)                                                                               \
    do {                                                                                             \
        if (!(c)) {                                                                                  \
            fprintf(stderr, "%s: check failed: %s\n  line: %s\n", file, #c, line);                  \
            failures++;                                                                              \
        }                                                                                            \
    } while (0)

static int failures;

static void check_line(const char *file, char *line)
{
    uint64_t len = strlen(line);
    if (len && line[len - 1] == '\n')
        line[--len] = 0;
    if (len == 0 || line[0] == '#')
        return;
    if (len < 3) {
        CHECK(!"line too short", line);
        return;
    }
    char kind = line[0], mode = line[1];
    char *frame = line + 3;
    uint64_t flen = len - 3;
    uint64_t stream = 0, off = 0;
    int32_t rc = wcl_wlink_parse_frame(frame, flen, &stream, &off);
    if (mode == ':') {
        CHECK(rc == 0, line);
        if (rc != 0)
            return;
        char buf[WCL_FRAME_MAX];
        int32_t n = wcl_wlink_format(buf, sizeof buf, stream, frame + off, flen - off);
        CHECK(n == (int32_t)flen + 1 && memcmp(buf, frame, flen) == 0 && buf[flen] == '\n', line);
        if (kind == 'S' && stream != 0 && stream % 2 == 0) {
            uint64_t oid, blk, rev;
            int32_t head;
            CHECK(wcl_wlink_parse_pin(frame + off, flen - off, &oid, &blk, &rev, &head) == 0, line);
        }
    } else if (mode == '!') {
        int rejected = rc != 0;
        if (!rejected && stream % 2 == 0 && stream != 0) {
            uint64_t oid, blk, rev;
            int32_t head;
            rejected = wcl_wlink_parse_pin(frame + off, flen - off, &oid, &blk, &rev, &head) != 0;
        }
        CHECK(rejected, line);
    } else {
        CHECK(!"unknown line kind", line);
    }
}

static void check_grammar(const char *path)
{
    const char *file = "grammar.txt";
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        failures++;
        return;
    }
    char line[1024], pin[1024] = "";
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "P: ", 3) == 0) {
            snprintf(pin, sizeof pin, "%s", line + 3);
            continue;
        }
        if (!pin[0] || strncmp(line, "= ", 2) != 0)
            continue;
        uint64_t oid, blk, rev;
        int32_t head;
        char got[256];
        if (wcl_wlink_parse_pin(pin, strlen(pin), &oid, &blk, &rev, &head) != 0)
            snprintf(got, sizeof got, "= invalid");
        else if (head)
            snprintf(got, sizeof got, "= pin %016llx %llu head", (unsigned long long)oid, (unsigned long long)blk);
        else
            snprintf(got, sizeof got, "= pin %016llx %llu %016llx", (unsigned long long)oid, (unsigned long long)blk, (unsigned long long)rev);
        CHECK(strcmp(got, line) == 0, pin);
        if (strcmp(got, line) != 0)
            fprintf(stderr, "  expected %s\n  got      %s\n", line, got);
        pin[0] = 0;
        cases++;
    }
    fclose(f);
    CHECK(cases > 0, "no P: cases in grammar.txt");
}

int main(void)
{
    /* __FILE__ is .../Wcfs.Native/native/tests/wlink_transcripts.c */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *cut = strstr(dir, "/Wcfs.Native/native/tests/");
    if (!cut) {
        fprintf(stderr, "cannot locate the repository from %s\n", __FILE__);
        return 1;
    }
    strcpy(cut, "/protocol/transcripts");
    char grammar[8192];
    snprintf(grammar, sizeof grammar, "%s/grammar.txt", dir);
    check_grammar(grammar);
    strcat(dir, "/sessions");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "cannot open %s\n", path);
            return 1;
        }
        char line[1024];
        while (fgets(line, sizeof line, f))
            check_line(e->d_name, line);
        fclose(f);
        files++;
    }
    closedir(d);
    /* formatting limits: a frame over 256 bytes is refused */
    char big[300];
    memset(big, 'x', sizeof big);
    char buf[WCL_FRAME_MAX];
    const char *file = "format";
    CHECK(wcl_wlink_format(buf, sizeof buf, 1, big, 254) == -EMSGSIZE, "format 254 bytes of text");
    CHECK(wcl_wlink_format(buf, sizeof buf, 1, big, 253) == WCL_FRAME_MAX, "format 253 bytes of text");
    if (files == 0) {
        fprintf(stderr, "no transcripts found in %s\n", dir);
        return 1;
    }
    printf("wlink_transcripts: %d files, %d failures\n", files, failures);
    return failures ? 1 : 0;
}
