/*
 * HTTP helpers of ortak's client commands (http.h): DIR/ortakd.ini, and one request over libcurl.
 *
 * Invariants: an answer is read up to CLI_HTTP_ANSWER_MAX bytes and no further; every request has a connect and a
 * total timeout; redirects are not followed; nothing is retried (a payment may have been booked).
 */
#include "http.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CONNECT_TIMEOUT_S 5L
#define REQUEST_TIMEOUT_S 60L

static int file_key(void *user, const char *section, const char *name, const char *value) {
    struct cli_server_file *f = user;
    if (!name) return 1;
    if (strcmp(section, "server") == 0) {
        if (strcmp(name, "listen") == 0) snprintf(f->listen, sizeof f->listen, "%s", value);
        if (strcmp(name, "tls") == 0)
            f->tls = !(strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0);
        if (strcmp(name, "operator_bic") == 0) snprintf(f->operator_bic, sizeof f->operator_bic, "%s", value);
    } else if (strcmp(section, "tokens") == 0 && f->token_count < CLI_HTTP_TOKENS_MAX) {
        snprintf(f->tokens[f->token_count].bic, 12, "%s", name);
        snprintf(f->tokens[f->token_count].token, CLI_HTTP_TOKEN_CAP, "%s", value);
        f->token_count++;
    }
    return 1; /* ortakd itself checks the rest */
}

/* The URL of a listen address: a wildcard host becomes loopback. */
bool ortak__http_url_of_listen(const struct cli_server_file *f, char *out, size_t cap) {
    const char *colon = strrchr(f->listen, ':');
    if (!colon || colon == f->listen) return false;
    int hlen = (int)(colon - f->listen);
    const char *host = f->listen;
    if (strncmp(host, "0.0.0.0:", 8) == 0) {
        host = "127.0.0.1";
        hlen = 9;
    } else if (strncmp(host, "[::]:", 5) == 0) {
        host = "[::1]";
        hlen = 5;
    }
    int n = snprintf(out, cap, "%s://%.*s%s", f->tls ? "https" : "http", hlen, host, colon);
    return n > 0 && (size_t)n < cap;
}

/* Fills in --url and the token from DIR/ortakd.ini where the options leave them open. */

int ortak__http_server_file(const char *cmd, const char *dir, struct cli_server_file *f) {
    char path[CLI_HTTP_URL_CAP];
    snprintf(path, sizeof path, "%s/ortakd.ini", dir ? dir : "ortak-data");
    memset(f, 0, sizeof *f);
    f->tls = true;
    snprintf(f->listen, sizeof f->listen, "127.0.0.1:8443");
    snprintf(f->operator_bic, sizeof f->operator_bic, "%s", ORTAK_OPERATOR_BIC_DEFAULT);
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "ortak %s: cannot read %s (%s): give --url and --token, or --dir DIR of `ortak init`\n", cmd,
                path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    int line = ini_parse_file(in, file_key, f);
    fclose(in);
    if (line != 0) {
        fprintf(stderr, "ortak %s: %s: cannot parse line %d\n", cmd, path, line);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

const char *ortak__http_token_of(const struct cli_server_file *f, const char *bic) {
    for (uint32_t i = 0; i < f->token_count; i++) {
        if (strcmp(f->tokens[i].bic, bic) == 0) return f->tokens[i].token;
    }
    return NULL;
}

int ortak__http_resolve(struct cli_http_opts *o) {
    bool need_url = !o->url, need_token = !o->token && !o->cert;
    if (!need_url && !need_token && !o->as) return CLI_EXIT_OK;
    const char *dir = o->dir ? o->dir : "ortak-data";
    struct cli_server_file *f = calloc(1, sizeof *f);
    if (!f) return CLI_EXIT_INTERNAL;
    int rc = ortak__http_server_file(o->cmd, dir, f);
    if (rc != CLI_EXIT_OK) goto done;
    rc = CLI_EXIT_USAGE;
    if (need_url && !ortak__http_url_of_listen(f, o->url_buf, sizeof o->url_buf)) {
        fprintf(stderr, "ortak %s: %s/ortakd.ini: listen is not HOST:PORT: %s\n", o->cmd, dir, f->listen);
        goto done;
    }
    if (need_url) o->url = o->url_buf;
    if (need_token || o->as) {
        const char *bic = o->as ? o->as : f->operator_bic;
        const char *tok = o->token ? NULL : ortak__http_token_of(f, bic);
        if (tok) {
            snprintf(o->token_buf, sizeof o->token_buf, "%s", tok);
            o->token = o->token_buf;
        }
        if (!o->token) {
            fprintf(stderr,
                    "ortak %s: %s/ortakd.ini has no token for %s in [tokens]: add one (and restart the server), or "
                    "give --token\n",
                    o->cmd, dir, bic);
            goto done;
        }
    }
    rc = CLI_EXIT_OK;
done:
    free(f);
    return rc;
}

/* ---- one request ---------------------------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    struct cli_answer *a = user;
    size_t n = size * nmemb;
    if (n > CLI_HTTP_ANSWER_MAX - a->len) {
        a->too_large = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    char *b = realloc(a->body, a->len + n + 1);
    if (!b) return 0;
    memcpy(b + a->len, data, n);
    a->body = b;
    a->len += n;
    b[a->len] = '\0';
    return n;
}

/* Prints why the request could not be made, and returns the exit code. */
int ortak__http_transport_error(const struct cli_http_opts *o, CURLcode cc, const char *err,
                                const struct cli_answer *a) {
    if (a->too_large) {
        fprintf(stderr, "ortak %s: the answer of %s is larger than %u bytes\n", o->cmd, o->url, CLI_HTTP_ANSWER_MAX);
        return CLI_EXIT_PROTOCOL;
    }
    const char *what = err[0] ? err : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        fprintf(stderr,
                "ortak %s: cannot reach the server at %s: %s. Is it running? Start it with: ortak serve "
                "--dir %s\n",
                o->cmd, o->url, what, o->dir ? o->dir : "ortak-data");
        return CLI_EXIT_UNAVAILABLE;
    case CURLE_OPERATION_TIMEDOUT:
        fprintf(stderr,
                "ortak %s: %s did not answer in time: %s. The request may still take effect: check before "
                "sending it again\n",
                o->cmd, o->url, what);
        return CLI_EXIT_UNAVAILABLE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        fprintf(stderr, "ortak %s: --url %s: %s (http://HOST:PORT or https://HOST:PORT)\n", o->cmd, o->url, what);
        return CLI_EXIT_USAGE;
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
        fprintf(stderr, "ortak %s: TLS with %s failed: %s (check --cert, --key and --cacert)\n", o->cmd, o->url, what);
        return CLI_EXIT_UNAVAILABLE;
    default:
        fprintf(stderr, "ortak %s: the request to %s failed: %s\n", o->cmd, o->url, what);
        return CLI_EXIT_UNAVAILABLE;
    }
}

static bool set_request(CURL *c, const struct cli_http_opts *o, const char *url, const char *method, const char *body,
                        struct curl_slist *headers, struct cli_answer *a, char *err) {
    bool ok = curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, a) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    if (ok && body) {
        ok = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) == CURLE_OK;
    }
    if (ok && o->cert) ok = curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert) == CURLE_OK;
    if (ok && o->key) ok = curl_easy_setopt(c, CURLOPT_SSLKEY, o->key) == CURLE_OK;
    if (ok && o->cacert) ok = curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert) == CURLE_OK;
    return ok;
}

