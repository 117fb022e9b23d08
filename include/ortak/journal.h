/*
 * The journal: the durable, ordered, tamper-evident record of every command batch, from which the engine's state
 * can always be rebuilt; snapshots of the engine; recovery.
 *
 * On disk (docs/formats/journal.md): a directory of fixed-size segment files holding records, one record per
 * batch, each with a checksum and the SHA-256 of the record before it (a hash chain across segments), and
 * snapshot files of the engine state at a sequence number.
 *
 * Failure rules. Bytes on disk are input from outside: damage is reported (ORTAK_CORRUPT with the file, byte
 * offset and sequence number in a struct ortak_journal_problem), never asserted. A torn record at the very tail
 * (a crash during an unsynced write) is cut off at open, with a log line saying how many bytes. A failed write or
 * sync while running is fatal: the process stops (exit code ORTAK_EXIT_IO) rather than carry on with an unknown
 * state on disk.
 */
#ifndef ORTAK_JOURNAL_H
#define ORTAK_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "ortak/engine.h"

/* Exit code of a process stopped by a failed journal write or sync (sysexits' EX_IOERR). */
#define ORTAK_EXIT_IO 74

/*
 * File operations, replaceable for fault injection. Each behaves like its POSIX namesake (return -1 and set errno
 * on failure). NULL in the options means the real ones.
 */
struct ortak_fileops {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*fallocate)(int fd, off_t off, off_t len); /* posix_fallocate semantics: returns an errno value */
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
};
const struct ortak_fileops *ortak_fileops_posix(void);

/* What went wrong with a journal directory, precisely enough to find it with a hex editor. */
enum ortak_journal_problem_kind {
    ORTAK_JP_NONE = 0,
    ORTAK_JP_IO,        /* the operating system refused (message has errno's text) */
    ORTAK_JP_EMPTY,     /* no journal in the directory */
    ORTAK_JP_FOREIGN,   /* a file that is not an ortak journal segment or snapshot */
    ORTAK_JP_VERSION,   /* written by a newer format version */
    ORTAK_JP_TRUNCATED, /* a segment file shorter than its header says */
    ORTAK_JP_CHECKSUM,  /* a record or header whose checksum does not match (bit rot, tampering) */
    ORTAK_JP_CHAIN,     /* a record whose previous-record hash does not match (changed or removed record) */
    ORTAK_JP_SEQUENCE,  /* a gap or repeat in sequence numbers (e.g. a missing segment) */
    ORTAK_JP_SNAPSHOT,  /* a snapshot that is damaged or whose state hash does not match its state */
    ORTAK_JP_PAYLOAD,   /* a record whose checksum holds but whose batch cannot be decoded */
};

struct ortak_journal_problem {
    enum ortak_journal_problem_kind kind;
    char file[256];  /* the file, relative to the journal directory */
    uint64_t offset; /* byte offset in that file */
    uint64_t seq;    /* sequence number of the record concerned (expected, when it is missing) */
    char message[512];
};

/* Exit code for a problem kind (documented in docs/cli.md and docs/formats/journal.md). */
int ortak_journal_problem_exit_code(enum ortak_journal_problem_kind kind);

struct ortak_journal_options {
    const struct ortak_fileops *ops; /* NULL: POSIX */
    uint64_t segment_bytes;          /* size of each segment file; 0: 64 MiB. At least one largest batch. */
    uint64_t group_bytes_max;        /* most bytes written between two syncs; bounds a torn tail. 0: 8 MiB */
    bool create;                     /* create a new journal when the directory holds none */
    /* Recovery only (ortak_recover): called for every batch replayed, with the engine after it and its events, as
       the sequencer's on_events is called live. May be NULL. */
    void (*replay_events)(void *ctx, const struct ortak_engine *e, uint64_t seq, const struct ortak_event *events,
                          uint32_t n);
    void *replay_ctx;
};

/* Position in the chain: the last record's sequence number and SHA-256 (0 and zeros before the first). */
struct ortak_journal_head {
    uint64_t seq;
    ortak_time_ns timestamp;
    uint8_t hash[32];
};

struct ortak_journal;

