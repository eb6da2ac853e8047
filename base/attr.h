/* crypto/attr.h - attributes that make a header a contract the compiler checks, as
 * libsodium's and jansson's headers do (GCC and clang).
 *
 * CS_WUR: the result must be used. Put on every function that returns -1 with a
 *	struct cs_err filled, and on every allocator: ignoring either loses an error or
 *	leaks. GCC does not let a (void) cast silence it: where ignoring were ever right,
 *	the call would keep the result in a variable and say why in a comment.
 * CS_NONNULL(n, ...): argument n (1-based) must never be NULL; the compiler warns at a
 *	call that passes a literal NULL, and may drop NULL checks inside the function, so
 *	it is never put on a function that accepts NULL (the free functions, an optional
 *	out-parameter, an optional struct cs_err). */
#ifndef CS_ATTR_H
#define CS_ATTR_H

#define CS_WUR		__attribute__((warn_unused_result))
#define CS_NONNULL(...)	__attribute__((nonnull(__VA_ARGS__)))

#endif
