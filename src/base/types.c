/* Formatting of 128-bit numbers, which printf cannot do. */
#include "ortak/types.h"

char *ortak_u128_hex(ortak_u128 v, char out[33]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 31; i >= 0; i--) {
        out[i] = digits[(unsigned)(v & 0xf)];
        v >>= 4;
    }
    out[32] = '\0';
    return out;
}

char *ortak_i128_dec(ortak_i128 v, char out[41]) {
    char tmp[40];
    int n = 0;
    bool neg = v < 0;
    /* Work on the negative side so that the most negative value needs no special case. */
    ortak_i128 x = neg ? v : -v;
    do {
        tmp[n++] = (char)('0' - (int)(x % 10));
        x /= 10;
    } while (x != 0);
    int k = 0;
    if (neg) out[k++] = '-';
    while (n > 0) out[k++] = tmp[--n];
    out[k] = '\0';
    return out;
}
