/*
 * Author directives (kpatch-macros.h): `dump_state` (with its .cold part) changed but is
 * ignored with KPATCH_IGNORE_FUNCTION; the data in `.fixture.stats` changed but the section is
 * ignored with KPATCH_IGNORE_SECTION; `handle` changed and is marked KPATCH_FORCE_UNSAFE. The
 * patch replaces `handle` only; each directive shows as a waived finding, and the markers are
 * neither new globals nor data.
 */
#define ___PASTE(a, b) a##b
#define __PASTE(a, b) ___PASTE(a, b)
#define __UNIQUE_ID(prefix) __PASTE(__PASTE(__UNIQUE_ID_, prefix), __COUNTER__)

#define KPATCH_IGNORE_SECTION(_sec)                                                          \
	char *__UNIQUE_ID(kpatch_ignore_section_)                                            \
		__attribute__((section(".kpatch.ignore.sections"))) = _sec;
#define KPATCH_IGNORE_FUNCTION(_fn)                                                          \
	void *__kpatch_ignore_func_##_fn __attribute__((section(".kpatch.ignore.functions"))) = _fn;
#define KPATCH_FORCE_UNSAFE(_fn)                                                             \
	void *__kpatch_force_func_##_fn __attribute__((section(".kpatch.force"))) = _fn;

extern int log_state(const char *fmt, ...) __attribute__((cold));
extern int read_state(int x);

int stats[4] __attribute__((section(".fixture.stats"))) = {
#ifdef PATCHED
	1, 2, 3, 5
#else
	1, 2, 3, 4
#endif
};

int dump_state(int x)
{
	int r = read_state(x);

	if (r < 0) {
		log_state("bad state %d\n", r);
#ifdef PATCHED
		log_state("while dumping %d\n", x);
#endif
		return -22;
	}
	r += read_state(r);
#ifdef PATCHED
	return r * 3 + stats[x & 3];
#else
	return r * 3;
#endif
}

int handle(int x)
{
#ifdef PATCHED
	return x * 3;
#else
	return x * 2;
#endif
}

#ifdef PATCHED
KPATCH_IGNORE_FUNCTION(dump_state);
KPATCH_IGNORE_SECTION(".fixture.stats");
KPATCH_FORCE_UNSAFE(handle);
#endif
#ifdef MISSING_SECTION
/* A directive that names nothing in the object: the objects cannot be analyzed as asked. */
KPATCH_IGNORE_SECTION(".no.such.section");
#endif
