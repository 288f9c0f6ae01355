/* A static call site in a changed function of a module, keyed in the module: reject (LD007). */
struct static_call_key {
	void *func;
};

struct static_call_key __SCK__notify_hook;

static const char modinfo[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL";

int notify(int x)
{
	asm volatile("1: .byte 0x0f,0x1f,0x44,0x00,0x00\n\t"
		     ".pushsection .static_call_sites, \"a\"\n\t"
		     ".long 1b - .\n\t"
		     ".long __SCK__notify_hook - .\n\t"
		     ".popsection\n\t");
#ifdef PATCHED
	return x + 10;
#else
	return x + 5;
#endif
}
