/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lpc_c_start.h - the replacement of c_start() shared by lp-ambiguous and
 * lp-ambiguous-sympos.
 *
 * vmlinux has three static functions named c_start, all seq_file ->start()
 * callbacks: in /proc/cpuinfo (arch/x86/kernel/cpu/proc.c), /proc/consoles
 * (fs/proc/consoles.c) and /proc/crypto (crypto/proc.c), in that order of
 * address in the Debian 6.1 kernel. old_sympos picks one of them (1-based, in
 * kallsyms order); 0 means "the only one" and is ambiguous here.
 *
 * The replacement counts its calls and runs the original body of whichever
 * copy was resolved (lpc_passthrough.h). Define LPC_C_START_SYMPOS before
 * including this file.
 */
#ifndef LPC_C_START_H
#define LPC_C_START_H

#include <linux/kernel.h>
#include <linux/seq_file.h>
#include "lpc_passthrough.h"
#include "lpc_patch.h"

LPC_DEFINE_HITS();

typedef void *(*c_start_fn)(struct seq_file *m, loff_t *pos);

static void *lp_c_start(struct seq_file *m, loff_t *pos);

static struct klp_func funcs[] = {
	{
		.old_name = "c_start",
		.new_func = lp_c_start,
		.old_sympos = LPC_C_START_SYMPOS,
	},
	{}
};

static void *lp_c_start(struct seq_file *m, loff_t *pos)
{
	c_start_fn original = lpc_original_body(&funcs[0]);

	lpc_count_hit();
	return original(m, pos);
}

LPC_LIVEPATCH(NULL, funcs);

#endif /* LPC_C_START_H */
