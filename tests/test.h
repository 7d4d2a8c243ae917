/*
 * test.h - the few macros our unit tests need.
 *
 * A failed CHECK prints file:line and the expression, counts the failure and
 * continues, so one run shows every broken case; TEST_END returns 1 if any
 * check failed. TEST_SHARED_PATH builds a path under ../shared and skips the
 * test (exit 77, reported by CTest as skipped) when that folder is absent.
 */
#ifndef FR_TEST_H
#define FR_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fr_test_failures;
static int fr_test_checks;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        fr_test_checks++;                                                             \
        if (!(cond)) {                                                                \
            fr_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        fr_test_checks++;                                                             \
        if (!(cond)) {                                                                \
            fr_test_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                  \
    do {                                                                                    \
        long long fr_a_ = (long long)(a), fr_b_ = (long long)(b);                           \
        CHECK_MSG(fr_a_ == fr_b_, "%s = %lld, %s = %lld", #a, fr_a_, #b, fr_b_);            \
    } while (0)

#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *fr_a_ = (a), *fr_b_ = (b);                                              \
        CHECK_MSG(fr_a_ && fr_b_ && strcmp(fr_a_, fr_b_) == 0, "\"%s\" != \"%s\"",          \
                  fr_a_ ? fr_a_ : "(null)", fr_b_ ? fr_b_ : "(null)");                      \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                               \
    do {                                                                                    \
        double fr_a_ = (a), fr_b_ = (b);                                                    \
        CHECK_MSG(fabs(fr_a_ - fr_b_) <= (tol), "%s = %.9g, %s = %.9g", #a, fr_a_, #b, fr_b_); \
    } while (0)

#define TEST_END()                                                                  \
    do {                                                                            \
        fprintf(stderr, "%d checks, %d failed\n", fr_test_checks, fr_test_failures); \
        return fr_test_failures ? 1 : 0;                                            \
    } while (0)

/* Path under the shared test data; exits 77 (skip) when it is missing. */
static inline const char *fr_test_shared(const char *rel, char *buf, size_t n)
{
    const char *root = getenv("FR_SHARED");
    if (!root)
        root = "../shared";
    snprintf(buf, n, "%s/%s", root, rel);
    FILE *f = fopen(buf, "rb");
    if (!f) {
        fprintf(stderr, "SKIP: %s not found (tests read ../shared beside the checkout)\n", buf);
        exit(77);
    }
    fclose(f);
    return buf;
}

/* A fresh temporary directory for this test (under $TMPDIR or /tmp). */
static inline const char *fr_test_tmpdir(char *buf, size_t n)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, n, "%s/frugal-test-XXXXXX", t ? t : "/tmp");
    extern char *mkdtemp(char *);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
    return buf;
}

#endif