/* Adds a header "name: value" to *list; false when out of memory. */
static bool add_header(struct curl_slist **list, const char *name, const char *value) {
    char h[512];
    int n = snprintf(h, sizeof h, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof h) return false;
    struct curl_slist *l = curl_slist_append(*list, h);
    if (!l) return false;
    *list = l;
    return true;
}

int ortak__http_prepare(CURL *c, const struct cli_http_opts *o, const char *method, const char *path, const char *body,
                        const char *token, const char *idem_key, struct curl_slist **headers, struct cli_answer *a,
                        char *err) {
    memset(a, 0, sizeof *a);
    char url[CLI_HTTP_URL_CAP * 2];
    size_t base = strlen(o->url);
    while (base > 0 && o->url[base - 1] == '/') base--;
    int n = snprintf(url, sizeof url, "%.*s%s", (int)base, o->url, path);
    if (n < 0 || (size_t)n >= sizeof url) {
        fprintf(stderr, "ortak %s: the URL is too long\n", o->cmd);
        return CLI_EXIT_USAGE;
    }
    bool ok = add_header(headers, "Accept", "application/json, application/xml") && add_header(headers, "Expect", "") &&
              add_header(headers, "User-Agent", "ortak-cli");
    if (ok && body) ok = add_header(headers, "Content-Type", "application/json");
    if (ok && token) {
        char auth[CLI_HTTP_TOKEN_CAP + 8];
        snprintf(auth, sizeof auth, "Bearer %s", token);
        ok = add_header(headers, "Authorization", auth);
    }
    if (ok && idem_key) ok = add_header(headers, "Idempotency-Key", idem_key);
    if (!ok || !set_request(c, o, url, method, body, *headers, a, err)) {
        fprintf(stderr, "ortak %s: cannot prepare the request (out of memory, or a header too long)\n", o->cmd);
        return CLI_EXIT_INTERNAL;
    }
    return CLI_EXIT_OK;
}

int ortak__http_request(const struct cli_http_opts *o, const char *method, const char *path, const char *body,
                        const char *idem_key, struct cli_answer *a) {
    memset(a, 0, sizeof *a);
    CURL *c = curl_easy_init();
    struct curl_slist *headers = NULL;
    char err[CURL_ERROR_SIZE] = "";
    int rc =
        c ? ortak__http_prepare(c, o, method, path, body, o->token, idem_key, &headers, a, err) : CLI_EXIT_INTERNAL;
    if (rc != CLI_EXIT_OK) goto done;
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = ortak__http_transport_error(o, cc, err, a);
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
done:
    if (rc != CLI_EXIT_OK) {
        free(a->body);
        a->body = NULL;
    }
    curl_slist_free_all(headers);
    if (c) curl_easy_cleanup(c);
    return rc;
}

int ortak__http_status_exit(long status) {
    if (status == 401 || status == 403) return CLI_EXIT_NOPERM;
    if (status >= 400 && status < 500) return CLI_EXIT_REFUSED;
    if (status >= 500) return CLI_EXIT_UNAVAILABLE;
    return CLI_EXIT_PROTOCOL;
}
