/*
 * HTTP helpers shared by ortak's client commands (client.c), `ortak simulate --target` (simtarget.c) and
 * `ortak demo` (demo.c): the server's address and tokens from DIR/ortakd.ini, and one request over libcurl.
 *
 * Invariants: an answer is read up to CLI_HTTP_ANSWER_MAX bytes and no further; every request has a connect and a
 * total timeout; redirects are not followed; nothing is retried.
 */
#ifndef ORTAK_CLI_HTTP_H
#define ORTAK_CLI_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_EXIT_REJECTED 1
#define CLI_EXIT_REFUSED 65
#define CLI_EXIT_UNAVAILABLE 69
#define CLI_EXIT_PROTOCOL 76
#define CLI_EXIT_NOPERM 77

#define CLI_HTTP_ANSWER_MAX (16u << 20) /* bytes of an answer read at most */
#define CLI_HTTP_TOKENS_MAX 256u
#define CLI_HTTP_TOKEN_CAP 129u /* 128 characters, ortakd's longest token */
#define CLI_HTTP_URL_CAP 1024u

/* Where and as whom a client talks. */
struct cli_http_opts {
    const char *cmd; /* "pay", ... for messages */
    const char *url, *dir, *as, *token, *cert, *key, *cacert;
    bool json;
    char url_buf[CLI_HTTP_URL_CAP];
    char token_buf[CLI_HTTP_TOKEN_CAP];
};

/* What a client reads of DIR/ortakd.ini. */
struct cli_server_file {
    char listen[300];
    bool tls;
    char operator_bic[12];
    uint32_t token_count;
    struct {
        char bic[12];
        char token[CLI_HTTP_TOKEN_CAP];
    } tokens[CLI_HTTP_TOKENS_MAX];
};

struct cli_answer {
    long status;
    char *body; /* NUL-terminated; NULL when empty */
    size_t len;
    bool too_large;
};

/* Reads DIR/ortakd.ini into *f (defaults first). 0, or an exit code after printing the problem. */
int ortak__http_server_file(const char *cmd, const char *dir, struct cli_server_file *f);
/* The URL of f's listen address (a wildcard host becomes loopback); false when it is not HOST:PORT. */
bool ortak__http_url_of_listen(const struct cli_server_file *f, char *out, size_t cap);
/* The token of `bic` in f, or NULL. */
const char *ortak__http_token_of(const struct cli_server_file *f, const char *bic);
/* Fills in o->url and o->token from DIR/ortakd.ini where the options leave them open. 0 or an exit code. */
int ortak__http_resolve(struct cli_http_opts *o);

/*
 * Prepares the easy handle `c` for one request to o->url + `path` with `body` (JSON, or NULL), bearer `token` (or
 * NULL) and `idem_key` (or NULL); the answer goes to *a (zeroed here). *headers takes the header list, which the
 * caller frees after the transfer. Returns 0, or an exit code after printing the problem.
 */
int ortak__http_prepare(CURL *c, const struct cli_http_opts *o, const char *method, const char *path, const char *body,
                        const char *token, const char *idem_key, struct curl_slist **headers, struct cli_answer *a,
                        char *err);
/* Prints why a transfer failed, and returns the exit code. */
int ortak__http_transport_error(const struct cli_http_opts *o, CURLcode cc, const char *err,
                                const struct cli_answer *a);
/*
 * Sends one request as o->token (see ortak__http_prepare). Returns 0 with the answer in *a (the caller frees
 * a->body), or an exit code after printing why no answer came.
 */
int ortak__http_request(const struct cli_http_opts *o, const char *method, const char *path, const char *body,
                        const char *idem_key, struct cli_answer *a);
/* The exit code of an error status (401/403 77, other 4xx 65, 5xx 69, else 76). */
int ortak__http_status_exit(long status);

#endif
