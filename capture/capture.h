/*
 * capture.h: dms-capture's state: the PostgreSQL logical replication
 * session (capture/main.c) and the pgoutput decoder with its relation cache
 * and transaction buffers (capture/pgoutput.c).
 */
#ifndef DMS_CAPTURE_H
#define DMS_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/db/catalog.h"
#include "../common/pg.h"
#include "../common/spool.h"
#include "../common/stream.h"

/* A relation of the stream, by its OID: its table as the catalog describes it. */
struct rel {
	uint32_t relid;
	int64_t tid;
	bool skip;		/* not selected by the mapping: its changes are passed over */
	bool described;
	struct src_table t;	/* the catalog's description, columns in the Relation's order */
	uint8_t *table;		/* its TABLE record as last emitted (NULL: never) */
	size_t table_len;
	uint8_t *pending;	/* a TABLE record to emit before the next transaction that uses it */
	size_t pending_len;
	char *from_schema, *from_name;	/* renamed in this run: its first name, in each TABLE record after */
};

/* The changes of one source transaction, kept until its commit: in memory, then a file. */
struct txn {
	uint32_t xid;
	bool open;
	struct strbuf mem;	/* entries: u32 subxid, u32 length, record */
	FILE *spill;		/* past the memory bound */
	uint64_t changes;
	uint32_t *aborted;	/* subtransactions rolled back */
	size_t naborted;
	uint32_t *rels;		/* relations it changed (their TABLE records go first) */
	size_t nrels;
};

struct capture {
	struct pg_conn repl;	/* the replication connection */
	const struct source_ops *ops;
	struct source src;	/* the catalog's connection */
	struct mapping *mapping;
	struct dms_writer *w;
	struct spool_writer *spool;	/* -o DIR: the stream goes to a spool; NULL: stdout */
	size_t memory;		/* bytes a transaction keeps in memory before it spills */
	struct rel *rels;
	size_t nrels;
	int64_t next_tid;
	struct txn cur;		/* the transaction between B and C */
	struct txn *streamed;	/* streamed transactions, by xid */
	size_t nstreamed;
	uint32_t stream_xid;	/* the streamed transaction whose block is open; 0: none */
	uint64_t emitted;	/* end LSN of the last transaction written */
	uint64_t durable;	/* spool: end LSN of the last transaction synced there */
	int64_t last_durable;	/* spool: when (monotonic ms) */
	uint64_t stop_lsn;	/* --stop-at position; 0: none */
	int64_t stop_time;	/* --stop-at commit_time, Unix seconds; 0: none */
	bool stop;		/* the stop point was passed: END */
	uint64_t transactions;
	msgpack_sbuffer rec, old;	/* a change record and its old image, as they are built */
	struct strbuf scratch;		/* a value's text, NUL-terminated */
};

struct options {
	const char *mappings, *task, *slot, *publication, *ack_file, *start, *stop_at, *uri, *spool;
	size_t memory;
	uint64_t segment_size;
	int64_t retry_ms;
	bool drop, export;
};

/* dms-capture from a MySQL or MariaDB source (capture/mysql.c): an exit status. */
int mysql_run(const struct options *o);

/* Decodes one pgoutput message (the payload of an XLogData). False: fatal (logged). */
bool pgoutput_message(struct capture *c, const uint8_t *p, size_t n);
/* Whether a transaction is being received (its changes not yet all emitted). */
bool pgoutput_busy(const struct capture *c);
void pgoutput_release(struct capture *c);

/* PostgreSQL's epoch (2000-01-01) in Unix seconds. */
#define PG_EPOCH 946684800

#endif
