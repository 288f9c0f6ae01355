/*
 * Functions whose code and relocations are the same while their special-section entries are
 * not: `pick`'s jump label uses another static key, and a `.smp_locks` entry moves from
 * `first_user` to `second_user`. Neither counts as a changed function (no change); each is a
 * warning with the evidence (LD014). Built into vmlinux (built-in .modinfo prefix), so the keys
 * are supported.
 */
struct static_key {
	int enabled;
	void *entries;
};

struct static_key fast_key, slow_key;

static const char modinfo[] __attribute__((section(".modinfo"), used, aligned(1))) =
	"fixture.license=GPL";

static inline __attribute__((always_inline)) int key_enabled(struct static_key *key)
{
	asm goto("1: .byte 0x0f,0x1f,0x44,0x00,0x00\n\t"
		 ".pushsection __jump_table, \"aw\"\n\t"
		 ".balign 8\n\t"
		 ".long 1b - ., %l[yes] - .\n\t"
		 ".quad %c0 - .\n\t"
		 ".popsection\n\t"
		 : : "i"(key) : : yes);
	return 0;
yes:
	return 1;
}

int pick(int x)
{
#ifdef PATCHED
	if (key_enabled(&slow_key))
#else
	if (key_enabled(&fast_key))
#endif
		return x * 2;
	return x;
}

int first_user(int x)
{
	return x + 1;
}

int second_user(int x)
{
	return x + 2;
}

#ifdef PATCHED
#define LOCK_SITE "second_user"
#else
#define LOCK_SITE "first_user"
#endif
asm(".pushsection .smp_locks, \"a\"\n\t"
    ".balign 4\n\t"
    ".long " LOCK_SITE " - .\n\t"
    ".popsection");
