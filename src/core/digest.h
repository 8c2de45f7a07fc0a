/* digest.h — SHA-256 (via OpenSSL's libcrypto) for model-file checksums and
 * download verification. Hex digests are lowercase, 64 characters. */
#ifndef FL_CORE_DIGEST_H
#define FL_CORE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct fl_sha256 fl_sha256;

/* Incremental hashing of a stream; NULL when out of memory. */
fl_sha256 *fl_sha256_begin(void);
void fl_sha256_update(fl_sha256 *h, const void *data, size_t len);
/* Writes 64 hex characters and a NUL into hex, and frees h. */
void fl_sha256_end(fl_sha256 *h, char hex[65]);
/* One-shot; returns 0 when out of memory. */
int fl_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
