/*
 * __UNIQUE_ID() names carry the value of __COUNTER__, which the patched build shifts by using
 * the counter once more, earlier in the file. The objects, the references to them and the
 * jump-label key (a dynamic-debug descriptor, as DYNAMIC_DEBUG_BRANCH uses) are the same:
 * no change.
 */
#define ___PASTE(a, b) a##b
#define __PASTE(a, b) ___PASTE(a, b)
#define __UNIQUE_ID(prefix) __PASTE(__PASTE(__UNIQUE_ID_, prefix), __COUNTER__)

#ifdef PATCHED
enum { __PASTE(counter_shift_, __COUNTER__) };
#endif

struct _ddebug {
	const char *modname;
	const char *function;
	const char *format;
	unsigned int flags;
	int key;
};

extern void __dynamic_pr_debug(struct _ddebug *descriptor, const char *fmt, ...);

#define __DEFINE_LIMIT(id)                                                                  \
	static int id = 64;                                                                  \
	void set_limit(int value)                                                            \
	{                                                                                    \
		id = value;                                                                  \
	}                                                                                    \
	int apply_limit(int x)                                                               \
	{                                                                                    \
		return x > id ? id : x;                                                      \
	}
#define DEFINE_LIMIT() __DEFINE_LIMIT(__UNIQUE_ID(limit))

DEFINE_LIMIT()

#define __pr_debug_branch(id, fmt)                                                           \
	do {                                                                                 \
		static struct _ddebug id                                                     \
			__attribute__((section("__dyndbg"), used, aligned(8))) = {           \
				"fixture", __func__, fmt, 0, 0 };                            \
		asm goto("1: .byte 0x0f,0x1f,0x44,0x00,0x00\n\t"                             \
			 ".pushsection __jump_table, \"aw\"\n\t"                             \
			 ".balign 8\n\t"                                                     \
			 ".long 1b - ., %l[print] - .\n\t"                                   \
			 ".quad %c0 - .\n\t"                                                 \
			 ".popsection\n\t"                                                   \
			 : : "i"(&id) : : print);                                            \
		break;                                                                       \
	print:                                                                               \
		__dynamic_pr_debug(&id, fmt);                                                \
	} while (0)
#define pr_debug_branch(fmt) __pr_debug_branch(__UNIQUE_ID(ddebug), fmt)

int clamp_to_limit(int x)
{
	pr_debug_branch("clamping\n");
	return apply_limit(x);
}
