/*
 * dms-benchgen [-c] [-n records] [-z]: writes a snapshot stream of a
 * realistic mixed row (integers, numeric text, timestamps, text, NULLs) for
 * the benchmarks, or with -c a change stream of n row changes over three
 * tables. Deterministic: the same arguments give the same bytes.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/position.h"
#include "../common/records.h"
#include "../common/dms.h"

/* A column of the model; its strings are the caller's (static) ones, copied. */
static void
column(struct dms_table *t, const char *name, const char *type, bool nullable, const char *native)
{
	struct dms_column *c;

	t->cols = xrealloc(t->cols, (t->ncols + 1) * sizeof(*t->cols));
	c = &t->cols[t->ncols++];
	memset(c, 0, sizeof(*c));
	c->name = xstrdup(name);
	c->type_name = xstrdup(type);
	c->type = dms_type_from_name(type, strlen(type));
	c->nullable = nullable;
	c->native = xstrdup(native);
	c->length = -1;
	c->precision = c->scale = -1;
}

/* A table of the model with a one-column key (its first), packed by the one TABLE encoder. */
static void
table(msgpack_packer *pk, int64_t tid, const char *name, const char *const (*cols)[4], int ncols)
{
	struct dms_table t = { 0 };

	t.schema = xstrdup("public");
	t.name = xstrdup(name);
	t.estimated_rows = 0;
	for (int i = 0; i < ncols; i++)
		column(&t, cols[i][0], cols[i][1], cols[i][2][0] == 't', cols[i][3]);
	t.nkey = 1;
	t.key = xcalloc(1, sizeof(*t.key));
	rec_table(pk, tid, &t);
	table_release(&t);
}

static uint64_t
next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The live keys of a table of the change stream. */
struct keys {
	int64_t *ids;
	size_t n, cap;
	int64_t next;
};

static void
change_values(msgpack_packer *pk, int64_t id, uint64_t r, int64_t sec)
{
	char price[32], note[64];

	msgpack_pack_array(pk, 5);
	msgpack_pack_int64(pk, id);
	msgpack_pack_int32(pk, (int32_t)(r % 1000));
	snprintf(price, sizeof(price), "%" PRIu64 ".%02" PRIu64, (r >> 10) % 100000, (r >> 30) % 100);
	pk_str(pk, price);
	if (r % 4 == 0) {
		msgpack_pack_nil(pk);
	} else {
		snprintf(note, sizeof(note), "note %" PRIu64 " of row %" PRId64, (r >> 20) % 9973, id);
		pk_str(pk, note);
	}
	{
		char ts[40];
		time_t tt = (time_t)sec;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S+00", &tm);
		pk_str(pk, ts);
	}
}

/*
 * -c: n row changes, 60% UPDATE, 25% INSERT, 15% DELETE, over three tables,
 * in transactions of 1 to 50 changes with increasing positions and commit
 * times; UPDATEs and DELETEs name rows that exist.
 */
static void
changes(struct dms_writer *w, uint64_t n, uint64_t x)
{
	static const char *const cols[][4] = {
		{ "id", "int8", "f", "bigint" }, { "qty", "int4", "t", "integer" },
		{ "price", "numeric", "t", "numeric(12,2)" }, { "note", "string", "t", "text" },
		{ "updated", "datetimetz", "t", "timestamp with time zone" },
	};
	static const char *const names[] = { "bench_accounts", "bench_orders", "bench_events" };
	msgpack_packer *pk = &w->pk;
	struct keys k[3] = { { 0 } };
	uint64_t done = 0, txn = 0;
	int64_t sec = 1764547200;	/* 2025-12-01 */

	for (int t = 0; t < 3; t++)
		table(pk, t, names[t], cols, 5);
	while (done < n && !w->out.failed && !sig_drain && !sig_stop) {
		uint64_t size = 1 + next(&x) % 50, c;
		char pos[32], xid[32];

		txn++;
		sec += (int64_t)(next(&x) % 2);
		lsn_format(0x1000000ULL + txn * 0x100, pos, sizeof(pos));
		snprintf(xid, sizeof(xid), "%" PRIu64, txn);
		rec_begin(pk, xid, pos, sec, 0);
		for (c = 0; c < size && done < n; c++, done++) {
			uint64_t r = next(&x);
			struct keys *kt = &k[r % 3];
			unsigned op = (unsigned)((r >> 8) % 100);

			if (kt->n == 0 || (op >= 60 && op < 85)) {
				if (kt->n == kt->cap) {
					kt->cap = kt->cap ? kt->cap * 2 : 1024;
					kt->ids = xrealloc(kt->ids, kt->cap * sizeof(*kt->ids));
				}
				kt->ids[kt->n++] = ++kt->next;
				rec_change(pk, K_INSERT, (int64_t)(r % 3));
				change_values(pk, kt->next, next(&x), sec);
			} else {
				size_t at = (size_t)(next(&x) % kt->n);
				int64_t id = kt->ids[at];

				if (op < 60) {
					rec_change(pk, K_UPDATE, (int64_t)(r % 3));
					change_values(pk, id, next(&x), sec);
					msgpack_pack_nil(pk);
				} else {
					rec_change(pk, K_DELETE, (int64_t)(r % 3));
					msgpack_pack_array(pk, 5);
					msgpack_pack_int64(pk, id);
					for (int i = 0; i < 4; i++)
						msgpack_pack_nil(pk);
					kt->ids[at] = kt->ids[--kt->n];
				}
			}
		}
		rec_commit(pk, pos, sec, 0, c);
	}
	rec_end(pk, NULL, NULL, sig_drain || sig_stop);
	for (int t = 0; t < 3; t++)
		free(k[t].ids);
}