/* One record as read, after its checksum, sequence number and place in the hash chain were checked. */
struct ortak_journal_record {
    uint64_t seq;
    ortak_time_ns timestamp;
    const uint8_t *prev_hash; /* 32 bytes: SHA-256 of the record before */
    const void *payload;
    uint32_t len;
};

/*
 * Called for every record read, in order. Returning non-zero stops the scan, which then reports ORTAK_JP_PAYLOAD
 * with the message the callback wrote into `why` (NUL-terminated, `why_cap` bytes).
 */
typedef int (*ortak_journal_record_fn)(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap);

/*
 * Opens the journal in `dir` for appending: checks every segment header, every record's checksum, the sequence
 * and the hash chain from the first record on, calling `fn` (may be NULL) for each record with seq > `from_seq`;
 * cuts off a torn tail. With options.create, an empty or missing directory gets a new journal. Returns ORTAK_OK,
 * ORTAK_IO or ORTAK_CORRUPT (details in *problem; nothing on disk is changed then).
 */
ortak_rc ortak_journal_open(const char *dir, const struct ortak_journal_options *opt, uint64_t from_seq,
                            ortak_journal_record_fn fn, void *ctx, struct ortak_journal **out,
                            struct ortak_journal_problem *problem);

/*
 * Reads and checks a journal without changing anything (ortak journal verify/dump/replay). A torn tail is
 * reported in *torn_bytes (not an error). Same checks and codes as ortak_journal_open.
 */
ortak_rc ortak_journal_scan(const char *dir, const struct ortak_fileops *ops, uint64_t from_seq,
                            ortak_journal_record_fn fn, void *ctx, struct ortak_journal_head *head,
                            uint64_t *torn_bytes, struct ortak_journal_problem *problem);

/*
 * Appends one record (written to the file, not yet synced) and returns its sequence number in *seq. `timestamp`
 * must not be earlier than the previous record's (asserted: the sequencer guarantees it). Returns ORTAK_OK or
 * ORTAK_INVALID when the payload is larger than a segment can hold. A failed write is fatal.
 */
ortak_rc ortak_journal_append(struct ortak_journal *j, ortak_time_ns timestamp, const void *payload, uint32_t len,
                              uint64_t *seq);
/* Makes every appended record durable (fdatasync). A failed sync is fatal. */
void ortak_journal_sync(struct ortak_journal *j);
/* The last appended record's position. */
void ortak_journal_head_get(const struct ortak_journal *j, struct ortak_journal_head *head);
/* Bytes of a torn tail cut off when the journal was opened (0 when none). */
uint64_t ortak_journal_torn_bytes(const struct ortak_journal *j);
/* Largest payload a record may carry with these options. */
uint32_t ortak_journal_payload_max(const struct ortak_journal *j);
void ortak_journal_close(struct ortak_journal *j);

/* ---- snapshots --------------------------------------------------------------------------------------------- */

/*
 * Writes a snapshot of `e`, whose state includes every record up to `head->seq`, atomically: a temporary file,
 * sync, rename, sync of the directory. Then keeps only the newest `keep` snapshots (0: keep all). Failures are
 * fatal, like journal writes.
 */
void ortak_snapshot_write(const char *dir, const struct ortak_fileops *ops, const struct ortak_engine *e,
                          const struct ortak_journal_head *head, uint32_t keep);

struct ortak_snapshot_info {
    struct ortak_journal_head head; /* the last record the snapshot includes */
    uint8_t state_hash[32];
    char file[256];
};

/*
 * Loads the newest snapshot that is intact (checksum and state hash verified) into a new engine opened from
 * `cfg`. Damaged snapshots are skipped and the first one met is reported in *problem (kind ORTAK_JP_SNAPSHOT)
 * while ORTAK_OK is still returned if an older one is good. Returns ORTAK_OK (with *e NULL when there is no
 * snapshot at all), ORTAK_IO, or ORTAK_CORRUPT when snapshots exist and none is intact.
 */
ortak_rc ortak_snapshot_load(const char *dir, const struct ortak_fileops *ops, const struct ortak_config *cfg,
                             struct ortak_engine **e, struct ortak_snapshot_info *info,
                             struct ortak_journal_problem *problem);

