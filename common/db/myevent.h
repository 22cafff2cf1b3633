/*
 * myevent.h: binary log events parsed by a parser of our own, for the events
 * that MariaDB Connector/C does not parse: those inside a MySQL 8
 * TRANSACTION_PAYLOAD (binlog_transaction_compression=ON: a transaction's
 * events compressed with zstd into one event), PARTIAL_UPDATE_ROWS and
 * HEARTBEAT_V2. An event parsed here fills the library's own event struct,
 * so that dms-capture handles it as it handles the library's. Every read is
 * bounds-checked: corrupt or truncated bytes are an error, never a crash.
 * Layouts: MySQL's source documentation (libbinlogevents), cdc-notes B.
 */
#ifndef DMS_DB_MYEVENT_H
#define DMS_DB_MYEVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mysql.h>
#include <mariadb_rpl.h>

/* MySQL 8's event types past the library's enum. */
enum { MY_TRANSACTION_PAYLOAD = 40, MY_HEARTBEAT_V2 = 41 };

/* The common header of every event (v4). */
#define MYEVENT_HEADER 19

/* A little-endian unsigned integer of n bytes (n <= 8). */
uint64_t myevent_le(const uint8_t *p, size_t n);

/* CRC-32 (ISO-HDLC, zlib's): the binary log's event checksum. */
uint32_t myevent_crc32(const uint8_t *p, size_t n);

/* A length-encoded integer at *p (moved past it); false: past end, or 251 (NULL). */
bool myevent_lenenc(const uint8_t **p, const uint8_t *end, uint64_t *v);

/*
 * One event, header and body without its checksum (len: the event's size,
 * or 4 less where the log has checksums), into ev (cleared first;
 * strings and data point into p). Parsed: the header; QUERY, TABLE_MAP (and
 * its optional metadata), XID, the rows events of every version, and
 * PARTIAL_UPDATE_ROWS; a HEARTBEAT_V2's file name. Other types: the header
 * only. False: malformed (err says how).
 */
bool myevent_parse(const uint8_t *p, size_t len, MARIADB_RPL_EVENT *ev, char *err, size_t errsize);

/* A HEARTBEAT_V2 body: the binary log file and the position it names. False: malformed. */
bool myevent_heartbeat_v2(const uint8_t *body, size_t len, MARIADB_STRING *file, uint64_t *pos);

/*
 * The inner events of a TRANSACTION_PAYLOAD, read one at a time: its
 * compressed bytes are decompressed as they are needed, so memory holds the
 * largest inner event, not the transaction.
 */
struct mypayload {
	const uint8_t *in;	/* the payload's compressed bytes */
	size_t inlen, inpos;
	uint64_t size, usize;	/* payload and uncompressed sizes, from the header */
	uint64_t ctype;		/* 0 zstd, 255 none */
	void *z;		/* ZSTD_DStream */
	uint8_t *buf;		/* decompressed bytes: buf[off..len) not yet consumed */
	size_t off, len, cap;
	uint64_t out;		/* decompressed bytes so far */
	bool ended;		/* zstd said the frame is whole */
};

/* A TRANSACTION_PAYLOAD body (without checksum) opened. False: malformed or an unknown compression (err says). */
bool mypayload_open(struct mypayload *pl, const uint8_t *body, size_t len, char *err, size_t errsize);

/* The next inner event (header and body; inner events carry no checksum): 1, 0 at the end, -1 malformed (err). */
int mypayload_next(struct mypayload *pl, const uint8_t **ev, size_t *evlen, char *err, size_t errsize);

void mypayload_close(struct mypayload *pl);

#endif
