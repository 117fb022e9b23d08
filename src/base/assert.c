/* Assertion failure: report and abort, so that a core dump shows the broken invariant. */
#include "assert.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void ortak__assert_fail(const char *expr, const char *file, int line, const char *func) {
    fprintf(stderr, "ortak: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}
