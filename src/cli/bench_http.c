/*
 * ortak bench http: a closed-loop load generator for ortakd's HTTP API (docs/api.md, docs/cli.md).
 *
 * --concurrency keep-alive HTTP/1.1 connections are shared among --threads workers; each worker drives its
 * connections with non-blocking sockets and one epoll set (GnuTLS on top for https). A connection acts for one
 * participant (round robin) and pays another. Its choices (payee, amount, JSON or ISO 20022, cross-currency or
 * not) come from its own splitmix64 sequence seeded by --seed and its index, so a seed repeats a workload; UETRs
 * come from the operating system's random source, so that no two runs ever reuse one.
 *
 * Invariants:
 * - a connection has at most one request in flight (closed loop); a payment whose answer does not arrive is
 *   abandoned, never retried (a retry would be a second payment under a fresh UETR);
 * - a response is read into a buffer of at most RESP_BYTES_MAX bytes; one that does not fit or does not parse
 *   is counted as an error and its connection is closed, never a crash;
 * - a payment is recorded (--record) only once its answer has arrived; each worker hands its recorded lines to
 *   the file at least once a second and before it exits, also when SIGTERM or SIGINT stops the run;
 * - only requests begun after the warm-up count; latencies go to a histogram of bounded size (HDR-style: exact
 *   below 2,048 us, then 1/1,024 relative precision up to 60 s; the maximum is kept exactly).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "base/assert.h"
#include "base/rng.h"
#include "base/slice.h"
#include "cli.h"

/* ---- limits --------------------------------------------------------------------------------------------- */

#define BENCH_CLIENTS_MAX 256u
#define BENCH_CONNS_MAX 10000u
#define BENCH_THREADS_MAX 64u
#define BENCH_CONCURRENCY_DEFAULT 64u
#define BENCH_THREADS_DEFAULT 2u
#define BENCH_SECONDS_DEFAULT 10.0
#define BENCH_WARMUP_DEFAULT 1.0
#define BENCH_TIMEOUT_DEFAULT 10.0
/* The longest run or warm-up accepted, in seconds (a day): keeps every deadline far from overflow. */
#define BENCH_SECONDS_MAX 86400.0
/* A bearer token's length (the server wants at least 16 characters). */
#define TOKEN_BYTES_MAX 256u
/* A host name in the URL. */
#define HOST_BYTES_MAX 253u
/* Amounts, in minor units (2 decimals): at most 10^13 major units. */
#define AMOUNT_MINOR_MAX UINT64_C(1000000000000000)
/* One request: the request line and headers (at most about 500 bytes with the longest token) and a body, the
 * largest being a pacs.008 of about 2,500 bytes. */
#define REQ_BYTES_MAX 8192u
#define REQ_BODY_BYTES_MAX 6144u
/* One response: the buffer starts small and doubles up to the bound; the head alone has its own bound. */
#define RESP_BYTES_INIT 4096u
#define RESP_BYTES_MAX ((size_t)1 << 20)
#define RESP_HEAD_BYTES_MAX 16384u
/* JSON nesting followed when looking for "status" and "id" (the server refuses deeper than 16 itself). */
#define JSON_DEPTH_MAX 64
/* Reconnection interval with --retry-connect; how often a worker looks over its connections (reconnections,
 * the end of the run, signals); the record flush interval. */
#define RETRY_CONNECT_MS 50
#define SCAN_MS 10
#define RECORD_FLUSH_MS 1000
#define RECORD_BUF_BYTES 65536u
#define RECORD_LINE_BYTES_MAX 96u
/* Random bytes fetched from the kernel at once (16 per UETR). */
#define RANDOM_BUF_BYTES 4096u
#define EVENTS_MAX 256

/* Latency histogram (microseconds): values below HIST_SUB exactly, then HIST_HALF buckets per power of two. */
#define HIST_SUB 2048u
#define HIST_HALF 1024u
#define LAT_MAX_US UINT64_C(60000000)
#define HIST_BUCKETS (HIST_SUB + 15u * HIST_HALF)

_Static_assert(REQ_BODY_BYTES_MAX + 1024u + TOKEN_BYTES_MAX + HOST_BYTES_MAX < REQ_BYTES_MAX,
               "a request's head and its largest body must fit the request buffer");
_Static_assert(RESP_HEAD_BYTES_MAX < RESP_BYTES_MAX && RESP_BYTES_INIT <= RESP_HEAD_BYTES_MAX, "response bounds");
_Static_assert((LAT_MAX_US >> 15) >= HIST_HALF && (LAT_MAX_US >> 15) < 2 * HIST_HALF,
               "60 s must fall in the histogram's last power of two");
_Static_assert(RECORD_LINE_BYTES_MAX * 4 < RECORD_BUF_BYTES, "record lines must fit the record buffer");
_Static_assert(JSON_DEPTH_MAX <= 64, "the JSON container stack is one 64-bit word");

/* ---- options -------------------------------------------------------------------------------------------- */

struct client {
    char bic[12];
    const char *token;                     /* NULL for a certificate client */
    char *cert, *key;                      /* one allocation: "CERT\0KEY" (cert owns it); NULL for a token client */
    gnutls_certificate_credentials_t cred; /* https only */
};

struct opts {
    const char *url;
    bool tls;
    char host[HOST_BYTES_MAX + 1];
    char port[6];
    char host_header[HOST_BYTES_MAX + 16];
    uint32_t concurrency, threads;
    double seconds, warmup, timeout;
    bool seconds_given;
    uint64_t count; /* 0: no count limit */
    const char *cacert;
    struct client clients[BENCH_CLIENTS_MAX];
    uint32_t client_count;
    uint64_t seed;
    double iso_share, fx_share;
    char currency[4], fx_target[4];
    uint64_t amount_min, amount_max; /* minor units */
    const char *record;
    bool retry_connect, json, print_iso;
};

/* ---- run-time state ------------------------------------------------------------------------------------- */

enum pay_status { PAY_SETTLED, PAY_QUEUED, PAY_ACCEPTED, PAY_REJECTED, PAY_OTHER, PAY_NONE, PAY_STATUS_COUNT };
static const char *const pay_status_names[PAY_STATUS_COUNT] = {"settled",  "queued", "accepted",
                                                               "rejected", "other",  "none"};

enum err_kind { ERR_CONNECT, ERR_IO, ERR_MALFORMED, ERR_TIMEOUT, ERR_5XX, ERR_KIND_COUNT };
static const char *const err_kind_names[ERR_KIND_COUNT] = {"connect", "io", "malformed", "timeout", "5xx"};

/* What a worker counts; summed over the workers at the end. */
struct stats {
    uint64_t requests; /* payments answered that began after the warm-up */
    uint64_t http[600];
    uint64_t pay[PAY_STATUS_COUNT];
    uint64_t err[ERR_KIND_COUNT];
    uint64_t lat_max_us;
    int64_t last_answer_ns;
    uint64_t hist[HIST_BUCKETS];
};

/* One payment attempt: chosen when it begins, kept across a quote and a reconnection (Connection: close). */
struct payment {
    uint32_t payer, payee; /* client indexes */
    uint64_t amount_minor;
    bool iso, fx, quoted;
    char uetr[37];
    char quote_id[33];
};

enum conn_state { CONN_WAIT, CONN_CONNECTING, CONN_HANDSHAKE, CONN_SENDING, CONN_RECEIVING, CONN_DONE };

struct conn {
    uint32_t index, client;
    enum conn_state state;
    int fd;
    bool registered; /* fd is in the worker's epoll set */
    uint32_t events; /* the events asked for */
    bool answered;   /* a response arrived since the last connect: a broken connection may reconnect at once */
    gnutls_session_t tls;
    uint64_t rng;
    int64_t retry_at_ns;
    int64_t since_ns; /* when the connect, or the request, under way began (--timeout) */
    bool active;      /* a payment attempt is under way */
    bool counted;     /* ... and began after the warm-up */
    int64_t start_ns;
    struct payment pay;
    char out[REQ_BYTES_MAX];
    size_t out_len, out_sent;
    char *in;
    size_t in_len, in_cap;
};

struct bench;

struct worker {
    struct bench *b;
    pthread_t thread;
    int epfd;
    struct conn *conns;
    uint32_t conn_count;
    struct stats st;
    _Atomic uint64_t progress_done, progress_errors;
    uint8_t rnd[RANDOM_BUF_BYTES];
    size_t rnd_pos;
    char rec[RECORD_BUF_BYTES];
    size_t rec_len;
    int64_t rec_flushed_ns;
    char body[REQ_BODY_BYTES_MAX];
    time_t clock_s; /* the second the two texts below were made for */
    char now_text[32], today_text[16];
};

struct bench {
    const struct opts *o;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool host_is_ip;
    gnutls_priority_t prio;
    double amount_ln_ratio;                  /* ln(amount_max / amount_min) */
    int64_t t0_ns, warm_end_ns, deadline_ns; /* deadline INT64_MAX: none */
    int64_t timeout_ns;
    _Atomic uint64_t tickets;          /* counted payments begun, with --count */
    _Atomic uint32_t running;          /* workers still running */
    _Atomic bool told[ERR_KIND_COUNT]; /* the first error of each kind was printed */
    int rec_fd;
    pthread_mutex_t rec_lock;
    _Atomic int rec_errno;
    struct worker *workers;
};

/* Set by SIGTERM and SIGINT (lock-free, so safe in a handler); every worker stops within SCAN_MS. */
static atomic_int stop_signal;

static void on_signal(int sig) { atomic_store_explicit(&stop_signal, sig, memory_order_relaxed); }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- usage and options ---------------------------------------------------------------------------------- */

