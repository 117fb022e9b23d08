/* Little-endian writers and readers shared by every encoder and decoder. */
#include "bytes.h"

#include <string.h>

void ortak__le_put(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t ortak__le_get(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void ortak__put_u64(const struct ortak__writer *w, uint64_t v) {
    unsigned char b[8];
    ortak__le_put(b, v, 8);
    w->sink(w->ctx, b, 8);
}

void ortak__put_u128(const struct ortak__writer *w, ortak_u128 v) {
    ortak__put_u64(w, (uint64_t)v);
    ortak__put_u64(w, (uint64_t)(v >> 64));
}

void ortak__put_bytes(const struct ortak__writer *w, const void *p, size_t n) { w->sink(w->ctx, p, n); }

const unsigned char *ortak__get_ref(struct ortak__reader *r, size_t n) {
    if (r->bad || r->cur->len < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)r->cur->ptr;
    r->cur->ptr += n;
    r->cur->len -= n;
    return p;
}

uint64_t ortak__get_le(struct ortak__reader *r, int bytes) {
    const unsigned char *p = ortak__get_ref(r, (size_t)bytes);
    return p ? ortak__le_get(p, bytes) : 0;
}

ortak_u128 ortak__get_u128(struct ortak__reader *r) {
    uint64_t lo = ortak__get_le(r, 8);
    return ORTAK_U128(ortak__get_le(r, 8), lo);
}

void ortak__get_bytes(struct ortak__reader *r, void *dst, size_t n) {
    const unsigned char *p = ortak__get_ref(r, n);
    if (p) memcpy(dst, p, n);
}