int
main(int argc, char **argv)
{
	struct dms_writer w;
	msgpack_packer *pk = &w.pk;
	uint64_t n = 10000000, x = 88172645463325252ULL;
	bool lz4 = false, change = false;
	int ch;

	log_init(argv[0]);
	while ((ch = getopt(argc, argv, "cn:z")) != -1) {
		if (ch == 'c')
			change = true;
		else if (ch == 'n')
			n = strtoull(optarg, NULL, 10);
		else if (ch == 'z')
			lz4 = true;
		else {
			log_usage_error("usage: dms-benchgen [-c] [-n records] [-z]");
			return EXIT_USAGE;
		}
	}
	if (!stream_refuse_tty(STDOUT_FILENO) || !writer_init(&w, STDOUT_FILENO, "stdout", lz4))
		return EXIT_USAGE;
	sig_init();
	if (change) {
		rec_hello(pk, &(const struct hello_attrs){ .engine = "postgresql", .stream = "changes",
							   .tool = "dms-benchgen", .server = "dms-benchgen",
							   .database = "bench" });
		changes(&w, n, x);
		return out_finish(&w.out) ? EXIT_OK : EXIT_OUTPUT;
	}
	rec_hello(pk, &(const struct hello_attrs){ .engine = "postgresql", .stream = "snapshot",
						   .tool = "dms-benchgen" });
	{
		static const char *const cols[][4] = {
			{ "id", "int8", "f", "bigint" }, { "customer_id", "int4", "f", "integer" },
			{ "amount", "numeric", "f", "numeric(12,2)" },
			{ "created_at", "datetime", "f", "timestamp without time zone" },
			{ "status", "string", "f", "text" }, { "note", "string", "t", "text" },
			{ "quantity", "int2", "t", "smallint" }, { "paid", "boolean", "f", "boolean" },
		};

		table(pk, 0, "orders", cols, 8);
	}

	rec_part_begin(pk, 0, &(const struct part_attrs){ .part = "1/1" });

	for (uint64_t i = 1; i <= n && !w.out.failed && !sig_drain && !sig_stop; i++) {
		static const char *const statuses[] = { "new", "paid", "shipped", "delivered", "returned" };
		char amount[32], ts[32], note[64];
		uint64_t r;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r = x;
		snprintf(amount, sizeof(amount), "%" PRIu64 ".%02" PRIu64, r % 100000, (r >> 20) % 100);
		snprintf(ts, sizeof(ts), "2024-%02" PRIu64 "-%02" PRIu64 " %02" PRIu64 ":%02" PRIu64
			 ":%02" PRIu64 ".%06" PRIu64, 1 + (r >> 8) % 12, 1 + (r >> 12) % 28,
			 (r >> 16) % 24, (r >> 24) % 60, (r >> 30) % 60, (r >> 36) % 1000000);
		rec_row(pk, 0, 8);
		msgpack_pack_uint64(pk, i);
		msgpack_pack_uint32(pk, (uint32_t)(r % 1000000));
		pk_str(pk, amount);
		pk_str(pk, ts);
		pk_str(pk, statuses[r % 5]);
		if (i % 3 == 0) {
			msgpack_pack_nil(pk);
		} else {
			snprintf(note, sizeof(note), "customer note %" PRIu64 " about delivery", r % 9973);
			pk_str(pk, note);
		}
		if (i % 7 == 0)
			msgpack_pack_nil(pk);
		else
			msgpack_pack_int(pk, (int)(r % 100));
		if (r & 1)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}

	rec_part_end(pk, 0, n, "1/1");
	rec_end(pk, &n, NULL, false);
	if (!out_finish(&w.out))
		return EXIT_OUTPUT;
	return EXIT_OK;
}