static const char usage[] =
    "usage: ortak bench http --url URL --client BIC=CRED --client BIC=CRED [options]\n"
    "\n"
    "Sends payments to ortakd as fast as it answers them: --concurrency keep-alive connections, one request in\n"
    "flight on each, driven by --threads workers. Prints requests, throughput, latency percentiles and counts by\n"
    "HTTP status and payment status at the end.\n"
    "\n"
    "  --url URL            http://HOST:PORT (demo mode) or https://HOST:PORT (TLS 1.2 or 1.3)\n"
    "  --client BIC=TOKEN   a participant with a bearer token (Authorization: Bearer TOKEN)\n"
    "  --client BIC=CERT,KEY  a participant with a TLS client certificate and key (PEM files); at least two\n"
    "                       clients; each connection acts for one (round robin) and pays another at random\n"
    "  --cacert FILE        the CA certificates (PEM) that verify the server (default: the system's)\n"
    "  --concurrency N      connections (default 64)\n"
    "  --threads N          worker threads (default 2)\n"
    "  --seconds S          measure for S seconds (default 10; with --count, only when given)\n"
    "  --count N            stop after N payments measured\n"
    "  --warmup S           seconds of load not measured first (default 1)\n"
    "  --timeout S          a connect or a request not answered within S seconds is an error (default 10)\n"
    "  --seed N             the workload's random choices (default 1); UETRs are always fresh\n"
    "  --currency CUR       the currency paid (default KZT)\n"
    "  --amount-min A       smallest amount (default 1.00)\n"
    "  --amount-max A       largest amount (default 1000.00); amounts are log-uniform in between\n"
    "  --iso-share F        share of payments sent as ISO 20022 pacs.008 (0..1, default 0)\n"
    "  --fx-share F         share of payments that cross currencies, each after a quote (0..1, default 0)\n"
    "  --fx-target CUR      the currency credited by cross-currency payments (needed with --fx-share)\n"
    "  --record FILE        append 'UETR HTTPSTATUS STATUS' for every payment answered\n"
    "  --retry-connect      when the server cannot be reached, try again every 50 ms until the end\n"
    "  --json               print the result as one JSON object\n"
    "\n"
    "Exit codes: 0 the run finished (errors are counted, not fatal); 2 bad options or unreadable certificate\n"
    "files; 74 no payment answered after the warm-up, an unknown host, or a record file that cannot be written;\n"
    "1 internal error.\n";

/* Says what is wrong, then the usage, on stderr; returns false. */
__attribute__((format(printf, 1, 2))) static bool usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ortak bench http: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return false;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out) {
    return ortak_slice_parse_u64(ortak_slice_from_cstr(s), max, out);
}

/* A decimal number in [lo, hi]: digits, optionally a point and more digits; nothing else. */
static bool parse_real(const char *s, double lo, double hi, double *out) {
    const char *p = s;
    while (*p >= '0' && *p <= '9') p++;
    if (*p == '.') p++;
    while (*p >= '0' && *p <= '9') p++;
    if (p == s || *p != '\0' || (p == s + 1 && *s == '.')) return false;
    char *end;
    double v = strtod(s, &end);
    if (end != p || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

/* An amount with at most 2 decimals, into minor units, at least 0.01 and at most AMOUNT_MINOR_MAX. */
static bool parse_amount(const char *s, uint64_t *minor) {
    struct ortak_slice all = ortak_slice_from_cstr(s), whole = all, frac = {s + all.len, 0};
    const char *dot = memchr(s, '.', all.len);
    if (dot) {
        whole.len = (size_t)(dot - s);
        frac = (struct ortak_slice){dot + 1, all.len - whole.len - 1};
    }
    uint64_t w, f = 0;
    if (!ortak_slice_parse_u64(whole, AMOUNT_MINOR_MAX / 100, &w)) return false;
    if (dot && (frac.len < 1 || frac.len > 2 || !ortak_slice_parse_u64(frac, 99, &f))) return false;
    if (frac.len == 1) f *= 10;
    *minor = w * 100 + f;
    return *minor >= 1 && *minor <= AMOUNT_MINOR_MAX;
}

static bool parse_currency(const char *s, char out[4]) {
    if (strlen(s) != 3) return false;
    for (int i = 0; i < 3; i++) {
        if (s[i] < 'A' || s[i] > 'Z') return false;
    }
    memcpy(out, s, 4);
    return true;
}

/* ISO 9362: 4 letters (institution), 2 letters (country), 2 letters or digits (location), and optionally 3
 * letters or digits (branch). */
static bool bic_valid(const char *s, size_t len) {
    if (len != 8 && len != 11) return false;
    for (size_t i = 0; i < len; i++) {
        bool letter = s[i] >= 'A' && s[i] <= 'Z', digit = s[i] >= '0' && s[i] <= '9';
        if (i < 6 ? !letter : !(letter || digit)) return false;
    }
    return true;
}

/* BIC=TOKEN or BIC=CERT,KEY. A token is printable ASCII without spaces or commas. */
static bool parse_client(const char *v, struct client *c) {
    const char *eq = strchr(v, '=');
    if (!eq || !bic_valid(v, (size_t)(eq - v))) return false;
    memcpy(c->bic, v, (size_t)(eq - v));
    c->bic[eq - v] = '\0';
    const char *cred = eq + 1, *comma = strchr(cred, ',');
    if (comma) {
        if (comma == cred || comma[1] == '\0' || strchr(comma + 1, ',')) return false;
        c->cert = strdup(cred);
        if (!c->cert) return false;
        c->cert[comma - cred] = '\0';
        c->key = c->cert + (comma - cred) + 1;
        return true;
    }
    size_t n = strlen(cred);
    if (n < 1 || n > TOKEN_BYTES_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        if (cred[i] <= ' ' || cred[i] > '~') return false;
    }
    c->token = cred;
    return true;
}

/* http[s]://HOST[:PORT][/]: HOST a name, an IPv4 address or [IPv6]. */
static bool parse_url(const char *url, struct opts *o) {
    const char *p;
    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        p = url + 8;
        o->tls = true;
    } else {
        return false;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = ++p;
        while (*p && *p != ']') p++;
        if (*p != ']') return false;
        host_end = p++;
    } else {
        while (*p && *p != ':' && *p != '/') p++;
        host_end = p;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen > HOST_BYTES_MAX) return false;
    for (const char *q = host; q < host_end; q++) {
        bool ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '.' ||
                  *q == '-' || *q == ':';
        if (!ok) return false;
    }
    memcpy(o->host, host, hlen);
    o->host[hlen] = '\0';
    uint64_t port = o->tls ? 443 : 80;
    if (*p == ':') {
        const char *ps = ++p;
        while (*p >= '0' && *p <= '9') p++;
        if (!ortak_slice_parse_u64((struct ortak_slice){ps, (size_t)(p - ps)}, 65535, &port) || port == 0) return false;
    }
    if (*p == '/') p++;
    if (*p != '\0') return false;
    snprintf(o->port, sizeof o->port, "%u", (unsigned)port);
    bool v6 = host[-1] == '[';
    snprintf(o->host_header, sizeof o->host_header, "%s%s%s:%s", v6 ? "[" : "", o->host, v6 ? "]" : "", o->port);
    o->url = url;
    return true;
}

static const char *const value_opts[] = {"--url",      "--client",    "--cacert",     "--concurrency", "--threads",
                                         "--seconds",  "--count",     "--warmup",     "--timeout",     "--seed",
                                         "--currency", "--fx-target", "--amount-min", "--amount-max",  "--iso-share",
                                         "--fx-share", "--record"};

/* A value option: its value goes where it belongs; false (after saying why) when it is malformed. */
static bool parse_value(struct opts *o, const char *a, const char *v) {
    uint64_t n = 0;
    bool ok;
    if (strcmp(a, "--url") == 0) {
        ok = parse_url(v, o);
    } else if (strcmp(a, "--client") == 0) {
        if (o->client_count == BENCH_CLIENTS_MAX) return usage_error("more than %u clients", BENCH_CLIENTS_MAX);
        ok = parse_client(v, &o->clients[o->client_count]);
        if (ok) o->client_count++;
    } else if (strcmp(a, "--cacert") == 0) {
        o->cacert = v;
        ok = *v != '\0';
    } else if (strcmp(a, "--concurrency") == 0) {
        ok = parse_uint(v, BENCH_CONNS_MAX, &n) && n >= 1;
        o->concurrency = (uint32_t)n;
    } else if (strcmp(a, "--threads") == 0) {
        ok = parse_uint(v, BENCH_THREADS_MAX, &n) && n >= 1;
        o->threads = (uint32_t)n;
    } else if (strcmp(a, "--seconds") == 0) {
        ok = parse_real(v, 0.001, BENCH_SECONDS_MAX, &o->seconds);
        o->seconds_given = true;
    } else if (strcmp(a, "--count") == 0) {
        ok = parse_uint(v, UINT64_MAX / 2, &o->count) && o->count >= 1;
    } else if (strcmp(a, "--warmup") == 0) {
        ok = parse_real(v, 0, BENCH_SECONDS_MAX, &o->warmup);
    } else if (strcmp(a, "--timeout") == 0) {
        ok = parse_real(v, 0.001, BENCH_SECONDS_MAX, &o->timeout);
    } else if (strcmp(a, "--seed") == 0) {
        ok = parse_uint(v, UINT64_MAX, &o->seed);
    } else if (strcmp(a, "--currency") == 0) {
        ok = parse_currency(v, o->currency);
    } else if (strcmp(a, "--fx-target") == 0) {
        ok = parse_currency(v, o->fx_target);
    } else if (strcmp(a, "--amount-min") == 0) {
        ok = parse_amount(v, &o->amount_min);
    } else if (strcmp(a, "--amount-max") == 0) {
        ok = parse_amount(v, &o->amount_max);
    } else if (strcmp(a, "--iso-share") == 0) {
        ok = parse_real(v, 0, 1, &o->iso_share);
    } else if (strcmp(a, "--fx-share") == 0) {
        ok = parse_real(v, 0, 1, &o->fx_share);
    } else if (strcmp(a, "--record") == 0) {
        o->record = v;
        ok = *v != '\0';
    } else {
        ORTAK_UNREACHABLE(); /* value_opts lists every name above */
    }
    return ok ? true : usage_error("bad value for %s: '%s'", a, v);
}

static bool is_flag(struct opts *o, const char *a) {
    if (strcmp(a, "--retry-connect") == 0) return o->retry_connect = true;
    if (strcmp(a, "--json") == 0) return o->json = true;
    if (strcmp(a, "--print-iso") == 0) return o->print_iso = true; /* hidden: one pacs.008 to stdout */
    return false;
}

/* The relations between options, once all are read. */
static bool check_opts(struct opts *o) {
    if (!o->url && !o->print_iso) return usage_error("--url is needed");
    if (o->client_count < 2) return usage_error("at least two --client are needed");
    for (uint32_t i = 0; i < o->client_count; i++) {
        if (o->clients[i].cert && !o->tls && !o->print_iso)
            return usage_error("client %s has a certificate, which needs an https URL", o->clients[i].bic);
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(o->clients[i].bic, o->clients[j].bic) == 0)
                return usage_error("client %s is given twice", o->clients[i].bic);
        }
    }
    if (o->cacert && !o->tls) return usage_error("--cacert needs an https URL");
    if (o->amount_min > o->amount_max) return usage_error("--amount-min is above --amount-max");
    if (o->fx_share > 0 && !o->fx_target[0]) return usage_error("--fx-share needs --fx-target");
    if (o->fx_target[0] && strcmp(o->fx_target, o->currency) == 0)
        return usage_error("--fx-target %s is the currency paid", o->fx_target);
    if (o->threads > o->concurrency) o->threads = o->concurrency;
    if (o->count && !o->seconds_given) o->seconds = 0; /* no time limit */
    return true;
}

