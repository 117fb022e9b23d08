/*
 * The fuzz target's entry point, declared for the replay driver (replay_main.c), which calls it the way libFuzzer
 * would: once per input, in one process, with the input's bytes only.
 */
#ifndef ORTAK_FUZZ_ISO_H
#define ORTAK_FUZZ_ISO_H

#include <stddef.h>
#include <stdint.h>

/* Always returns 0; a broken invariant aborts the process (that is the finding). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
