/* Result code messages, names and ISO reason codes, all generated from ORTAK_RC_MAP. */
#include "ortak/rc.h"

#include <stddef.h>

struct rc_info {
    const char *name;
    const char *iso;
    const char *msg;
};

static const struct rc_info rc_table[] = {
#define RC_ROW(name, num, iso, msg) [num] = {#name, iso, msg},
    ORTAK_RC_MAP(RC_ROW)
#undef RC_ROW
};

_Static_assert(sizeof rc_table / sizeof rc_table[0] == ORTAK_RC_COUNT_, "result codes are dense and in order");

static const struct rc_info *rc_lookup(ortak_rc rc) {
    if ((unsigned)rc >= (unsigned)ORTAK_RC_COUNT_) return NULL;
    return &rc_table[rc];
}

const char *ortak_rc_str(ortak_rc rc) {
    const struct rc_info *i = rc_lookup(rc);
    return i ? i->msg : "unknown result code";
}

const char *ortak_rc_name(ortak_rc rc) {
    const struct rc_info *i = rc_lookup(rc);
    return i ? i->name : "UNKNOWN";
}

const char *ortak_rc_iso_reason(ortak_rc rc) {
    const struct rc_info *i = rc_lookup(rc);
    return i ? i->iso : "";
}
