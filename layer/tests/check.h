/* The C unit tests' checks: count, report file:line and the values, never stop. */
#ifndef KM_TEST_CHECK_H
#define KM_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

extern int failures, checks;


#define CHECK(cond)                                                          \
  do {                                                                       \
    checks++;                                                                \
    if (!(cond)) {                                                           \
      failures++;                                                            \
      fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, __func__, #cond); \
    }                                                                        \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                   \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    checks++;                                                                \
    if (a_ != b_) {                                                          \
      failures++;                                                            \
      fprintf(stderr, "%s:%d: %s: %s is %lld, expected %lld\n", __FILE__, __LINE__, __func__, #a, a_, b_); \
    }                                                                        \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                   \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    checks++;                                                                \
    if (!a_ || strcmp(a_, b_) != 0) {                                        \
      failures++;                                                            \
      fprintf(stderr, "%s:%d: %s: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, __func__, #a, a_ ? a_ : "(null)", b_); \
    }                                                                        \
  } while (0)


/** Sets the process configuration from a HELLO_OK built with these test rules (unit.c). */
void configure(unsigned flags);

#endif