/* Returns -1 to go on, or the exit code (--help, a usage error). */
static int parse_opts(int argc, char **argv, struct opts *o) {
    o->concurrency = BENCH_CONCURRENCY_DEFAULT;
    o->threads = BENCH_THREADS_DEFAULT;
    o->seconds = BENCH_SECONDS_DEFAULT;
    o->warmup = BENCH_WARMUP_DEFAULT;
    o->timeout = BENCH_TIMEOUT_DEFAULT;
    o->seed = 1;
    memcpy(o->currency, "KZT", 4);
    o->amount_min = 100;
    o->amount_max = 100000;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (is_flag(o, a)) continue;
        bool known = false;
        for (size_t k = 0; k < sizeof value_opts / sizeof value_opts[0]; k++) known |= strcmp(a, value_opts[k]) == 0;
        if (!known) {
            usage_error("unknown option or argument '%s'", a);
            return CLI_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            usage_error("%s needs a value", a);
            return CLI_EXIT_USAGE;
        }
        if (!parse_value(o, a, argv[++i])) return CLI_EXIT_USAGE;
    }
    return check_opts(o) ? -1 : CLI_EXIT_USAGE;
}

/* ---- the workload --------------------------------------------------------------------------------------- */

/* Uniform in [0, 1), from the top 53 bits. */
static double unit_random(uint64_t *rng) { return (double)(ortak_rng_next(rng) >> 11) * 0x1p-53; }

#define LN2 0.69314718055994530942

/* ln(x) for 1 <= x <= 2^64, without libm (not linked into ortak): x = m 2^e with m in [1, 2), and ln m by the
 * series of 2 atanh((m - 1) / (m + 1)), whose ratio is at most 1/3. */
static double ln_ge1(double x) {
    ORTAK_ASSERT(x >= 1 && x <= 0x1p64);
    int e = 0;
    while (x >= 2) {
        x /= 2;
        e++;
    }
    double t = (x - 1) / (x + 1), t2 = t * t, term = t, sum = 0;
    for (int k = 1; k < 64; k += 2) {
        sum += term / k;
        term *= t2;
    }
    return 2 * sum + e * LN2;
}

/* e^x for 0 <= x <= 45: 2^k e^f with f in [0, ln 2), e^f by its Taylor series. */
static double exp_small(double x) {
    ORTAK_ASSERT(x >= 0 && x <= 45);
    int k = (int)(x / LN2);
    double f = x - k * LN2, term = 1, sum = 1;
    for (int n = 1; n < 24; n++) {
        term *= f / n;
        sum += term;
    }
    for (; k > 0; k--) sum *= 2;
    return sum;
}

/* Log-uniform in [lo, hi] (minor units): small amounts are common, large ones rare but present. ln_ratio is
 * ln(hi / lo). */
static uint64_t amount_pick(uint64_t *rng, uint64_t lo, uint64_t hi, double ln_ratio) {
    if (lo == hi) return lo;
    double v = (double)lo * exp_small(unit_random(rng) * ln_ratio) + 0.5;
    uint64_t m = v >= (double)hi ? hi : (uint64_t)v;
    return m < lo ? lo : m;
}

static void amount_text(uint64_t minor, char out[32]) {
    snprintf(out, 32, "%llu.%02llu", (unsigned long long)(minor / 100), (unsigned long long)(minor % 100));
}

static void random_refill(struct worker *w) {
    size_t got = 0;
    while (got < sizeof w->rnd) {
        ssize_t n = getrandom(w->rnd + got, sizeof w->rnd - got, 0);
        if (n < 0 && errno == EINTR) continue;
        ORTAK_ASSERT(n > 0); /* the kernel's random source does not fail once the system runs */
        got += (size_t)n;
    }
    w->rnd_pos = 0;
}

/* A fresh random version 4 UUID in lowercase canonical text. */
static void uuid_v4(struct worker *w, char out[37]) {
    static const char hex[] = "0123456789abcdef";
    if (w->rnd_pos + 16 > sizeof w->rnd) random_refill(w);
    uint8_t *u = w->rnd + w->rnd_pos;
    w->rnd_pos += 16;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* variant 10 */
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[k++] = '-';
        out[k++] = hex[u[i] >> 4];
        out[k++] = hex[u[i] & 15];
    }
    out[k] = '\0';
}

/* Chooses the next payment of a connection: payee, amount and kind from its seeded sequence, UETR fresh. */
static void payment_choose(const struct bench *b, struct worker *w, struct conn *c) {
    const struct opts *o = b->o;
    struct payment *p = &c->pay;
    p->payer = c->client;
    uint32_t r = (uint32_t)ortak_rng_below(&c->rng, o->client_count - 1);
    p->payee = r >= p->payer ? r + 1 : r;
    p->amount_minor = amount_pick(&c->rng, o->amount_min, o->amount_max, b->amount_ln_ratio);
    p->iso = unit_random(&c->rng) < o->iso_share;
    p->fx = unit_random(&c->rng) < o->fx_share;
    p->quoted = false;
    p->quote_id[0] = '\0';
    uuid_v4(w, p->uetr);
}

