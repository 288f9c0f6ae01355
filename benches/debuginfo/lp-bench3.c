// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-bench3: the benchmark patch of benches/debuginfo.sh, never loaded.
 *
 * Three real vmlinux targets of Debian's 6.1 kernel:
 * - cmdline_proc_show (fs/proc/cmdline.c): not inlined, no direct caller;
 * - rw_verify_area (fs/read_write.c): out of line, and inlined into one function;
 * - getname_flags (fs/namei.c): out of line, and inlined into about ten functions.
 * The replacements have the originals' prototypes.
 */
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int lp_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "lp-bench3\n");
	return 0;
}

static int lp_rw_verify_area(int read_write, struct file *file, const loff_t *ppos, size_t count)
{
	return count > MAX_RW_COUNT ? -EINVAL : 0;
}

static struct filename *lp_getname_flags(const char __user *filename, int flags, int *empty)
{
	return ERR_PTR(-ENOSYS);
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = lp_cmdline_proc_show },
	{ .old_name = "rw_verify_area", .new_func = lp_rw_verify_area },
	{ .old_name = "getname_flags", .new_func = lp_getname_flags },
	{}
};

static struct klp_object objs[] = {
	{ .funcs = funcs },
	{}
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init lp_bench3_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit lp_bench3_exit(void)
{
}

module_init(lp_bench3_init);
module_exit(lp_bench3_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck benchmark patch with three vmlinux targets");
MODULE_INFO(livepatch, "Y");
