/* sha256.h: SHA-256 (FIPS 180-4), for hash_sha256() and data-masking-hash-mask. */
#ifndef DMS_SHA256_H
#define DMS_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Writes the 64 lowercase hex digits of SHA-256(p[0..n)) and a NUL to hex. */
void sha256_hex(const void *p, size_t n, char hex[65]);

#endif
