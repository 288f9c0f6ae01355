/*
 * A jump label (static branch) in a changed function whose key is defined in this object.
 * Built as a module object (MODULE_LICENSE-style .modinfo entry): reject (LD006). Built with
 * -DBUILTIN it carries a built-in modinfo prefix, so the key is in vmlinux: accept.
 */
struct static_key {
	int enabled;
	void *entries;
};

struct static_key fast_key;

#ifdef BUILTIN
static const char modinfo[] __attribute__((section(".modinfo"), used, aligned(1))) = "fixture.license=GPL";
#else
static const char modinfo[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL";
#endif

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
	if (key_enabled(&fast_key))
#ifdef PATCHED
		return x * 4;
#else
		return x * 2;
#endif
	return x;
}
