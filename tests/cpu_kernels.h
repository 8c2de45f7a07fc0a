/* cpu_kernels.h — kernel tests that need a CPU feature run as ctest entries
 * of their own (`test_x kernel_avx2 avx2+fma`, registered in
 * tests/CMakeLists.txt), so a CPU without the feature reports them as
 * skipped (exit 77, ctest's SKIP_RETURN_CODE) instead of passed, and the CI
 * log names every kernel that did not run. Without arguments, a test
 * program runs only its tests named test_*, which need no feature. */
#ifndef FL_TESTS_CPU_KERNELS_H
#define FL_TESTS_CPU_KERNELS_H

#include "core/qscan.h"
#include "train/sgd_simd.h"

#include <stdio.h>
#include <string.h>

#define FL_TEST_SKIPPED 77

/* 1 if this CPU has every feature of a '+'-joined list
 * (avx2, fma, avx512f, prefetchw, avx512vnni: AVX-512 F, BW and VNNI). */
static int fl_test_cpu_has(const char *features) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (strstr(features, "avx512f") && !__builtin_cpu_supports("avx512f")) return 0;
    if (strstr(features, "avx2") && !__builtin_cpu_supports("avx2")) return 0;
    if (strstr(features, "fma") && !__builtin_cpu_supports("fma")) return 0;
    if (strstr(features, "prefetchw") && !fl_cpu_has_prefetchw()) return 0;
    if (strstr(features, "avx512vnni") && !fl_cpu_has_avx512vnni()) return 0;
    return 1;
#else
    (void)features;
    return 0;
#endif
}

/* main() for a test program with kernel tests: see the top of this file. */
#define FL_TEST_MAIN(tests, argc, argv)                                                        \
    do {                                                                                       \
        if ((argc) == 3) {                                                                     \
            if (!fl_test_cpu_has((argv)[2])) {                                                 \
                printf("skipped: %s needs %s, which this CPU lacks\n", (argv)[1], (argv)[2]);   \
                return FL_TEST_SKIPPED;                                                        \
            }                                                                                  \
            printf("running kernel test %s (%s)\n", (argv)[1], (argv)[2]);                     \
            cmocka_set_test_filter((argv)[1]);                                                 \
        } else {                                                                               \
            cmocka_set_test_filter("test_*");                                                  \
        }                                                                                      \
        return cmocka_run_group_tests(tests, NULL, NULL);                                      \
    } while (0)

#endif