/* The texts of the current UTC time and date, made again once a second. */
static void clock_texts(struct worker *w) {
    time_t t = time(NULL);
    if (t == w->clock_s && w->today_text[0]) return;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(w->now_text, sizeof w->now_text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(w->today_text, sizeof w->today_text, "%Y-%m-%d", &tm);
    w->clock_s = t;
}

/* The 32 hex digits of a UETR, for message ids that are unique because the UETR is. */
static void uuid_hex(const char *uetr, char out[33]) {
    size_t k = 0;
    for (size_t i = 0; uetr[i] && k < 32; i++) {
        if (uetr[i] != '-') out[k++] = uetr[i];
    }
    out[k] = '\0';
}

/*
 * A pacs.008.001.08 under a head.001.001.02 header in an <Envelope> (docs/iso20022.md): one transaction from
 * the payer's BIC (header Fr, InstgAgt, DbtrAgt) to the payee's (To, InstdAgt, CdtrAgt), settled by clearing,
 * charges SLEV, settlement date today (UTC). MsgId = BizMsgIdr, InstrId and EndToEndId derive from the UETR. A
 * cross-currency payment names its quote in PmtId/ClrSysRef as FX + the quote id. Every value written is made
 * here of letters, digits and '-', so none needs escaping. Returns the length, or 0 when it does not fit.
 */
static size_t iso_pacs008(char *buf, size_t cap, const struct opts *o, const struct payment *p, const char *now,
                          const char *today) {
    const char *fr = o->clients[p->payer].bic, *to = o->clients[p->payee].bic;
    char id[33], amount[32];
    uuid_hex(p->uetr, id);
    amount_text(p->amount_minor, amount);
    int n = snprintf(buf, cap,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<Envelope>\n"
                     "<AppHdr xmlns=\"urn:iso:std:iso:20022:tech:xsd:head.001.001.02\">\n"
                     "<Fr><FIId><FinInstnId><BICFI>%s</BICFI></FinInstnId></FIId></Fr>\n"
                     "<To><FIId><FinInstnId><BICFI>%s</BICFI></FinInstnId></FIId></To>\n"
                     "<BizMsgIdr>M%s</BizMsgIdr>\n"
                     "<MsgDefIdr>pacs.008.001.08</MsgDefIdr>\n"
                     "<CreDt>%s</CreDt>\n"
                     "</AppHdr>\n"
                     "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\">\n"
                     "<FIToFICstmrCdtTrf>\n"
                     "<GrpHdr><MsgId>M%s</MsgId><CreDtTm>%s</CreDtTm><NbOfTxs>1</NbOfTxs>"
                     "<SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>\n"
                     "<CdtTrfTxInf>\n"
                     "<PmtId><InstrId>I%s</InstrId><EndToEndId>E%s</EndToEndId><UETR>%s</UETR>%s%s%s</PmtId>\n"
                     "<IntrBkSttlmAmt Ccy=\"%s\">%s</IntrBkSttlmAmt>\n"
                     "<IntrBkSttlmDt>%s</IntrBkSttlmDt>\n"
                     "<ChrgBr>SLEV</ChrgBr>\n"
                     "<InstgAgt><FinInstnId><BICFI>%s</BICFI></FinInstnId></InstgAgt>\n"
                     "<InstdAgt><FinInstnId><BICFI>%s</BICFI></FinInstnId></InstdAgt>\n"
                     "<Dbtr><Nm>Customer of %s</Nm></Dbtr>\n"
                     "<DbtrAgt><FinInstnId><BICFI>%s</BICFI></FinInstnId></DbtrAgt>\n"
                     "<CdtrAgt><FinInstnId><BICFI>%s</BICFI></FinInstnId></CdtrAgt>\n"
                     "<Cdtr><Nm>Customer of %s</Nm></Cdtr>\n"
                     "</CdtTrfTxInf>\n"
                     "</FIToFICstmrCdtTrf>\n"
                     "</Document>\n"
                     "</Envelope>\n",
                     fr, to, id, now, id, now, id, id, p->uetr, p->quoted ? "<ClrSysRef>FX" : "",
                     p->quoted ? p->quote_id : "", p->quoted ? "</ClrSysRef>" : "", o->currency, amount, today, fr, to,
                     fr, fr, to, to);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t json_payment(char *buf, size_t cap, const struct opts *o, const struct payment *p) {
    char amount[32];
    amount_text(p->amount_minor, amount);
    int n =
        snprintf(buf, cap, "{\"creditor_agent\":\"%s\",\"currency\":\"%s\",\"amount\":\"%s\",\"uetr\":\"%s\"%s%s%s}",
                 o->clients[p->payee].bic, o->currency, amount, p->uetr, p->quoted ? ",\"quote_id\":\"" : "",
                 p->quoted ? p->quote_id : "", p->quoted ? "\"" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t json_quote(char *buf, size_t cap, const struct opts *o, const struct payment *p) {
    char amount[32];
    amount_text(p->amount_minor, amount);
    int n = snprintf(buf, cap,
                     "{\"source_currency\":\"%s\",\"creditor_agent\":\"%s\",\"target_currency\":\"%s\","
                     "\"amount\":\"%s\",\"fixed\":\"source\"}",
                     o->currency, o->clients[p->payee].bic, o->fx_target, amount);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The next request of a connection's payment into c->out: the quote of a cross-currency payment not yet quoted,
 * else the payment itself, in JSON or ISO 20022. */
static void request_build(const struct bench *b, struct worker *w, struct conn *c) {
    const struct opts *o = b->o;
    const struct client *cl = &o->clients[c->client];
    const struct payment *p = &c->pay;
    const char *path, *ctype = "application/json", *key = p->uetr;
    size_t body_len;
    if (p->fx && !p->quoted) {
        path = "/v1/fx/quotes";
        key = NULL;
        body_len = json_quote(w->body, sizeof w->body, o, p);
    } else if (p->iso) {
        path = "/v1/iso20022";
        ctype = "application/xml";
        clock_texts(w);
        body_len = iso_pacs008(w->body, sizeof w->body, o, p, w->now_text, w->today_text);
    } else {
        path = "/v1/payments";
        body_len = json_payment(w->body, sizeof w->body, o, p);
    }
    ORTAK_ASSERT(body_len > 0); /* every body is made of bounded parts that fit REQ_BODY_BYTES_MAX */
    int n = snprintf(c->out, sizeof c->out,
                     "POST %s HTTP/1.1\r\nHost: %s\r\n%s%s%sContent-Type: %s\r\n%s%s%sContent-Length: %zu\r\n\r\n",
                     path, o->host_header, cl->token ? "Authorization: Bearer " : "", cl->token ? cl->token : "",
                     cl->token ? "\r\n" : "", ctype, key ? "Idempotency-Key: " : "", key ? key : "", key ? "\r\n" : "",
                     body_len);
    ORTAK_ASSERT(n > 0 && (size_t)n + body_len <= sizeof c->out);
    memcpy(c->out + n, w->body, body_len);
    c->out_len = (size_t)n + body_len;
    c->out_sent = 0;
}

/* ---- responses ------------------------------------------------------------------------------------------ */

enum { RESP_MORE, RESP_DONE, RESP_BAD };

/* What is read of one response. */
struct resp {
    int status;
    bool close;   /* the server closes the connection after it */
    size_t total; /* its bytes, head and body */
    char pay_status[16];
    char id[65];
};

struct head {
    int status;
    bool close, chunked, has_length;
    uint64_t length;
};

static char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch; }

static bool ci_eq(struct ortak_slice a, const char *b) {
    size_t n = strlen(b);
    if (a.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        if (lower(a.ptr[i]) != b[i]) return false;
    }
    return true;
}

/* Whether a comma-separated header value holds `tok` (lowercase), or, with last, ends with it. */
static bool has_token(struct ortak_slice v, const char *tok, bool last) {
    bool found = false;
    while (v.len) {
        const char *comma = memchr(v.ptr, ',', v.len);
        size_t n = comma ? (size_t)(comma - v.ptr) : v.len;
        found = ci_eq(ortak_slice_trim((struct ortak_slice){v.ptr, n}), tok) || (found && !last);
        v.ptr += comma ? n + 1 : n;
        v.len -= comma ? n + 1 : n;
    }
    return found;
}

/* The offset just past "\r\n\r\n", or 0. */
static size_t head_end(const char *buf, size_t len) {
    for (size_t i = 3; i < len; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') return i + 1;
    }
    return 0;
}

static bool head_field(struct ortak_slice name, struct ortak_slice value, struct head *h) {
    if (ci_eq(name, "content-length")) {
        uint64_t n;
        if (!ortak_slice_parse_u64(value, RESP_BYTES_MAX, &n) || (h->has_length && n != h->length)) return false;
        h->has_length = true;
        h->length = n;
    } else if (ci_eq(name, "transfer-encoding")) {
        h->chunked = has_token(value, "chunked", true);
        if (!h->chunked && !ci_eq(value, "identity")) return false;
    } else if (ci_eq(name, "connection")) {
        if (has_token(value, "close", false)) h->close = true;
        if (has_token(value, "keep-alive", false) && !has_token(value, "close", false)) h->close = false;
    }
    return true;
}

/* The status line and the header fields, buf[0, len) ending with the empty line. */
static bool head_parse(const char *buf, size_t len, struct head *h) {
    *h = (struct head){0};
    if (len < 16 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ') return false;
    uint64_t status;
    if (!ortak_slice_parse_u64((struct ortak_slice){buf + 9, 3}, 999, &status) || status < 100 || status > 599 ||
        (buf[12] != ' ' && buf[12] != '\r'))
        return false;
    h->status = (int)status;
    h->close = buf[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
    const char *p = memchr(buf, '\n', len), *end = buf + len - 2;
    for (p++; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end + 2 - p));
        if (!eol || eol[-1] != '\r' || *p == ' ' || *p == '\t') return false;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p || colon[-1] == ' ' || colon[-1] == '\t') return false;
        struct ortak_slice name = {p, (size_t)(colon - p)};
        struct ortak_slice value = ortak_slice_trim((struct ortak_slice){colon + 1, (size_t)(eol - 1 - colon - 1)});
        if (!head_field(name, value, h)) return false;
        p = eol + 1;
    }
    return true;
}

/*
 * Walks a chunked body of `avail` bytes at b. With `move`, copies the chunks' data together at b (the walk must
 * have said RESP_DONE before, as the copy overwrites what an unfinished walk would read again). Sets *consumed
 * (the encoded length) and *len (the data's length).
 */
static int chunked_walk(char *b, size_t avail, bool move, size_t *consumed, size_t *len) {
    size_t pos = 0, out = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        for (; pos < avail; pos++, digits++) {
            char ch = lower(b[pos]);
            int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (v < 0) break;
            if (digits == 7) return RESP_BAD; /* 2^28 and above: far beyond RESP_BYTES_MAX */
            size = size * 16 + (size_t)v;
        }
        const char *eol = pos < avail ? memchr(b + pos, '\n', avail - pos) : NULL;
        if (!eol) return RESP_MORE;
        if (digits == 0 || eol[-1] != '\r') return RESP_BAD;
        pos = (size_t)(eol - b) + 1; /* past the chunk extensions, if any */
        if (size == 0) break;
        if (avail - pos < size + 2) return RESP_MORE;
        if (b[pos + size] != '\r' || b[pos + size + 1] != '\n') return RESP_BAD;
        if (move) memmove(b + out, b + pos, size);
        out += size;
        pos += size + 2;
    }
    for (;;) { /* trailer fields, then the empty line */
        const char *eol = pos < avail ? memchr(b + pos, '\n', avail - pos) : NULL;
        if (!eol) return RESP_MORE;
        size_t line = (size_t)(eol - b) + 1 - pos;
        pos += line;
        if (line == 2 && b[pos - 2] == '\r') break;
        if (line < 2 || b[pos - 2] != '\r') return RESP_BAD;
    }
    *consumed = pos;
    *len = out;
    return RESP_DONE;
}

/* Keeps a JSON string value (raw, escapes and all) when it is the shallowest seen for its key and fits. */
static void json_keep(struct ortak_slice v, int depth, int *best, char *dst, size_t cap, bool hex) {
    if (depth >= *best || v.len == 0 || v.len >= cap) return;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.ptr[i];
        bool ok = (ch >= '0' && ch <= '9') || (hex ? ch >= 'a' && ch <= 'f' : (ch >= 'a' && ch <= 'z') || ch == '_');
        if (!ok) return;
    }
    memcpy(dst, v.ptr, v.len);
    dst[v.len] = '\0';
    *best = depth;
}

/*
 * Finds "status" and "id" in a JSON body without building a tree: a single pass over the tokens that keeps the
 * container stack (one bit per level: object or array) to tell keys from values. The shallowest occurrence of
 * each key wins: a payment's own "status", the payment inside a 422 error, transactions[0] of an ISO answer.
 * Returns false when the body is not a JSON object or is cut short.
 */
static bool json_pick(const char *s, size_t n, struct resp *r) {
    uint64_t objects = 0; /* bit d: level d is an object */
    int depth = 0, best_status = JSON_DEPTH_MAX + 1, best_id = JSON_DEPTH_MAX + 1;
    struct ortak_slice key = {NULL, 0};
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    if (i == n || s[i] != '{') return false;
    while (i < n) {
        char ch = s[i];
        if (ch == '{' || ch == '[') {
            if (depth == JSON_DEPTH_MAX) return false;
            objects = ch == '{' ? objects | (UINT64_C(1) << depth) : objects & ~(UINT64_C(1) << depth);
            depth++;
            key.ptr = NULL;
            i++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0 || ((objects >> (depth - 1)) & 1) != (ch == '}')) return false;
            depth--;
            i++;
            if (depth == 0) break;
        } else if (ch == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
            if (j >= n) return false;
            struct ortak_slice str = {s + i + 1, j - i - 1};
            for (i = j + 1; i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n');) i++;
            if (i < n && s[i] == ':' && depth > 0 && ((objects >> (depth - 1)) & 1)) {
                key = str;
                i++;
                continue;
            }
            if (key.ptr && ortak_slice_eq_cstr(key, "status"))
                json_keep(str, depth, &best_status, r->pay_status, sizeof r->pay_status, false);
            if (key.ptr && ortak_slice_eq_cstr(key, "id")) json_keep(str, depth, &best_id, r->id, sizeof r->id, true);
            key.ptr = NULL;
        } else {
            if (ch != ',' && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') key.ptr = NULL; /* a number... */
            i++;
        }
    }
    return depth == 0 && i <= n;
}

/*
 * Reads one response from buf[0, len); eof says that the server closed the connection after these bytes.
 * Returns RESP_MORE (incomplete), RESP_DONE (r filled; a chunked body is decoded in place) or RESP_BAD.
 */
static int resp_parse(char *buf, size_t len, bool eof, struct resp *r) {
    size_t he = head_end(buf, len < RESP_HEAD_BYTES_MAX ? len : RESP_HEAD_BYTES_MAX);
    if (!he) return len >= RESP_HEAD_BYTES_MAX || eof ? RESP_BAD : RESP_MORE;
    struct head h;
    if (!head_parse(buf, he, &h) || h.status < 200) return RESP_BAD; /* 1xx: never asked for */
    char *body = buf + he;
    size_t avail = len - he, body_len, consumed;
    if (h.status == 204 || h.status == 304) {
        consumed = body_len = 0;
    } else if (h.chunked) {
        int rc = chunked_walk(body, avail, false, &consumed, &body_len);
        if (rc == RESP_MORE && eof) return RESP_BAD;
        if (rc != RESP_DONE) return rc;
        chunked_walk(body, avail, true, &consumed, &body_len);
    } else if (h.has_length) {
        if (avail < h.length) return eof ? RESP_BAD : RESP_MORE;
        consumed = body_len = (size_t)h.length;
    } else {
        if (!eof) return RESP_MORE; /* the body ends when the connection does */
        consumed = body_len = avail;
        h.close = true;
    }
    if (he + consumed != len) return RESP_BAD; /* bytes after the answer: requests are never pipelined */
    *r = (struct resp){.status = h.status, .close = h.close || eof, .total = len};
    if (body_len && !json_pick(body, body_len, r)) return RESP_BAD; /* ortakd answers JSON, errors too */
    return RESP_DONE;
}

/* ---- connections ---------------------------------------------------------------------------------------- */

static bool stopping(const struct bench *b, int64_t now) {
    return atomic_load_explicit(&stop_signal, memory_order_relaxed) != 0 || now >= b->deadline_ns;
}

/* Prints the first error of each kind, so that a refused certificate or a wrong port is named once. */
static void tell(struct bench *b, enum err_kind k, const struct conn *c, const char *what, const char *why) {
    if (atomic_exchange(&b->told[k], true)) return;
    fprintf(stderr, "ortak bench http: connection %u (%s): %s: %s%s\n", c->index, b->o->clients[c->client].bic, what,
            why, k == ERR_CONNECT && b->o->retry_connect ? " (retrying every 50 ms)" : "");
}

static void count_error(struct worker *w, enum err_kind k, int64_t now) {
    if (now < w->b->warm_end_ns) return;
    w->st.err[k]++;
    atomic_fetch_add_explicit(&w->progress_errors, 1, memory_order_relaxed);
}

static void conn_fail(struct worker *w, struct conn *c, enum err_kind k, const char *what, const char *why);

/* Waits for `events` on the connection. Every caller returns at once after it, as a failure (the kernel's limit
 * on watched descriptors) closes the connection. */
static void conn_want(struct worker *w, struct conn *c, uint32_t events) {
    if (c->registered && c->events == events) return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(w->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_fail(w, c, ERR_CONNECT, "epoll", strerror(errno));
        return;
    }
    c->registered = true;
    c->events = events;
}

/* Waits for whichever direction GnuTLS is blocked on. */
static void conn_want_tls(struct worker *w, struct conn *c) {
    conn_want(w, c, gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN);
}

static void conn_close(struct conn *c) {
    if (c->tls) gnutls_deinit(c->tls);
    c->tls = NULL;
    if (c->fd >= 0) close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->registered = false;
    c->events = 0;
    c->in_len = 0;
}

/* A connection that failed: the attempt under way is abandoned (never retried: it may have been booked). The
 * connection tries again soon if it had been answered since it connected (the server closed a connection that
 * worked), else in 50 ms with --retry-connect, else it is done. */
static void conn_fail(struct worker *w, struct conn *c, enum err_kind k, const char *what, const char *why) {
    int64_t now = now_ns();
    count_error(w, k, now);
    tell(w->b, k, c, what, why);
    c->active = false;
    bool reconnect = c->answered;
    conn_close(c);
    if (stopping(w->b, now)) {
        c->state = CONN_DONE;
    } else if (reconnect) {
        c->state = CONN_WAIT; /* at the next scan of the worker's connections */
        c->retry_at_ns = now;
    } else if (w->b->o->retry_connect) {
        c->state = CONN_WAIT;
        c->retry_at_ns = now + (int64_t)RETRY_CONNECT_MS * 1000000;
    } else {
        c->state = CONN_DONE;
    }
}

static void conn_fail_tls(struct worker *w, struct conn *c, enum err_kind k, const char *what, int rc) {
    if (rc != GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR || !c->tls) {
        conn_fail(w, c, k, what, gnutls_strerror(rc));
        return;
    }
    gnutls_datum_t text = {NULL, 0};
    unsigned status = gnutls_session_get_verify_cert_status(c->tls);
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) < 0) text.data = NULL;
    char why[512];
    snprintf(why, sizeof why, "%s", text.data ? (const char *)text.data : gnutls_strerror(rc));
    gnutls_free(text.data);
    conn_fail(w, c, k, what, why);
}

