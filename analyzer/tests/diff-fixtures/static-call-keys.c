/*
 * Static call sites in a changed function of a module whose keys the object does not define:
 * one keyed by a `__SCT__` trampoline (the kernel resolves it through vmlinux: supported) and
 * one by an undefined `__SCK__` key (vmlinux's or another module object's: unknown, LD015).
 * Neither is a module-owned key (LD007).
 */
static const char modinfo[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL";

int notify(int x)
{
	asm volatile("1: .byte 0x0f,0x1f,0x44,0x00,0x00\n\t"
		     ".pushsection .static_call_sites, \"a\"\n\t"
		     ".long 1b - .\n\t"
		     ".long __SCT__vmlinux_hook - .\n\t"
		     ".popsection\n\t"
		     "2: .byte 0x0f,0x1f,0x44,0x00,0x00\n\t"
		     ".pushsection .static_call_sites, \"a\"\n\t"
		     ".long 2b - .\n\t"
		     ".long __SCK__other_hook - .\n\t"
		     ".popsection\n\t");
#ifdef PATCHED
	return x + 10;
#else
	return x + 5;
#endif
}
