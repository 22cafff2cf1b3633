/*
 * dms-benchgen [-n records] [-z]: writes a snapshot stream of a realistic
 * mixed row (integers, numeric text, timestamps, text, NULLs) for the
 * benchmarks. Deterministic: the same arguments give the same bytes.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/records.h"
#include "../common/dms.h"

static void
column(msgpack_packer *pk, const char *name, const char *type, bool nullable, const char *native)
{
	msgpack_pack_array(pk, 4);
	pk_str(pk, name);
	pk_str(pk, type);
	if (nullable)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	msgpack_pack_map(pk, 1);
	pk_str(pk, "native");
	pk_str(pk, native);
}

int
main(int argc, char **argv)
{
	struct dms_writer w;
	msgpack_packer *pk = &w.pk;
	uint64_t n = 10000000, x = 88172645463325252ULL;
	bool lz4 = false;
	int ch;

	log_init(argv[0]);
	while ((ch = getopt(argc, argv, "n:z")) != -1) {
		if (ch == 'n')
			n = strtoull(optarg, NULL, 10);
		else if (ch == 'z')
			lz4 = true;
		else {
			log_usage_error("usage: dms-benchgen [-n records] [-z]");
			return EXIT_USAGE;
		}
	}
	if (!stream_refuse_tty(STDOUT_FILENO) || !writer_init(&w, STDOUT_FILENO, "stdout", lz4))
		return EXIT_USAGE;
	sig_init();
	rec_hello(pk, &(const struct hello_attrs){ .engine = "postgresql", .stream = "snapshot",
						   .tool = "dms-benchgen" });

	msgpack_pack_array(pk, 7);
	msgpack_pack_int(pk, K_TABLE);
	msgpack_pack_int(pk, 0);
	pk_str(pk, "public");
	pk_str(pk, "orders");
	msgpack_pack_array(pk, 8);
	column(pk, "id", "int8", false, "bigint");
	column(pk, "customer_id", "int4", false, "integer");
	column(pk, "amount", "numeric", false, "numeric(12,2)");
	column(pk, "created_at", "datetime", false, "timestamp without time zone");
	column(pk, "status", "string", false, "text");
	column(pk, "note", "string", true, "text");
	column(pk, "quantity", "int2", true, "smallint");
	column(pk, "paid", "boolean", false, "boolean");
	msgpack_pack_array(pk, 1);
	msgpack_pack_int(pk, 0);
	msgpack_pack_map(pk, 0);

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
