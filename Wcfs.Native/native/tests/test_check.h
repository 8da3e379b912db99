/* test_check.h - the checks of the virtmem C tests: CHECK(c) prints the failed condition with its
 * line and exits 1 (a child exits, and the parent reports its status); OK(rc) for 0-or-negative
 * return codes. */
#ifndef WCFS_TEST_CHECK_H
#define WCFS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                     \
    do {                                                                                             \
        if (!(c)) {                                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                    \
            exit(1);                                                                                 \
        }                                                                                            \
    } while (0)
#define OK(rc) CHECK((rc) >= 0)

#endif
