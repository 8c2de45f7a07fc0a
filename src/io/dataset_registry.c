/* dataset_registry.c — the built-in table of downloadable datasets and the
 * checksums every downloaded file must match. Only datasets whose checksums
 * we know are listed: adding one means adding its verified SHA-256 table. */
#include "io/dataset_registry.h"

#include <stdio.h>
#include <string.h>

/* Checksums from the README.md of the shared data folder (scripts/data-dir),
 * re-checked with sha256sum against the original GroupLens files. The READMEs
 * are kept (they carry the licence) but not verified: copies in the wild
 * differ and no code reads them. */
static const fl_dataset_file ML_100K[] = {
    {"u.data", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490", 1979173},
    {"u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701", 236344},
    {"u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c", 22628},
    {"u.genre", "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb", 202},
    {"u.occupation", "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d", 193},
    {"u.info", "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b", 36},
    {"u1.base", "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a", 1586544},
    {"u1.test", "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950", 392629},
    {"u2.base", "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e", 1583948},
    {"u2.test", "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3", 395225},
    {"u3.base", "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d", 1582546},
    {"u3.test", "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d", 396627},
    {"u4.base", "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca", 1581878},
    {"u4.test", "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9", 397295},
    {"u5.base", "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485", 1581776},
    {"u5.test", "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634", 397397},
    {"ua.base", "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2", 1792501},
    {"ua.test", "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42", 186672},
    {"ub.base", "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881", 1792476},
    {"ub.test", "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da", 186697},
    {"README", NULL, 1 << 20},
};

static const fl_dataset_file ML_LATEST_SMALL[] = {
    {"ratings.csv", "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646", 2483723},
    {"movies.csv", "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07", 494431},
    {"tags.csv", "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d", 118660},
    {"links.csv", "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31", 197979},
    {"README.txt", NULL, 1 << 20},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const fl_dataset_entry DATASETS[] = {
    {"ml-100k", ML_100K, N_OF(ML_100K)},
    {"ml-latest-small", ML_LATEST_SMALL, N_OF(ML_LATEST_SMALL)},
};

static const char *const NAMES[] = {"ml-100k", "ml-latest-small", NULL};

const fl_dataset_entry *fl_registry_find(const char *name) {
    if (!name) return NULL;
    for (size_t k = 0; k < N_OF(DATASETS); k++)
        if (strcmp(DATASETS[k].name, name) == 0) return &DATASETS[k];
    return NULL;
}

const char *const *fl_registry_names(void) { return NAMES; }

void fl_registry_names_joined(char *buf, size_t len) {
    size_t used = 0;
    if (len == 0) return;
    buf[0] = '\0';
    for (size_t k = 0; NAMES[k] && used < len; k++) {
        int w = snprintf(buf + used, len - used, "%s%s", k ? ", " : "", NAMES[k]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

const fl_dataset_file *fl_registry_file(const fl_dataset_entry *d, const char *file_name) {
    for (size_t k = 0; k < d->n_files; k++)
        if (strcmp(d->files[k].name, file_name) == 0) return &d->files[k];
    return NULL;
}
