// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-callbacks-shadow: a good live patch using the rest of the livepatch API:
 * pre/post (un)patch callbacks, shadow variables, a klp_state, and atomic
 * replace (.replace = true: it replaces every live patch loaded before it).
 *
 * It replaces cmdline_proc_show() (fs/proc/cmdline.c): reading /proc/cmdline
 * prints a marker and how many times the reading task has read it since the
 * patch was applied. That count is a shadow variable attached to the task's
 * task_struct. The post-unpatch callback frees all of them. (A count left by
 * a task that exited stays until then, and a new task that happens to get
 * the same task_struct address inherits it: harmless for a test counter.)
 */
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/seq_file.h>

#define LP_SHADOW_MARKER "lpcheck-lp-callbacks-shadow: reads by this task:"

/* Shadow variable id: the per-task read count. */
#define LP_SHADOW_READS 0x6c706301UL
/* klp_state id: "per-task /proc/cmdline read counts kept in shadow variables". */
#define LP_STATE_READ_COUNTS 0x6c706302UL

static int lp_cmdline_proc_show(struct seq_file *m, void *v)
{
	unsigned long *reads;

	reads = klp_shadow_get_or_alloc(current, LP_SHADOW_READS, sizeof(*reads),
					GFP_KERNEL, NULL, NULL);
	if (!reads)
		return -ENOMEM;
	(*reads)++;
	seq_printf(m, LP_SHADOW_MARKER " %lu\n", *reads);
	return 0;
}

/* Runs before the code is patched; an error here cancels the patch. */
static int lp_pre_patch(struct klp_object *obj)
{
	struct klp_state *prev = klp_get_prev_state(LP_STATE_READ_COUNTS);

	if (prev)
		pr_info("lp-callbacks-shadow: taking over read counts, state version %u\n",
			prev->version);
	else
		pr_info("lp-callbacks-shadow: pre-patch, no earlier read counts\n");
	return 0;
}

static void lp_post_patch(struct klp_object *obj)
{
	pr_info("lp-callbacks-shadow: post-patch, transition complete\n");
}

static void lp_pre_unpatch(struct klp_object *obj)
{
	pr_info("lp-callbacks-shadow: pre-unpatch\n");
}

/* Runs once no task can run the replacement any more: drop the counts. */
static void lp_post_unpatch(struct klp_object *obj)
{
	klp_shadow_free_all(LP_SHADOW_READS, NULL);
	pr_info("lp-callbacks-shadow: post-unpatch, read counts freed\n");
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = lp_cmdline_proc_show,
	},
	{}
};

static struct klp_object objs[] = {
	{
		.funcs = funcs,
		.callbacks = {
			.pre_patch = lp_pre_patch,
			.post_patch = lp_post_patch,
			.pre_unpatch = lp_pre_unpatch,
			.post_unpatch = lp_post_unpatch,
		},
	},
	{}
};

static struct klp_state states[] = {
	{
		.id = LP_STATE_READ_COUNTS,
		.version = 1,
	},
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
	.states = states,
	.replace = true,
};

static int __init lp_callbacks_shadow_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_callbacks_shadow_exit(void)
{
}

module_init(lp_callbacks_shadow_init);
module_exit(lp_callbacks_shadow_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: good live patch with callbacks, shadow variables, a state and atomic replace");
MODULE_INFO(livepatch, "Y");
