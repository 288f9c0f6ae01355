/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lpc_passthrough.h - let a replacement function run the code it replaces.
 *
 * Several test patches replace hot kernel functions (schedule, do_nanosleep,
 * ksys_read, ...). They exist to be rejected by `lpcheck check`, but the VM
 * tests also load them to record what the kernel itself does, and then the
 * replacement really runs for every task already switched to the patched
 * state. So it must behave like the original.
 *
 * A replacement cannot simply call the function it replaces: the call would
 * enter the ftrace call site at the start of that function and be sent back to
 * the replacement. Instead it calls the original just past that site. On
 * x86_64 built with -mfentry, the site is a 5-byte `call __fentry__`: the
 * first instruction, or, in a CONFIG_X86_KERNEL_IBT kernel (Debian's since
 * 6.2), the second after the 4-byte ENDBR64 of a function that may be called
 * indirectly (or the poison the kernel seals an unused one with); a static
 * function whose address is never taken (do_nanosleep) has none, so the first
 * four bytes tell. Stepping over both leaves registers and stack exactly as at
 * the entry.
 *
 * Where IBT is enforced (a CPU with CET and a kernel that enabled it) the
 * indirect call into the body, which starts with no ENDBR64, would fault
 * (#CP): the patch then refuses to load (LPC_PATCH_PRECONDITION). QEMU's TCG,
 * which the VM tests use, has no CET, so there the patches load.
 *
 * The livepatch core stores the address of the function it resolved in
 * klp_func.old_func before the patch is enabled, so it is set whenever a
 * replacement runs.
 */
#ifndef LPC_PASSTHROUGH_H
#define LPC_PASSTHROUGH_H

#include <linux/livepatch.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <asm/cpufeature.h>
#include <asm/ibt.h>

#if !defined(CONFIG_X86_64) || !defined(CONFIG_HAVE_FENTRY)
#error "lpc_passthrough.h needs x86_64 with fentry"
#endif

/* Size of the `call __fentry__` that opens every traceable function. */
#define LPC_FENTRY_CALL_SIZE 5

/* Size of the ENDBR64 (or its sealing poison) at @addr: 4 or, when none, 0. */
static inline unsigned long lpc_endbr_size(const void *addr)
{
#ifdef CONFIG_X86_KERNEL_IBT
	u32 insn = *(const u32 *)addr;

	if (insn == gen_endbr() || insn == gen_endbr_poison())
		return ENDBR_INSN_SIZE;
#endif
	return 0;
}

/* Address of the body of the function resolved for @func, past its ENDBR64 and ftrace site. */
static inline void *lpc_original_body(const struct klp_func *func)
{
	unsigned long entry = (unsigned long)func->old_func;

	return (void *)(entry + lpc_endbr_size(func->old_func) + LPC_FENTRY_CALL_SIZE);
}

/* Whether the replacements can call lpc_original_body: not under enforced IBT. */
static inline int lpc_passthrough_usable(void)
{
	if (cpu_feature_enabled(X86_FEATURE_IBT)) {
		pr_err("IBT is enforced: calling the body of the replaced function would fault\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* What the module init of LPC_LIVEPATCH (lpc_patch.h) checks first. */
#undef LPC_PATCH_PRECONDITION
#define LPC_PATCH_PRECONDITION() lpc_passthrough_usable()

/*
 * Counts the calls of a replacement, readable as the module parameter "hits"
 * in /sys/module/<name>/parameters/hits. Increments are not atomic: the count
 * is only good to tell whether the replacement ran, and roughly how often.
 */
#define LPC_DEFINE_HITS()						\
	static unsigned long lpc_hits;					\
	module_param_named(hits, lpc_hits, ulong, 0444);		\
	MODULE_PARM_DESC(hits, "Calls of the replacement function (approximate)")

#define lpc_count_hit() data_race(lpc_hits++)

#endif /* LPC_PASSTHROUGH_H */
