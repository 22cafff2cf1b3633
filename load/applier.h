/*
 * applier.h: the state of dms-load's apply of a change stream, shared by
 * load/apply.c (the apply state, groups of transactions, replays),
 * load/changes.c (the statements of each change, pipelined or not, and the
 * error policies) and load/redefine.c (TABLE records: tables created,
 * altered, dropped). The public interface is apply.h.
 */
#ifndef DMS_LOAD_APPLIER_H
#define DMS_LOAD_APPLIER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "apply.h"
#include "net.h"

#define GROUP_MEMORY (8u << 20)	/* records kept for a replay, bytes */
#define GROUP_SPILL ((off_t)1 << 30)	/* batch apply: records past GROUP_MEMORY kept in a temporary file, up to this */
#define NET_MEMORY (24u << 20)	/* batch apply: net changes held before they go to the target */
#define PIPELINE_DEPTH 1024	/* statements sent before their outcomes are read */
#define LOCK_TRIES 100		/* tenths of a second the task's lock is waited for */

/* A statement sent down the pipeline, its outcome to come. */
struct pending {
	int64_t tid;
	uint64_t seq;			/* its change */
	enum error_policy policy;	/* what no row matched follows */
	const char *what;		/* that conflict; NULL: none can happen */
	char *sql, *key;	/* sql: its text; with params, shown when a conflict needs it */
	char *pbuf;		/* its parameters (P's buf and offsets, copied) */
	size_t *poff;
	int pn;
	int rc;
	uint64_t rows;
	char *err;
	bool truncation;
};

/* What apply keeps of a table, by tid. */
struct atable {
	int ncols;
	char **names;		/* the columns it was defined with, for a redefinition */
	char **types;		/* their target types */
	bool suspended;		/* SUSPEND_TABLE: its changes are passed over */
	bool warned;		/* told that it has no key */
	bool pending;		/* a definition met among transactions the target has: applied before the next one it lacks */
	struct net *net;	/* batch apply: its net changes not yet sent */
	uint64_t conflicts, skipped;
	struct counters {
		uint64_t inserts, updates, deletes, ddls, exceptions;
	} n, written;		/* the DMS CDC counters, and what table_statistics has of them */
};

enum change_result { CH_OK, CH_FATAL, CH_REDO };

/* The apply in hand: one per process. */
struct applier {
	struct loader *l;
	struct dms_stream *st;	/* the reader's: its table definitions, for a replay */
	struct ttable **(*table)(int64_t tid);	/* the slot of a tid; NULL before its first TABLE record */
	const char *ack_path;
	char *applied;		/* apply_state's position: transactions up to it are skipped */
	bool caught_up;		/* a transaction after it was seen: no more comparisons */
	/* the target transaction (group) in hand */
	bool open, careful, overflow;
	struct strbuf buf;	/* its records, for a replay (after those in the spill file) */
	FILE *spill;		/* batch apply: the group's records before buf's, past GROUP_MEMORY */
	off_t spilled;		/* bytes of records in it */
	uint64_t txns, changes;
	struct timespec started;
	char *pos;		/* its last COMMIT's position and time */
	int64_t sec;
	uint32_t nsec;
	/* the source transaction in hand */
	bool in_txn, skip, deferred;
	size_t txn_start;	/* its BEGIN's offset in buf */
	uint64_t txn_changes;
	/* totals */
	char *acked;
	char *committed;	/* the position the target has: apply_state's */
	uint64_t skipped, applied_txns, applied_changes, ignored, exceptions;
	int64_t latency_ms;
	struct atable *at;
	size_t nat;
	bool batch;		/* BatchApplyEnabled, and the group is not careful */
	size_t net_memory;	/* bound of the net changes held, bytes */
	size_t net_held;	/* bytes held now */
	unsigned redos;		/* groups applied again, carefully: a change in hand may be done already */
	/* -v: throughput and latency every few seconds */
	struct timespec began, reported;
	uint64_t reported_changes;
	/* the counters as the group found them, for a replay; and its changes so far */
	struct atable *snap;
	uint64_t snap_ignored, snap_exceptions, seq, quiet_until;
	uint64_t cur;		/* the change whose outcome is being handled */
	/* pipelining (PostgreSQL, transactional, policies that need no answer first) */
	bool pipe_ok;
	struct pending *pend;
	size_t npend, cappend, done;
	int status;		/* the exit status a fatal error set */
};

extern struct applier ap;

/* load/apply.c */
struct atable *ap_atable(int64_t tid);
void ap_atable_release(struct atable *a);
char *ap_quote(const char *name);
/* Commits the group in hand with its position (the ack file follows); false: fatal (ap.status). */
bool ap_group_commit(void);
/* The CDC counters that changed, added to table_statistics. */
bool ap_write_stats(void);
/* Batch apply: what the nets hold goes to the target (a refusal replays the group). */
bool ap_flush_nets(void);
/* Rolls the group back and applies it again, each change in a savepoint. */
bool ap_redo(void);

/* load/changes.c */
/* INSERT, UPDATE, DELETE or TRUNCATE, as the group's mode says. */
enum change_result ap_apply_one(const struct dms_record *rec);
/* The outcomes of the statements sent down the pipeline. */
bool ap_sync_pipeline(void);
void ap_pending_clear(void);
void ap_pipe_done(void *arg, int rc, uint64_t rows, const char *err, bool truncation);
/* Frees what the statements kept (at the end). */
void ap_statements_release(void);

#endif