/* Records a line for an answered payment: handed to the file when the buffer fills and once a second. */
static void record_flush(struct worker *w, int64_t now) {
    struct bench *b = w->b;
    w->rec_flushed_ns = now;
    if (w->rec_len == 0) return;
    pthread_mutex_lock(&b->rec_lock);
    for (size_t off = 0; off < w->rec_len;) {
        ssize_t n = write(b->rec_fd, w->rec + off, w->rec_len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int expected = 0;
            atomic_compare_exchange_strong(&b->rec_errno, &expected, n < 0 ? errno : EIO);
            break;
        }
        off += (size_t)n;
    }
    pthread_mutex_unlock(&b->rec_lock);
    w->rec_len = 0;
}

static void record_line(struct worker *w, const struct payment *p, int status, const char *pay_status) {
    if (w->b->rec_fd < 0) return;
    if (w->rec_len + RECORD_LINE_BYTES_MAX > sizeof w->rec) record_flush(w, now_ns());
    int n = snprintf(w->rec + w->rec_len, RECORD_LINE_BYTES_MAX, "%s %d %s\n", p->uetr, status,
                     pay_status[0] ? pay_status : "-");
    ORTAK_ASSERT(n > 0 && n < (int)RECORD_LINE_BYTES_MAX); /* a UETR, 3 digits and at most 15 letters */
    w->rec_len += (size_t)n;
}

/* The histogram bucket of a latency: exact below HIST_SUB, then HIST_HALF buckets per power of two. */
static size_t hist_index(uint64_t us) {
    if (us > LAT_MAX_US) us = LAT_MAX_US;
    if (us < HIST_SUB) return (size_t)us;
    unsigned m = (unsigned)(63 - __builtin_clzll(us)) - 10; /* us >> m is in [HIST_HALF, HIST_SUB) */
    return HIST_SUB + (m - 1) * HIST_HALF + (size_t)((us >> m) - HIST_HALF);
}

