/*
 * Request fields and response values: JSON objects read strictly (known keys only, bounded depth), ids, times and
 * amounts in their text forms. Amounts never pass through floating point: they are decimal strings both ways.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ortak/ledger.h"
#include "server.h"

/* The deepest nesting of arrays and objects in JSON text (outside strings). */
static uint32_t json_depth(const char *s, size_t len) {
    uint32_t depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) max = depth;
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        }
    }
    return max;
}

json_t *req_json(struct req *r, const char *const *allowed) {
    if (json_depth(r->body, r->body_len) > SRV_JSON_DEPTH_MAX) {
        reply_error(r, 400, "json_invalid", NULL, "JSON nests deeper than %d", SRV_JSON_DEPTH_MAX);
        return NULL;
    }
    json_error_t e;
    json_t *o = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        reply_error(r, 400, "json_invalid", NULL, "JSON: %s at line %d column %d", e.text, e.line, e.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        reply_error(r, 400, "json_invalid", NULL, "the body must be a JSON object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++) known = strcmp(*a, key) == 0;
        if (!known) {
            reply_error(r, 400, "field_unknown", key, "unknown field '%.64s'", key);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

bool field_str(struct req *r, json_t *o, const char *name, bool required, char *out, size_t cap, const char **got) {
    json_t *v = json_object_get(o, name);
    if (got) *got = NULL;
    if (!v || json_is_null(v)) {
        if (required) reply_error(r, 400, "field_missing", name, "field '%s' is required", name);
        if (out && cap) out[0] = '\0';
        return !required;
    }
    if (!json_is_string(v)) {
        reply_error(r, 400, "field_invalid", name, "field '%s' must be a string", name);
        return false;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (out) {
        if (n >= cap || memchr(s, '\0', n)) {
            reply_error(r, 400, "field_invalid", name, "field '%s' is longer than %zu characters", name, cap - 1);
            return false;
        }
        memcpy(out, s, n + 1);
    }
    if (got) *got = s;
    return true;
}

bool field_bic(struct req *r, json_t *o, const char *name, bool required, char out[12]) {
    if (!field_str(r, o, name, required, out, 12, NULL)) return false;
    if (out[0] && !ortak_bic_valid(out)) {
        reply_error(r, 400, "field_invalid", name, "field '%s' is not a BIC", name);
        return false;
    }
    return true;
}

bool field_currency(struct req *r, json_t *o, const char *name, bool required, char out[4]) {
    if (!field_str(r, o, name, required, out, 4, NULL)) return false;
    if (out[0] && !ortak_iso_currency(out, NULL)) {
        reply_error(r, 400, "field_invalid", name, "field '%s' is not an ISO 4217 currency code", name);
        return false;
    }
    return true;
}

bool parse_id(const char *s, ortak_u128 *out) {
    if (strlen(s) != 32) return false;
    ortak_u128 v = 0;
    for (int i = 0; i < 32; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

bool field_id(struct req *r, json_t *o, const char *name, bool required, ortak_u128 *out) {
    char buf[33];
    *out = 0;
    if (!field_str(r, o, name, required, buf, sizeof buf, NULL)) return false;
    if (buf[0] && !parse_id(buf, out)) {
        reply_error(r, 400, "field_invalid", name, "field '%s' must be 32 lowercase hexadecimal digits", name);
        return false;
    }
    return true;
}

bool field_amount(struct req *r, json_t *o, const char *name, uint8_t minor_units, bool allow_zero, uint64_t *out) {
    char buf[48];
    if (!field_str(r, o, name, true, buf, sizeof buf, NULL)) return false;
    if (ortak_iso_amount_parse(buf, strlen(buf), minor_units, out) != ORTAK_OK || (!allow_zero && *out == 0)) {
        reply_error(r, 400, "field_invalid", name,
                    "field '%s' must be a positive decimal amount with at most %u decimals", name, minor_units);
        return false;
    }
    return true;
}

/* RFC 3339 UTC: "YYYY-MM-DDThh:mm:ss[.fraction]Z". */
bool parse_time(const char *s, ortak_time_ns *out) {
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19) return false;
    if (y < 1970 || y > 2262 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return false;
    const char *p = s + 19;
    int64_t frac = 0, scale = 1000000000;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 9) return false;
            scale /= 10;
            frac += (*p - '0') * scale;
            p++;
        }
        if (digits == 0) return false;
    }
    if (strcmp(p, "Z") != 0) return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return false; /* 31 February and the like */
    /* days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse, in integers) */
    int64_t yy = mo <= 2 ? y - 1 : y;
    int64_t era = yy / 400, yoe = yy - era * 400;
    int64_t doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    int64_t t = days * 86400 + h * 3600 + mi * 60 + sec;
    if (t > INT64_MAX / (int64_t)ORTAK_NS_PER_S - 1) return false;
    *out = (ortak_time_ns)t * ORTAK_NS_PER_S + frac;
    return true;
}

bool field_time(struct req *r, json_t *o, const char *name, ortak_time_ns *out) {
    char buf[40];
    *out = 0;
    if (!field_str(r, o, name, false, buf, sizeof buf, NULL)) return false;
    if (buf[0] && !parse_time(buf, out)) {
        reply_error(r, 400, "field_invalid", name, "field '%s' must be an RFC 3339 UTC time", name);
        return false;
    }
    return true;
}

void format_time(ortak_time_ns t, char out[40]) {
    time_t sec = (time_t)(t / ORTAK_NS_PER_S);
    long ns = (long)(t % ORTAK_NS_PER_S);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ns)
        snprintf(out + n, 40 - n, ".%09ldZ", ns);
    else
        snprintf(out + n, 40 - n, "Z");
}

json_t *json_id(ortak_u128 id) {
    char hex[33];
    return json_string(ortak_u128_hex(id, hex));
}

json_t *json_time(ortak_time_ns t) {
    if (t == 0) return json_null();
    char buf[40];
    format_time(t, buf);
    return json_string(buf);
}

json_t *json_amount(ortak_i128 v, uint8_t minor_units) {
    char buf[48];
    ortak_iso_amount_format(v, minor_units, buf);
    return json_string(buf);
}

json_t *json_uetr(ortak_u128 uetr) {
    char buf[37];
    if (!uetr || !ortak_iso_uetr_text(uetr, buf)) return json_null();
    return json_string(buf);
}

uint8_t srv_minor_units(const struct ortak_engine *e, const char *currency) {
    struct ortak_currency_info c;
    return ortak_ledger_currency_get(ortak_engine_ledger(e), currency, &c) == ORTAK_OK ? c.minor_units : 2;
}
