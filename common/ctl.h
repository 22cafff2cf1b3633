/*
 * ctl.h: the control table two programs write (common/ctl.c): table_statistics,
 * one row per task and table, with dms-validate's validation counters and
 * dms-load's change-apply counters. Its definition is here once, for both.
 */
#ifndef DMS_CTL_H
#define DMS_CTL_H

#include "uri.h"

/* CREATE TABLE IF NOT EXISTS <schema>.table_statistics, every column; the caller frees it. */
char *ctl_statistics_create(enum dms_engine e, const char *schema);
/* A query of one row and column: 0 when the table predates the apply counters. */
char *ctl_statistics_probe(enum dms_engine e, const char *schema);
/* The ALTER TABLE that adds the apply counters to such a table. */
char *ctl_statistics_upgrade(enum dms_engine e, const char *schema);

#endif