/* Checks every snapshot in `dir`: ORTAK_OK, or ORTAK_CORRUPT naming the first damaged one. */
ortak_rc ortak_snapshot_verify_all(const char *dir, const struct ortak_fileops *ops, const struct ortak_config *cfg,
                                   uint32_t *count, struct ortak_journal_problem *problem);

/* ---- recovery ---------------------------------------------------------------------------------------------- */

struct ortak_recovery {
    uint64_t snapshot_seq; /* 0: started from an empty engine */
    uint64_t replayed_batches;
    uint64_t replayed_commands;
    uint64_t torn_bytes;
    struct ortak_journal_head head;
};

/*
 * Rebuilds the engine from `dir`: the newest intact snapshot plus every record after it, applied in order, and
 * opens the journal for appending. Returns ORTAK_OK, ORTAK_IO or ORTAK_CORRUPT (details in *problem).
 */
ortak_rc ortak_recover(const char *dir, const struct ortak_config *cfg, const struct ortak_journal_options *opt,
                       struct ortak_engine **e, struct ortak_journal **j, struct ortak_recovery *report,
                       struct ortak_journal_problem *problem);

/* ---- the sequencer: group commit between callers, the journal and the engine ------------------------------ */

/*
 * A journal backend other than the file journal, for the sequencer: the replicated journal (ortak/nats_journal.h)
 * is one. The sequencer calls it on its journal thread only.
 *   append: takes one batch record (payload copied or written before returning) and writes the journal position
 *     after it into *head. `expect` is NULL for a batch the sequencer formed, or, for a record copied from another
 *     node's journal (ortak_sequencer_submit_record), the position that record must produce: a mismatch returns
 *     ORTAK_CORRUPT. Returns ORTAK_OK, or ORTAK_NOT_LEADER when this node may not write (the batch fails).
 *   sync: makes every record appended so far durable, and writes into *durable_seq the last record that is (every
 *     record after it is dropped, and fails). Returns ORTAK_OK when all are, else ORTAK_NOT_LEADER.
 */
struct ortak_journal_backend {
    ortak_rc (*append)(void *ctx, ortak_time_ns timestamp, const void *payload, uint32_t len,
                       const struct ortak_journal_head *expect, struct ortak_journal_head *head);
    ortak_rc (*sync)(void *ctx, uint64_t *durable_seq);
    void *ctx;
};

/* Computes the position after appending one record at `prev` (the record hash the file journal would chain). */
void ortak_journal_head_next(const struct ortak_journal_head *prev, ortak_time_ns timestamp, const void *payload,
                             uint32_t len, struct ortak_journal_head *next);

struct ortak_sequencer_options {
    /* Under concurrent load (the last group held more than one submission), how long the journal thread may wait
       for as many submissions as the last group held before it writes and syncs; 0: never wait. */
    uint32_t group_delay_us;
    /* Batches between snapshots; 0: never. Snapshots go to the journal's directory. */
    uint64_t snapshot_every;
    uint32_t snapshots_keep; /* 0: keep all */
    /* Engine time source; NULL: the system's real-time clock. Timestamps never go backwards whatever it says. */
    ortak_time_ns (*clock)(void *ctx);
    void *clock_ctx;
    /* Called on the engine thread after each batch is applied, with its events. May be NULL. */
    void (*on_events)(void *ctx, uint64_t seq, const struct ortak_event *events, uint32_t n);
    void *events_ctx;
    /* Called on the journal thread before each sync of the journal (a client's own files that must be durable
       whenever the batches they accompany are), and on the engine thread before each snapshot (files derived from
       the events, which recovery can no longer rebuild for batches a snapshot includes). Either may be NULL. */
    void (*before_sync)(void *ctx);
    void (*before_snapshot)(void *ctx);
    void *hooks_ctx;
    /* NULL: the file journal given to ortak_sequencer_start. Otherwise every append and sync goes to the backend
       (which keeps that file journal as its local copy); a batch the backend refuses is not applied and each of
       its commands gets ORTAK_NOT_LEADER. */
    const struct ortak_journal_backend *backend;
};

