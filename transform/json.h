/*
 * json.h: the readable form of the stream, one JSON object per record per line
 * (dms-transform(1), JSON FORM). json_write_record() and json_read_record()
 * are exact inverses for every record this program writes.
 */
#ifndef DMS_TRANSFORM_JSON_H
#define DMS_TRANSFORM_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "../common/io.h"
#include "../common/stream.h"

/* Writes rec (already checked) as one line. False when the output failed. */
bool json_write_record(struct dms_out *o, const struct dms_record *rec);

/*
 * Parses one line of JSON into one MessagePack record packed into pk.
 * On error returns false and puts the reason in err.
 */
bool json_read_record(const char *line, size_t len, msgpack_packer *pk, char *err, size_t errsize);

#endif