/* The largest latency a bucket holds. */
static uint64_t hist_value(size_t idx) {
    if (idx < HIST_SUB) return idx;
    unsigned m = (unsigned)((idx - HIST_SUB) / HIST_HALF) + 1;
    uint64_t sub = (idx - HIST_SUB) % HIST_HALF + HIST_HALF;
    return ((sub + 1) << m) - 1;
}

static enum pay_status pay_status_of(const char *s) {
    if (!s[0]) return PAY_NONE;
    for (int k = 0; k < PAY_OTHER; k++) {
        if (strcmp(s, pay_status_names[k]) == 0) return (enum pay_status)k;
    }
    return PAY_OTHER;
}

/* The end of a payment attempt: the payment's answer, or the answer to its quote when that failed. */
static void finish_payment(struct worker *w, struct conn *c, const struct resp *r, bool quote, int64_t now) {
    if (!quote) record_line(w, &c->pay, r->status, r->pay_status);
    c->active = false;
    if (!c->counted) return;
    struct stats *st = &w->st;
    uint64_t us = (uint64_t)(now - c->start_ns) / 1000;
    st->requests++;
    st->http[r->status]++;
    st->pay[pay_status_of(r->pay_status)]++;
    if (r->status >= 500) st->err[ERR_5XX]++;
    st->hist[hist_index(us)]++;
    if (us > st->lat_max_us) st->lat_max_us = us;
    st->last_answer_ns = now;
    atomic_fetch_add_explicit(&w->progress_done, 1, memory_order_relaxed);
    if (r->status >= 500) atomic_fetch_add_explicit(&w->progress_errors, 1, memory_order_relaxed);
}

/* Sends what is left of c->out; then waits for the answer. */
static void do_send(struct worker *w, struct conn *c) {
    while (c->out_sent < c->out_len) {
        const char *p = c->out + c->out_sent;
        size_t left = c->out_len - c->out_sent;
        if (c->tls) {
            ssize_t n = gnutls_record_send(c->tls, p, left);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                conn_want_tls(w, c);
                return;
            }
            if (n < 0) {
                conn_fail_tls(w, c, ERR_IO, "send", (int)n);
                return;
            }
            c->out_sent += (size_t)n;
        } else {
            ssize_t n = send(c->fd, p, left, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                conn_want(w, c, EPOLLOUT);
                return;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                conn_fail(w, c, ERR_IO, "send", strerror(errno));
                return;
            }
            c->out_sent += (size_t)n;
        }
    }
    c->state = CONN_RECEIVING;
    c->in_len = 0;
    conn_want(w, c, EPOLLIN);
}

/* The next request of a connection: the rest of the payment under way (its payment after its quote, or again
 * after a reconnection), else a new payment, unless the run is over or --count is reached. */
static void next_request(struct worker *w, struct conn *c) {
    struct bench *b = w->b;
    int64_t now = now_ns();
    if (stopping(b, now)) {
        conn_close(c);
        c->state = CONN_DONE;
        return;
    }
    if (!c->active) {
        bool counted = now >= b->warm_end_ns;
        if (counted && b->o->count && atomic_fetch_add_explicit(&b->tickets, 1, memory_order_relaxed) >= b->o->count) {
            conn_close(c);
            c->state = CONN_DONE;
            return;
        }
        payment_choose(b, w, c);
        c->active = true;
        c->counted = counted;
        c->start_ns = now;
    }
    request_build(b, w, c);
    c->since_ns = now;
    c->state = CONN_SENDING;
    do_send(w, c);
}

static void do_handshake(struct worker *w, struct conn *c) {
    int rc = gnutls_handshake(c->tls);
    if (rc == 0) {
        next_request(w, c);
    } else if (!gnutls_error_is_fatal(rc)) {
        conn_want_tls(w, c);
    } else {
        conn_fail_tls(w, c, ERR_CONNECT, "TLS handshake", rc);
    }
}

/* A TLS session over the connected socket, with the client's credentials, verifying the server's name. */
static void tls_begin(struct worker *w, struct conn *c) {
    struct bench *b = w->b;
    const struct opts *o = b->o;
    int rc = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (rc < 0) {
        c->tls = NULL;
        conn_fail_tls(w, c, ERR_CONNECT, "TLS", rc);
        return;
    }
    rc = gnutls_priority_set(c->tls, b->prio);
    if (rc >= 0) rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, o->clients[c->client].cred);
    if (rc >= 0 && !b->host_is_ip) rc = gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, o->host, strlen(o->host));
    if (rc < 0) {
        conn_fail_tls(w, c, ERR_CONNECT, "TLS", rc);
        return;
    }
    gnutls_session_set_verify_cert(c->tls, o->host, 0);
    gnutls_transport_set_int(c->tls, c->fd);
    c->state = CONN_HANDSHAKE;
    do_handshake(w, c);
}

static void on_connected(struct worker *w, struct conn *c) {
    if (w->b->o->tls) {
        tls_begin(w, c);
    } else {
        next_request(w, c);
    }
}

/* Opens a non-blocking connection to the server. */
static void conn_connect(struct worker *w, struct conn *c) {
    const struct bench *b = w->b;
    c->answered = false;
    c->since_ns = now_ns();
    c->fd = socket(b->addr.ss_family, SOCK_STREAM, 0);
    if (c->fd < 0) {
        conn_fail(w, c, ERR_CONNECT, "socket", strerror(errno));
        return;
    }
    int one = 1, flags = fcntl(c->fd, F_GETFL);
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(c->fd, F_SETFD, FD_CLOEXEC) < 0 ||
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        conn_fail(w, c, ERR_CONNECT, "socket options", strerror(errno));
        return;
    }
    if (connect(c->fd, (const struct sockaddr *)&b->addr, b->addr_len) == 0) {
        on_connected(w, c);
    } else if (errno == EINPROGRESS || errno == EINTR) {
        c->state = CONN_CONNECTING;
        conn_want(w, c, EPOLLOUT);
    } else {
        conn_fail(w, c, ERR_CONNECT, "connect", strerror(errno));
    }
}

static void on_connect_ready(struct worker *w, struct conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
        conn_fail(w, c, ERR_CONNECT, "connect", strerror(err));
        return;
    }
    on_connected(w, c);
}

static void on_response(struct worker *w, struct conn *c, const struct resp *r) {
    int64_t now = now_ns();
    bool quote = c->pay.fx && !c->pay.quoted;
    c->answered = true;
    c->in_len = 0;
    if (quote && r->status / 100 == 2 && strlen(r->id) == 32) {
        memcpy(c->pay.quote_id, r->id, 33);
        c->pay.quoted = true;
    } else {
        finish_payment(w, c, r, quote, now);
    }
    if (r->close) {
        conn_close(c);
        if (stopping(w->b, now)) {
            c->state = CONN_DONE;
        } else {
            conn_connect(w, c);
        }
        return;
    }
    next_request(w, c);
}

/* Room for more of the response: the buffer doubles up to RESP_BYTES_MAX. */
static bool in_room(struct conn *c) {
    if (c->in_len < c->in_cap) return true;
    if (c->in_cap >= RESP_BYTES_MAX) return false;
    size_t cap = c->in_cap * 2 > RESP_BYTES_MAX ? RESP_BYTES_MAX : c->in_cap * 2;
    char *in = realloc(c->in, cap);
    if (!in) return false;
    c->in = in;
    c->in_cap = cap;
    return true;
}

/* One read: > 0 bytes, 0 at the end of the stream, -1 nothing yet (waiting again), -2 failed (c is closed). */
static ssize_t conn_read(struct worker *w, struct conn *c) {
    char *p = c->in + c->in_len;
    size_t room = c->in_cap - c->in_len;
    for (;;) {
        if (c->tls) {
            ssize_t n = gnutls_record_recv(c->tls, p, room);
            if (n >= 0) return n;
            if (n == GNUTLS_E_PREMATURE_TERMINATION) return 0; /* closed without close_notify: an end too */
            if (n == GNUTLS_E_INTERRUPTED) continue;
            if (n == GNUTLS_E_AGAIN) {
                conn_want_tls(w, c);
                return -1;
            }
            conn_fail_tls(w, c, ERR_IO, "receive", (int)n);
            return -2;
        }
        ssize_t n = recv(c->fd, p, room, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            conn_want(w, c, EPOLLIN);
            return -1;
        }
        conn_fail(w, c, ERR_IO, "receive", strerror(errno));
        return -2;
    }
}

/* Reads until the response is complete (or the socket has nothing more for now). */
static void do_recv(struct worker *w, struct conn *c) {
    struct resp r;
    for (;;) {
        if (!in_room(c)) {
            conn_fail(w, c, ERR_MALFORMED, "response", "larger than 1 MiB");
            return;
        }
        ssize_t n = conn_read(w, c);
        if (n < 0) return;
        if (n == 0 && c->in_len == 0) {
            conn_fail(w, c, ERR_IO, "receive", "closed by the server");
            return;
        }
        c->in_len += (size_t)n;
        int rc = resp_parse(c->in, c->in_len, n == 0, &r);
        if (rc == RESP_DONE) {
            on_response(w, c, &r);
            return;
        }
        if (n == 0) {
            conn_fail(w, c, ERR_IO, "receive", "closed in the middle of a response");
            return;
        }
        if (rc == RESP_BAD) {
            conn_fail(w, c, ERR_MALFORMED, "response", "malformed HTTP or JSON");
            return;
        }
    }
}

static void conn_event(struct worker *w, struct conn *c) {
    switch (c->state) {
    case CONN_CONNECTING: on_connect_ready(w, c); break;
    case CONN_HANDSHAKE: do_handshake(w, c); break;
    case CONN_SENDING: do_send(w, c); break;
    case CONN_RECEIVING: do_recv(w, c); break;
    case CONN_WAIT:
    case CONN_DONE: break; /* closed earlier in this batch of events */
    }
}

