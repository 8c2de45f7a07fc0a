/* digest.c — SHA-256 through libcrypto's EVP interface (the maintained,
 * hardware-accelerated implementation; no hand-written crypto here). */
#include "core/digest.h"

#include <openssl/evp.h>
#include <string.h>

struct fl_sha256 {
    EVP_MD_CTX *ctx;
};

fl_sha256 *fl_sha256_begin(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return NULL;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return (fl_sha256 *)ctx;
}

void fl_sha256_update(fl_sha256 *h, const void *data, size_t len) {
    EVP_DigestUpdate((EVP_MD_CTX *)h, data, len);
}

void fl_sha256_end(fl_sha256 *h, char hex[65]) {
    /* If libcrypto failed, the all-zero digest below matches no real file,
     * so every verification fails safely instead of reading garbage. */
    unsigned char md[EVP_MAX_MD_SIZE] = {0};
    unsigned int n = 0;
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)h, md, &n) != 1 || n != 32) memset(md, 0, sizeof md);
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
    static const char digits[] = "0123456789abcdef";
    for (unsigned k = 0; k < 32; k++) {
        hex[2 * k] = digits[md[k] >> 4];
        hex[2 * k + 1] = digits[md[k] & 15];
    }
    hex[64] = '\0';
}

int fl_sha256_hex(const void *data, size_t len, char hex[65]) {
    fl_sha256 *h = fl_sha256_begin();
    if (!h) return 0;
    fl_sha256_update(h, data, len);
    fl_sha256_end(h, hex);
    return 1;
}
