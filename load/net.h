/*
 * net.h: the net change per key of a table over a batch (load/net.c).
 */
#ifndef DMS_LOAD_NET_H
#define DMS_LOAD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/stream.h"

enum { NET_UPSERT = 'U', NET_DELETE = 'D' };

/* A row of the net change: NET_UPSERT with the full image, or NET_DELETE with the key. */
struct net_row {
	char op;
	const uint8_t *values;
	size_t len;
};

enum net_result {
	NET_ADDED,
	NET_NEEDS_TARGET,	/* no key, or UNCHANGED values: apply it as a statement */
	NET_BAD,		/* its values are not one per column */
};

struct net;

struct net *net_new(void);
void net_free(struct net *n);
void net_clear(struct net *n);
/* A change of table t (UPDATE: old may be NULL, the key unchanged). */
enum net_result net_add(struct net *n, const struct dms_table *t, enum dms_kind kind, const uint8_t *values,
			size_t vlen, const uint8_t *old, size_t olen);
/* Bytes held. */
size_t net_bytes(const struct net *n);
size_t net_count(const struct net *n);
/* The rows, pointing into n (valid until it changes); the caller frees the array. */
size_t net_rows(const struct net *n, struct net_row **rows);

#endif