/* Counters of a running sequencer, for metrics. */
struct ortak_sequencer_stats {
    uint64_t batches, commands, syncs;
    uint64_t sync_ns_total, sync_ns_max;
    uint64_t sync_buckets[12]; /* syncs that took at most 2^k * 100 us, k = 0..11 (the last counts all others) */
    uint32_t queued;           /* submissions waiting for the journal thread now */
};

struct ortak_sequencer;

/*
 * Starts the journal thread and the engine thread. The sequencer takes over `e` and `j` (the caller must not use
 * them until ortak_sequencer_stop). `dir` is the journal directory, for snapshots. Returns ORTAK_OK, ORTAK_NOMEM, or
 * ORTAK_INVALID when the journal's records cannot hold a batch of the engine's batch_max commands.
 */
ortak_rc ortak_sequencer_start(struct ortak_engine *e, struct ortak_journal *j, const char *dir,
                               const struct ortak_sequencer_options *opt, struct ortak_sequencer **out);

/*
 * Submits `n` commands as one unit from any thread and waits until they are durable and applied. The commands'
 * timestamps are replaced by engine time (one timestamp per batch), in `cmds` too. Writes one result per command and,
 * when `seq` is not NULL, the sequence number of the batch that holds them. Returns ORTAK_OK (outcomes in `results`),
 * or ORTAK_BATCH_TOO_LARGE when n exceeds batch_max (nothing submitted). Several callers' submissions share a batch; a
 * submission is never split, and a linked chain never crosses into another caller's commands.
 */
ortak_rc ortak_sequencer_submit(struct ortak_sequencer *s, struct ortak_cmd *cmds, uint32_t n,
                                struct ortak_result *results, uint64_t *seq);

/*
 * The same without waiting: returns at once (ORTAK_OK, ORTAK_BATCH_TOO_LARGE or ORTAK_NOMEM, nothing submitted
 * then), and `done` is called on the engine thread once the commands are durable and applied and their results and
 * timestamps written, with the batch's sequence number (0 when n is 0: then at once, on the caller's thread). `cmds`
 * and `results` must stay valid until then. `done` must be short and must not submit.
 */
typedef void (*ortak_sequencer_done_fn)(void *ctx, uint64_t seq);
ortak_rc ortak_sequencer_submit_async(struct ortak_sequencer *s, struct ortak_cmd *cmds, uint32_t n,
                                      struct ortak_result *results, ortak_sequencer_done_fn done, void *ctx);

/*
 * Submits a record copied from the leader's journal (a follower): `payload` is journaled as it is with `head`'s
 * timestamp, must become record head->seq with hash head->hash, and is applied like recovery applies a record.
 * Needs a backend. `done` is called on the engine thread with ORTAK_OK once the record is durable and applied, or
 * with the error (ORTAK_CORRUPT: not the next record of this chain, or not a well-formed batch; nothing applied).
 * `payload` must stay valid until then. Returns ORTAK_OK or ORTAK_NOMEM (nothing submitted).
 */
typedef void (*ortak_sequencer_record_fn)(void *ctx, ortak_rc rc);
ortak_rc ortak_sequencer_submit_record(struct ortak_sequencer *s, const struct ortak_journal_head *head,
                                       const void *payload, uint32_t len, ortak_sequencer_record_fn done, void *ctx);

/* Runs `fn` with the engine while no batch is being applied (for queries from other threads). */
void ortak_sequencer_query(struct ortak_sequencer *s, void (*fn)(const struct ortak_engine *e, void *ctx), void *ctx);

/* The engine for reading from another thread, between batches: every read_begin must be followed by read_end on the
 * same thread, with nothing submitted in between. */
const struct ortak_engine *ortak_sequencer_read_begin(struct ortak_sequencer *s);
void ortak_sequencer_read_end(struct ortak_sequencer *s);

void ortak_sequencer_stats_get(struct ortak_sequencer *s, struct ortak_sequencer_stats *out);

/* Stops accepting, drains what was submitted, syncs, joins the threads. Returns the engine and journal. */
void ortak_sequencer_stop(struct ortak_sequencer *s, struct ortak_engine **e, struct ortak_journal **j);

#endif
