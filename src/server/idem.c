/*
 * Idempotency keys: the first response to each (participant, key), for the last `capacity` writes.
 *
 * A table of entries chained from hash buckets, and a ring in arrival order: when the ring is full, the oldest
 * entry is forgotten. The key is hashed with the participant's BIC (SHA-256), so that two participants' keys never
 * meet. A request's fingerprint (method, path and body, hashed by the caller) tells a retry from a reuse.
 */
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct idem_entry {
    uint8_t key[32];
    uint8_t req_hash[32];
    unsigned status;
    const char *ctype;
    char *body;
    size_t len;
    struct idem_entry *next; /* bucket chain */
};

struct idem {
    pthread_mutex_t mu;
    uint32_t capacity, count, head; /* ring: entries[head] is the oldest when count == capacity */
    struct idem_entry **ring;
    struct idem_entry **buckets;
    uint32_t nbuckets;
};

int idem_open(uint32_t capacity, struct idem **out) {
    struct idem *d = calloc(1, sizeof *d);
    if (!d) return -1;
    d->capacity = capacity;
    d->nbuckets = 1;
    while (d->nbuckets < capacity) d->nbuckets <<= 1;
    d->ring = calloc(capacity, sizeof *d->ring);
    d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
    if (!d->ring || !d->buckets) {
        idem_close(d);
        return -1;
    }
    pthread_mutex_init(&d->mu, NULL);
    *out = d;
    return 0;
}

void idem_close(struct idem *d) {
    if (!d) return;
    if (d->ring) {
        for (uint32_t i = 0; i < d->count; i++) {
            free(d->ring[i]->body);
            free(d->ring[i]);
        }
        pthread_mutex_destroy(&d->mu);
    }
    free(d->ring);
    free(d->buckets);
    free(d);
}

static void key_hash(const char *bic, const char *key, uint8_t out[32]) {
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, strlen(bic) + 1, (const uint8_t *)bic);
    sha256_update(&c, strlen(key), (const uint8_t *)key);
    sha256_digest(&c, 32, out);
}

static struct idem_entry **find(struct idem *d, const uint8_t key[32]) {
    uint32_t b;
    memcpy(&b, key, sizeof b);
    struct idem_entry **p = &d->buckets[b & (d->nbuckets - 1)];
    while (*p && memcmp((*p)->key, key, 32) != 0) p = &(*p)->next;
    return p;
}

enum idem_state idem_lookup(struct idem *d, const char *bic, const char *key, const uint8_t req_hash[32],
                            unsigned *status, char **body, size_t *len, const char **ctype) {
    uint8_t k[32];
    key_hash(bic, key, k);
    pthread_mutex_lock(&d->mu);
    struct idem_entry *e = *find(d, k);
    enum idem_state st = IDEM_NEW;
    if (e && memcmp(e->req_hash, req_hash, 32) != 0) {
        st = IDEM_CONFLICT;
    } else if (e) {
        *body = malloc(e->len + 1);
        if (*body) {
            memcpy(*body, e->body, e->len);
            (*body)[e->len] = '\0';
            *len = e->len;
            *status = e->status;
            *ctype = e->ctype;
            st = IDEM_REPLAY;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return st;
}

void idem_store(struct idem *d, const char *bic, const char *key, const uint8_t req_hash[32], unsigned status,
                const char *body, size_t len, const char *ctype) {
    struct idem_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->body = malloc(len ? len : 1))) {
        free(e);
        return; /* a retry then runs again, which the engine's own replay detection keeps safe */
    }
    key_hash(bic, key, e->key);
    memcpy(e->req_hash, req_hash, 32);
    memcpy(e->body, body, len);
    e->len = len;
    e->status = status;
    e->ctype = ctype;
    pthread_mutex_lock(&d->mu);
    struct idem_entry **p = find(d, e->key);
    if (*p) { /* two concurrent first requests: the first stored wins */
        pthread_mutex_unlock(&d->mu);
        free(e->body);
        free(e);
        return;
    }
    if (d->count == d->capacity) {
        struct idem_entry *old = d->ring[d->head];
        *find(d, old->key) = old->next;
        free(old->body);
        free(old);
        d->ring[d->head] = e;
        d->head = (d->head + 1) % d->capacity;
    } else {
        d->ring[d->count++] = e;
    }
    e->next = NULL;
    *find(d, e->key) = e;
    pthread_mutex_unlock(&d->mu);
}