/* ---- workers -------------------------------------------------------------------------------------------- */

/* Once every SCAN_MS: reconnects the connections whose wait is over, closes all of them when the run is over, and
 * hands the recorded lines to the file once a second. Returns how many connections are still in play and sets
 * *wake_ns to when the next scan is due. */
static uint32_t worker_scan(struct worker *w, int64_t now, int64_t *wake_ns) {
    bool stop = stopping(w->b, now);
    uint32_t live = 0;
    *wake_ns = now + (int64_t)SCAN_MS * 1000000;
    for (uint32_t i = 0; i < w->conn_count; i++) {
        struct conn *c = &w->conns[i];
        if (stop && c->state != CONN_DONE) {
            conn_close(c); /* an answer still awaited is abandoned */
            c->state = CONN_DONE;
        }
        if (c->state != CONN_WAIT && c->state != CONN_DONE && now - c->since_ns > w->b->timeout_ns)
            conn_fail(w, c, ERR_TIMEOUT, c->state == CONN_SENDING || c->state == CONN_RECEIVING ? "request" : "connect",
                      "no answer within --timeout");
        if (c->state == CONN_WAIT && c->retry_at_ns <= now) conn_connect(w, c);
        if (c->state == CONN_WAIT && c->retry_at_ns < *wake_ns) *wake_ns = c->retry_at_ns;
        live += c->state != CONN_DONE;
    }
    if (now - w->rec_flushed_ns >= (int64_t)RECORD_FLUSH_MS * 1000000) record_flush(w, now);
    return live;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct epoll_event ev[EVENTS_MAX];
    int64_t wake_ns = 0;
    w->rec_flushed_ns = now_ns();
    for (uint32_t i = 0; i < w->conn_count; i++) conn_connect(w, &w->conns[i]);
    for (;;) {
        int64_t now = now_ns();
        if (now >= wake_ns || stopping(w->b, now)) {
            if (worker_scan(w, now, &wake_ns) == 0) break;
        }
        int64_t wait_ms = (wake_ns - now + 999999) / 1000000;
        int n = epoll_wait(w->epfd, ev, EVENTS_MAX, wait_ms < 0 ? 0 : (int)wait_ms);
        ORTAK_ASSERT(n >= 0 || errno == EINTR); /* the epoll fd and the event array are ours */
        for (int i = 0; i < n; i++) conn_event(w, ev[i].data.ptr);
    }
    record_flush(w, now_ns());
    atomic_fetch_sub(&w->b->running, 1);
    return NULL;
}

/* ---- set-up --------------------------------------------------------------------------------------------- */

static int resolve(struct bench *b) {
    const struct opts *o = b->o;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "ortak bench http: %s: %s\n", o->host, rc ? gai_strerror(rc) : "no address");
        return CLI_EXIT_IO;
    }
    ORTAK_ASSERT(res->ai_addrlen <= sizeof b->addr);
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    b->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    unsigned char ip[16];
    b->host_is_ip = inet_pton(AF_INET, o->host, ip) == 1 || inet_pton(AF_INET6, o->host, ip) == 1;
    return CLI_EXIT_OK;
}

/* Credentials for every client (the CA to verify the server, and its own certificate if it has one), and the
 * protocol versions: TLS 1.2 and 1.3 only. */
static int tls_setup(struct bench *b, struct opts *o) {
    const char *err = NULL;
    int rc = gnutls_global_init();
    if (rc >= 0) rc = gnutls_priority_init(&b->prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", &err);
    if (rc < 0) {
        fprintf(stderr, "ortak bench http: TLS: %s\n", gnutls_strerror(rc));
        return CLI_EXIT_INTERNAL;
    }
    for (uint32_t i = 0; i < o->client_count; i++) {
        struct client *c = &o->clients[i];
        if (gnutls_certificate_allocate_credentials(&c->cred) < 0) return CLI_EXIT_INTERNAL;
        rc = o->cacert ? gnutls_certificate_set_x509_trust_file(c->cred, o->cacert, GNUTLS_X509_FMT_PEM)
                       : gnutls_certificate_set_x509_system_trust(c->cred);
        if (rc <= 0) {
            fprintf(stderr, "ortak bench http: %s: %s\n", o->cacert ? o->cacert : "the system's CA certificates",
                    rc < 0 ? gnutls_strerror(rc) : "no certificate found");
            return CLI_EXIT_USAGE;
        }
        rc = c->cert ? gnutls_certificate_set_x509_key_file(c->cred, c->cert, c->key, GNUTLS_X509_FMT_PEM) : 0;
        if (rc < 0) {
            fprintf(stderr, "ortak bench http: client %s: %s, %s: %s\n", c->bic, c->cert, c->key, gnutls_strerror(rc));
            return CLI_EXIT_USAGE;
        }
    }
    return CLI_EXIT_OK;
}

static int record_open(struct bench *b) {
    b->rec_fd = -1;
    if (!b->o->record) return CLI_EXIT_OK;
    b->rec_fd = open(b->o->record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (b->rec_fd < 0) {
        fprintf(stderr, "ortak bench http: %s: %s\n", b->o->record, strerror(errno));
        return CLI_EXIT_IO;
    }
    return CLI_EXIT_OK;
}

/* Workers, their connections (round robin over workers and over clients) and their epoll sets. */
static int workers_create(struct bench *b) {
    const struct opts *o = b->o;
    b->workers = calloc(o->threads, sizeof *b->workers);
    if (!b->workers) return CLI_EXIT_INTERNAL;
    for (uint32_t t = 0; t < o->threads; t++) b->workers[t].epfd = -1; /* bench_free may come before the end */
    for (uint32_t t = 0; t < o->threads; t++) {
        struct worker *w = &b->workers[t];
        w->b = b;
        w->rnd_pos = sizeof w->rnd;
        w->conns = calloc(o->concurrency / o->threads + 1, sizeof *w->conns);
        if (!w->conns) return CLI_EXIT_INTERNAL;
        w->conn_count = o->concurrency / o->threads + (t < o->concurrency % o->threads);
        for (uint32_t k = 0; k < w->conn_count; k++) w->conns[k].fd = -1;
        for (uint32_t k = 0; k < w->conn_count; k++) {
            struct conn *c = &w->conns[k];
            c->index = k * o->threads + t;
            c->client = c->index % o->client_count;
            c->rng = o->seed ^ (UINT64_C(0xd1b54a32d192ed03) * (c->index + 1));
            ortak_rng_next(&c->rng);
            c->in = malloc(RESP_BYTES_INIT);
            if (!c->in) return CLI_EXIT_INTERNAL;
            c->in_cap = RESP_BYTES_INIT;
        }
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0) {
            fprintf(stderr, "ortak bench http: epoll: %s\n", strerror(errno));
            return CLI_EXIT_INTERNAL;
        }
    }
    return CLI_EXIT_OK;
}

static void bench_free(struct bench *b) {
    const struct opts *o = b->o;
    for (uint32_t t = 0; b->workers && t < o->threads; t++) {
        struct worker *w = &b->workers[t];
        for (uint32_t k = 0; w->conns && k < w->conn_count; k++) {
            conn_close(&w->conns[k]);
            free(w->conns[k].in);
        }
        free(w->conns);
        if (w->epfd >= 0) close(w->epfd);
    }
    free(b->workers);
    if (b->rec_fd >= 0) close(b->rec_fd);
    pthread_mutex_destroy(&b->rec_lock);
}

/* ---- results -------------------------------------------------------------------------------------------- */

static void stats_add(struct stats *into, const struct stats *s) {
    into->requests += s->requests;
    for (size_t i = 0; i < 600; i++) into->http[i] += s->http[i];
    for (size_t i = 0; i < PAY_STATUS_COUNT; i++) into->pay[i] += s->pay[i];
    for (size_t i = 0; i < ERR_KIND_COUNT; i++) into->err[i] += s->err[i];
    for (size_t i = 0; i < HIST_BUCKETS; i++) into->hist[i] += s->hist[i];
    if (s->lat_max_us > into->lat_max_us) into->lat_max_us = s->lat_max_us;
    if (s->last_answer_ns > into->last_answer_ns) into->last_answer_ns = s->last_answer_ns;
}

/* The p-th percentile in milliseconds: the bucket holding the ceil(p/100 n)-th smallest latency, at its top
 * (never above the maximum seen). */
static double percentile_ms(const struct stats *s, double p) {
    if (s->requests == 0) return 0;
    double x = p / 100 * (double)s->requests;
    uint64_t rank = (uint64_t)x, seen = 0;
    if ((double)rank < x || rank == 0) rank++;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += s->hist[i];
        if (seen >= rank) {
            uint64_t v = hist_value(i);
            return (double)(v < s->lat_max_us ? v : s->lat_max_us) / 1000;
        }
    }
    return (double)s->lat_max_us / 1000;
}

static uint64_t errors_total(const struct stats *s) {
    uint64_t n = 0;
    for (size_t i = 0; i < ERR_KIND_COUNT; i++) n += s->err[i];
    return n;
}

static const double percentiles[] = {50, 90, 99, 99.9};
static const char *const percentile_names[] = {"p50", "p90", "p99", "p99.9"};

