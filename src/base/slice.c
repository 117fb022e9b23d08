/* Slices: bounded views of bytes, parsed without relying on NUL termination. */
#include "slice.h"

#include <string.h>

struct ortak_slice ortak_slice_from_cstr(const char *s) {
    return (struct ortak_slice){s, strlen(s)};
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

struct ortak_slice ortak_slice_trim(struct ortak_slice s) {
    while (s.len > 0 && is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_blank(s.ptr[s.len - 1])) s.len--;
    return s;
}

bool ortak_slice_eq(struct ortak_slice a, struct ortak_slice b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool ortak_slice_eq_cstr(struct ortak_slice a, const char *b) { return ortak_slice_eq(a, ortak_slice_from_cstr(b)); }

bool ortak_slice_parse_u64(struct ortak_slice s, uint64_t max, uint64_t *out) {
    if (s.len == 0) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c < '0' || c > '9') return false;
        uint64_t d = (uint64_t)(c - '0');
        if (d > max || v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool ortak_slice_copy(struct ortak_slice s, char *dst, size_t cap) {
    if (cap == 0 || s.len >= cap) return false;
    if (s.len) memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
    return true;
}
