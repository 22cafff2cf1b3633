/*
 * position.h: source positions in the engines' own notation.
 *   PostgreSQL: an LSN, "16/B374D848" (two hex halves).
 *   MySQL / MariaDB: "binlog.000042:1234" (file name, ':', byte offset).
 */
#ifndef DMS_POSITION_H
#define DMS_POSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool lsn_parse(const char *s, uint64_t *lsn);
void lsn_format(uint64_t lsn, char *buf, size_t size);

/* MySQL: splits "name.000042:1234" into base name length, file number and offset. */
bool binlog_parse(const char *s, size_t *baselen, uint64_t *fileno, uint64_t *offset);

/*
 * Compares two positions of one engine: *cmp < 0, 0, > 0. False when either
 * is not a position or they are of different engines or binlog names.
 */
bool position_compare(const char *a, const char *b, int *cmp);

#endif
