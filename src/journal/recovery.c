/*
 * Recovery: the newest intact snapshot, then every journal record after it applied in order, then the journal
 * opened for appending. The snapshot must sit on the journal's hash chain: the first record replayed must name the
 * snapshot's last record as its predecessor, and a journal that ends before the snapshot is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "journal_int.h"

struct replay {
    struct ortak_engine *e;
    struct ortak_cmd *cmds;
    struct ortak_result *results;
    uint32_t cap;
    const struct ortak_snapshot_info *snap;
    struct ortak_recovery *report;
    const struct ortak_journal_options *opt;
};

static int replay_record(void *ctx, const struct ortak_journal_record *rec, char *why, size_t why_cap) {
    struct replay *r = ctx;
    if (rec->seq == r->snap->head.seq + 1 && r->snap->head.seq != 0 &&
        memcmp(rec->prev_hash, r->snap->head.hash, 32) != 0) {
        snprintf(why, why_cap, "snapshot %s is not on this journal's hash chain", r->snap->file);
        return 1;
    }
    uint32_t n;
    if (ortak_batch_decode(rec->payload, rec->len, r->cmds, r->cap, &n) != ORTAK_OK) {
        snprintf(why, why_cap, "record holds no well-formed batch of at most %u commands", r->cap);
        return 1;
    }
    if (ortak_engine_apply(r->e, r->cmds, n, r->results) != ORTAK_OK) {
        snprintf(why, why_cap, "batch of %u commands is larger than the configured batch_max", n);
        return 1;
    }
    if (r->opt && r->opt->replay_events) {
        uint32_t nev;
        const struct ortak_event *ev = ortak_engine_events(r->e, &nev);
        r->opt->replay_events(r->opt->replay_ctx, r->e, rec->seq, ev, nev);
    }
    r->report->replayed_batches++;
    r->report->replayed_commands += n;
    return 0;
}

ortak_rc ortak_recover(const char *dir, const struct ortak_config *cfg, const struct ortak_journal_options *opt,
                       struct ortak_engine **e, struct ortak_journal **j, struct ortak_recovery *report,
                       struct ortak_journal_problem *problem) {
    *e = NULL;
    *j = NULL;
    memset(report, 0, sizeof *report);
    const struct ortak_fileops *ops = opt && opt->ops ? opt->ops : ortak_fileops_posix();
    struct ortak_snapshot_info snap;
    ortak_rc rc = ortak_snapshot_load(dir, ops, cfg, e, &snap, problem);
    if (rc != ORTAK_OK) return rc;
    if (!*e && (rc = ortak_engine_open(cfg, e)) != ORTAK_OK) return rc;
    report->snapshot_seq = snap.head.seq;

    struct replay r = {.e = *e, .cap = cfg->limits.batch_max, .snap = &snap, .report = report, .opt = opt};
    r.cmds = calloc(r.cap, sizeof *r.cmds);
    r.results = calloc(r.cap, sizeof *r.results);
    if (!r.cmds || !r.results) {
        rc = ORTAK_NOMEM;
        goto done;
    }
    /* A separate report, so that a snapshot passed over above stays reported when the journal is fine. */
    struct ortak_journal_problem jp;
    rc = ortak_journal_open(dir, opt, snap.head.seq, replay_record, &r, j, &jp);
    if (rc != ORTAK_OK) {
        if (problem) *problem = jp;
        goto done;
    }
    ortak_journal_head_get(*j, &report->head);
    report->torn_bytes = ortak_journal_torn_bytes(*j);
    if (report->head.seq < snap.head.seq ||
        (report->head.seq == snap.head.seq && memcmp(report->head.hash, snap.head.hash, 32) != 0)) {
        rc = ortak__journal_problem(problem, ORTAK_JP_SNAPSHOT, snap.file, 0, snap.head.seq,
                                    "snapshot %s includes record %llu but the journal ends at record %llu or "
                                    "differs from it",
                                    snap.file, (unsigned long long)snap.head.seq, (unsigned long long)report->head.seq);
        goto done;
    }
    ortak_log_info("journal",
                   "recovered: snapshot at record %llu, %llu batches (%llu commands) replayed, at record %llu",
                   (unsigned long long)snap.head.seq, (unsigned long long)report->replayed_batches,
                   (unsigned long long)report->replayed_commands, (unsigned long long)report->head.seq);
done:
    free(r.cmds);
    free(r.results);
    if (rc != ORTAK_OK) {
        ortak_journal_close(*j);
        ortak_engine_close(*e);
        *j = NULL;
        *e = NULL;
    }
    return rc;
}
