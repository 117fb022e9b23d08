/*
 * The replicated journal: every batch record is also a message of a NATS JetStream stream replicated on three
 * servers (file storage), and a record counts as durable once the stream has acknowledged it. A node keeps a local
 * file journal holding exactly the stream's records (the same sequence numbers, timestamps, payloads and so the
 * same hash chain): a record is written there only after the stream has it, so the local journal is always a prefix
 * of the stream. The message format is in docs/formats/replication.md.
 *
 * One writer. Each message is published with JetStream's expected-last-sequence set to the record before it: a
 * writer that is not at the stream's end (an old leader that was paused while another took over) is refused, and
 * from then on refuses every batch (ORTAK_NOT_LEADER) until it is told to lead again. Who should write is decided
 * by a lease: a key in a JetStream key-value bucket whose values live `lease_ms`, renewed by compare-and-set on its
 * revision; the sequence check keeps the stream linear whatever the clocks do.
 *
 * Threads: the backend's append and sync run on the sequencer's journal thread; the other functions may be called
 * from any one other thread (the server's replica thread).
 */
#ifndef ORTAK_NATS_JOURNAL_H
#define ORTAK_NATS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ortak/journal.h"

/* Exit code of ortakd when its local journal is not a prefix of the stream (never expected: it would need the
 * stream to lose acknowledged records), or the stream no longer holds the records after its local state. */
#define ORTAK_EXIT_DIVERGED 76

struct ortak_nats_options {
    const char *servers; /* comma-separated NATS URLs */
    const char *stream;  /* stream name: subject "<stream>.batch", buckets "<stream>_lease" and "<stream>_nodes" */
    uint32_t replicas;   /* 0: 3 */
    uint32_t lease_ms;   /* 0: 3000 */
    uint32_t timeout_ms; /* each NATS request; 0: lease_ms / 4 */
};

struct ortak_nats;

/*
 * Connects, and creates the stream and the buckets when they do not exist. `local` is the node's file journal
 * (kept, not owned). Returns ORTAK_OK, or ORTAK_IO with a message in `err`.
 */
ortak_rc ortak_nats_open(const struct ortak_nats_options *opt, struct ortak_journal *local, struct ortak_nats **out,
                         char *err, size_t err_cap);
void ortak_nats_close(struct ortak_nats *n);
/* Releases the NATS library's threads and memory once every handle is closed (at exit). */
void ortak_nats_shutdown(void);
/* Deletes the stream and its buckets (benchmarks and tests: a run's own stream). */
void ortak_nats_delete(struct ortak_nats *n);

/* The backend for the sequencer (ortak_sequencer_options.backend). */
const struct ortak_journal_backend *ortak_nats_backend(struct ortak_nats *n);

/*
 * What a leader sends with each record, before it in the same message (the server's inbound ISO 20022 messages):
 * `take` returns a malloc'd block (freed by the backend) or NULL, and is called on the journal thread for every
 * record published. Followers find it in ortak_nats_record.attach.
 */
void ortak_nats_attach_source(struct ortak_nats *n, uint8_t *(*take)(void *ctx, size_t *len), void *ctx);

/* Starts publishing after the local head, which must be the stream's last record. */
void ortak_nats_lead(struct ortak_nats *n);
/* Stops publishing: batches not yet acknowledged fail. Returns once no publish is in progress. */
void ortak_nats_fence(struct ortak_nats *n);
/* Waits up to `ms` for a refusal by the stream; true when the backend refused (and so stopped) since ortak_nats_lead.
 */
bool ortak_nats_wait_refused(struct ortak_nats *n, uint32_t ms);
/* The state hash after record `seq`, carried by the next message published (followers compare theirs). */
void ortak_nats_state_set(struct ortak_nats *n, uint64_t seq, const uint8_t hash[32]);
/* The local journal's head: the last record this node holds. */
void ortak_nats_head(struct ortak_nats *n, struct ortak_journal_head *head);

/* One message read from the stream. */
struct ortak_nats_record {
    struct ortak_journal_head head; /* its sequence number, timestamp and record hash */
    uint8_t prev_hash[32];
    const void *payload;
    uint32_t len;
    const void *attach; /* what the leader sent with the record (NULL when nothing) */
    size_t attach_len;
    bool has_state; /* the leader's state hash after record state_seq */
    uint64_t state_seq;
    uint8_t state_hash[32];
    void *msg_; /* the library's message, freed by ortak_nats_record_free */
};

/*
 * Reads record `seq`. Returns ORTAK_OK with *found false when the stream does not hold it (yet), ORTAK_IO when NATS
 * did not answer in time, ORTAK_CORRUPT when the message is not a well-formed record (message in `err`).
 */
ortak_rc ortak_nats_get(struct ortak_nats *n, uint64_t seq, bool *found, struct ortak_nats_record *rec, char *err,
                        size_t err_cap);
void ortak_nats_record_free(struct ortak_nats_record *rec);
/*
 * Following: the next record `seq` from an ordered consumer of the stream (created, or created again from `seq`
 * when the last call asked for another record or failed), waiting up to `wait_ms`. Same results as
 * ortak_nats_get. Unfollow drops the consumer (a leader).
 */
ortak_rc ortak_nats_next(struct ortak_nats *n, uint64_t seq, uint32_t wait_ms, bool *found,
                         struct ortak_nats_record *rec, char *err, size_t err_cap);
void ortak_nats_unfollow(struct ortak_nats *n);
/* The stream's first and last sequence numbers. ORTAK_OK or ORTAK_IO. */
ortak_rc ortak_nats_bounds(struct ortak_nats *n, uint64_t *first, uint64_t *last);

/* The lease. `holder` is the value kept under the key (the node's name and its URL). get: ORTAK_OK with "" when
 * nobody holds it; take: ORTAK_OK when this node now holds it, ORTAK_NOT_LEADER when another does; renew: ORTAK_OK,
 * or ORTAK_NOT_LEADER when the revision moved (another took it). ORTAK_IO: no answer in time. */
ortak_rc ortak_nats_lease_get(struct ortak_nats *n, char *holder, size_t cap, uint64_t *rev);
ortak_rc ortak_nats_lease_take(struct ortak_nats *n, const char *holder, uint64_t *rev);
ortak_rc ortak_nats_lease_renew(struct ortak_nats *n, const char *holder, uint64_t *rev);
/* Gives the lease up (planned switch-over) when it still has revision `rev`. */
void ortak_nats_lease_release(struct ortak_nats *n, uint64_t rev);

/* Records this node's newest snapshot in the nodes bucket, and the smallest of all nodes' (0 when unknown). */
ortak_rc ortak_nats_snapshot_note(struct ortak_nats *n, const char *node, uint64_t seq);
ortak_rc ortak_nats_snapshot_min(struct ortak_nats *n, uint64_t *min_seq);
/* Removes the stream's messages before `seq` (never past a snapshot every node holds: the caller's rule). */
ortak_rc ortak_nats_trim(struct ortak_nats *n, uint64_t seq);

#endif