static void report_json(const struct opts *o, const struct stats *s, double seconds) {
    printf("{\"url\":\"%s\",\"concurrency\":%u,\"threads\":%u,\"requests\":%llu,\"seconds\":%.3f,\"throughput\":%.1f,"
           "\"latency_ms\":{",
           o->url, o->concurrency, o->threads, (unsigned long long)s->requests, seconds,
           seconds > 0 ? (double)s->requests / seconds : 0.0);
    for (size_t i = 0; i < 4; i++) printf("\"%s\":%.3f,", percentile_names[i], percentile_ms(s, percentiles[i]));
    printf("\"max\":%.3f},\"http\":{", (double)s->lat_max_us / 1000);
    const char *sep = "";
    for (int i = 100; i < 600; i++) {
        if (!s->http[i]) continue;
        printf("%s\"%d\":%llu", sep, i, (unsigned long long)s->http[i]);
        sep = ",";
    }
    printf("},\"payments\":{");
    for (size_t i = 0; i < PAY_STATUS_COUNT; i++)
        printf("%s\"%s\":%llu", i ? "," : "", pay_status_names[i], (unsigned long long)s->pay[i]);
    printf("},\"errors\":%llu,\"errors_by_kind\":{", (unsigned long long)errors_total(s));
    for (size_t i = 0; i < ERR_KIND_COUNT; i++)
        printf("%s\"%s\":%llu", i ? "," : "", err_kind_names[i], (unsigned long long)s->err[i]);
    printf("}}\n");
}

static void report_text(const struct opts *o, const struct stats *s, double seconds) {
    printf("url          %s (%u connections, %u threads)\n", o->url, o->concurrency, o->threads);
    printf("requests     %llu\n", (unsigned long long)s->requests);
    printf("seconds      %.3f\n", seconds);
    printf("throughput   %.1f requests/s\n", seconds > 0 ? (double)s->requests / seconds : 0.0);
    printf("latency ms  ");
    for (size_t i = 0; i < 4; i++) printf(" %s %.3f ", percentile_names[i], percentile_ms(s, percentiles[i]));
    printf(" max %.3f\n", (double)s->lat_max_us / 1000);
    printf("http        ");
    for (int i = 100; i < 600; i++) {
        if (s->http[i]) printf(" %d: %llu ", i, (unsigned long long)s->http[i]);
    }
    if (s->requests == 0) printf(" -");
    printf("\npayments    ");
    for (size_t i = 0; i < PAY_STATUS_COUNT; i++) {
        if (s->pay[i]) printf(" %s: %llu ", pay_status_names[i], (unsigned long long)s->pay[i]);
    }
    if (s->requests == 0) printf(" -");
    printf("\nerrors       %llu", (unsigned long long)errors_total(s));
    for (size_t i = 0; i < ERR_KIND_COUNT; i++) {
        if (s->err[i]) printf("  %s: %llu", err_kind_names[i], (unsigned long long)s->err[i]);
    }
    printf("\n");
}

/* One line, rewritten in place each second while stdout is a terminal. */
static void progress(const struct bench *b, int64_t now, uint64_t *last_done) {
    uint64_t done = 0, errors = 0;
    for (uint32_t t = 0; t < b->o->threads; t++) {
        done += atomic_load_explicit(&b->workers[t].progress_done, memory_order_relaxed);
        errors += atomic_load_explicit(&b->workers[t].progress_errors, memory_order_relaxed);
    }
    printf("\r%7.1f s  %-7s  %llu requests  %llu/s  %llu errors    ", (double)(now - b->t0_ns) / 1e9,
           now < b->warm_end_ns ? "warm-up" : "", (unsigned long long)done, (unsigned long long)(done - *last_done),
           (unsigned long long)errors);
    fflush(stdout);
    *last_done = done;
}

/* Starts the workers, shows progress, waits for them; returns when every worker has stopped. */
static int run_workers(struct bench *b) {
    const struct opts *o = b->o;
    bool tty = ortak__cli_tty();
    uint64_t last_done = 0;
    b->t0_ns = now_ns();
    b->warm_end_ns = b->t0_ns + (int64_t)(o->warmup * 1e9);
    b->timeout_ns = (int64_t)(o->timeout * 1e9);
    b->deadline_ns = o->seconds > 0 ? b->warm_end_ns + (int64_t)(o->seconds * 1e9) : INT64_MAX;
    uint32_t started = 0;
    atomic_store(&b->running, o->threads);
    for (; started < o->threads; started++) {
        if (pthread_create(&b->workers[started].thread, NULL, worker_main, &b->workers[started]) != 0) break;
    }
    if (started < o->threads) { /* stop those running; they flush what they recorded */
        atomic_store(&stop_signal, SIGTERM);
        atomic_fetch_sub(&b->running, o->threads - started);
    }
    int64_t next_progress_ns = b->t0_ns + 1000000000;
    while (atomic_load(&b->running) > 0) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
        int64_t now = now_ns();
        if (tty && now >= next_progress_ns) {
            progress(b, now, &last_done);
            next_progress_ns += 1000000000;
        }
    }
    for (uint32_t t = 0; t < started; t++) pthread_join(b->workers[t].thread, NULL);
    if (tty && next_progress_ns > b->t0_ns + 1000000000) putchar('\n');
    if (started < o->threads) {
        fprintf(stderr, "ortak bench http: cannot start worker threads\n");
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

/* Sums the workers' counts and prints them. The measured time runs from the end of the warm-up to the deadline,
 * or to the last answer when --count was reached, or to the stop (a signal, every connection lost). */
static int results(const struct bench *b, int64_t stopped_ns) {
    const struct opts *o = b->o;
    struct stats *s = calloc(1, sizeof *s);
    if (!s) return CLI_EXIT_INTERNAL;
    for (uint32_t t = 0; t < o->threads; t++) stats_add(s, &b->workers[t].st);
    int64_t end = stopped_ns < b->deadline_ns ? stopped_ns : b->deadline_ns;
    if (o->count && s->requests >= o->count) end = s->last_answer_ns;
    double seconds = end > b->warm_end_ns ? (double)(end - b->warm_end_ns) / 1e9 : 0;
    if (o->json) {
        report_json(o, s, seconds);
    } else {
        report_text(o, s, seconds);
    }
    fflush(stdout);
    int code = CLI_EXIT_OK, rec_errno = atomic_load(&b->rec_errno);
    if (rec_errno) {
        fprintf(stderr, "ortak bench http: %s: %s\n", o->record, strerror(rec_errno));
        code = CLI_EXIT_IO;
    } else if (s->requests == 0) {
        fprintf(stderr, "ortak bench http: no payment was answered after the warm-up\n");
        code = CLI_EXIT_IO;
    }
    free(s);
    return code;
}

/* --print-iso: one pacs.008 from the first client to the second, as the run would send it (with a made-up quote
 * reference when --fx-target is given), for checking with `ortak iso validate`. */
static int print_iso(struct bench *b) {
    const struct opts *o = b->o;
    struct worker *w = calloc(1, sizeof *w);
    struct conn *c = calloc(1, sizeof *c);
    if (!w || !c) {
        free(w);
        free(c);
        return CLI_EXIT_INTERNAL;
    }
    w->rnd_pos = sizeof w->rnd;
    c->rng = o->seed;
    payment_choose(b, w, c);
    c->pay.payee = 1;
    if (o->fx_target[0]) {
        char u[37];
        uuid_v4(w, u);
        uuid_hex(u, c->pay.quote_id);
        c->pay.quoted = true;
    }
    clock_texts(w);
    size_t n = iso_pacs008(w->body, sizeof w->body, o, &c->pay, w->now_text, w->today_text);
    ORTAK_ASSERT(n > 0);
    int code = fwrite(w->body, 1, n, stdout) == n && fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_IO;
    free(w);
    free(c);
    return code;
}

/* Raises the soft limit on open files to what the connections need, as far as the hard limit allows. */
static void files_limit_raise(uint32_t concurrency) {
    struct rlimit rl;
    rlim_t need = (rlim_t)concurrency + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN; /* a write to a closed socket is an error returned, not a signal */
    sigaction(SIGPIPE, &sa, NULL);
}

static void tls_free(struct bench *b, struct opts *o) {
    for (uint32_t i = 0; i < o->client_count; i++) {
        if (o->clients[i].cred) gnutls_certificate_free_credentials(o->clients[i].cred);
        o->clients[i].cred = NULL;
    }
    if (b->prio) gnutls_priority_deinit(b->prio);
    gnutls_global_deinit();
}

static int bench_http(struct opts *o) {
    struct bench *b = calloc(1, sizeof *b);
    if (!b) return CLI_EXIT_INTERNAL;
    b->o = o;
    b->rec_fd = -1;
    pthread_mutex_init(&b->rec_lock, NULL);
    b->amount_ln_ratio = ln_ge1((double)o->amount_max / (double)o->amount_min);
    int code = CLI_EXIT_OK;
    if (o->print_iso) {
        code = print_iso(b);
    } else {
        code = resolve(b);
        if (code == CLI_EXIT_OK && o->tls) code = tls_setup(b, o);
        if (code == CLI_EXIT_OK) code = record_open(b);
        if (code == CLI_EXIT_OK) code = workers_create(b);
        if (code == CLI_EXIT_OK) {
            files_limit_raise(o->concurrency);
            signals_install();
            code = run_workers(b);
            int64_t stopped_ns = now_ns();
            if (code == CLI_EXIT_OK) code = results(b, stopped_ns);
        }
    }
    bench_free(b);
    if (o->tls && !o->print_iso) tls_free(b, o);
    free(b);
    return code;
}

int ortak__cli_bench(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "http") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        if (!help && argc >= 2) fprintf(stderr, "ortak bench: unknown subcommand '%s'\n\n", argv[1]);
        fputs(usage, help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    struct opts *o = calloc(1, sizeof *o);
    if (!o) return CLI_EXIT_INTERNAL;
    int code = parse_opts(argc, argv, o);
    if (code < 0) code = bench_http(o);
    for (uint32_t i = 0; i < BENCH_CLIENTS_MAX; i++) free(o->clients[i].cert);
    free(o);
    return code;
}
