/*
 * Assertions.
 *
 * A failed assertion is a bug in ortak, never bad input: input from outside is answered with a result code.
 * ORTAK_ASSERT is cheap and stays on in every build. ORTAK_DEBUG_ASSERT guards costly checks (walking a table,
 * summing a ledger) and is compiled only into debug and sanitizer builds (ORTAK_DEBUG defined).
 */
#ifndef ORTAK_BASE_ASSERT_H
#define ORTAK_BASE_ASSERT_H

_Noreturn void ortak__assert_fail(const char *expr, const char *file, int line, const char *func);

#define ORTAK_ASSERT(e) ((e) ? (void)0 : ortak__assert_fail(#e, __FILE__, __LINE__, __func__))

#ifdef ORTAK_DEBUG
#define ORTAK_DEBUG_ASSERT(e) ORTAK_ASSERT(e)
#else
#define ORTAK_DEBUG_ASSERT(e) ((void)0)
#endif

#define ORTAK_UNREACHABLE() ortak__assert_fail("unreachable", __FILE__, __LINE__, __func__)

#endif
