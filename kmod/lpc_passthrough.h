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
 * first instruction, or the second after the 4-byte ENDBR64 (or the NOP4
 * objtool seals it with) of CONFIG_X86_KERNEL_IBT (6.2 and later in Debian).
 * Stepping over both leaves registers and stack exactly as at the entry.
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

/*
 * Address of the body of the function resolved for @func, past its ENDBR64
 * (none without IBT: ENDBR_INSN_SIZE is 0) and its ftrace site.
 */
#define lpc_original_body(func)						\
	((void *)((unsigned long)(func)->old_func + ENDBR_INSN_SIZE +	\
		  LPC_FENTRY_CALL_SIZE))

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
