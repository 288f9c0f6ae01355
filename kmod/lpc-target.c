// SPDX-License-Identifier: GPL-2.0-only
/*
 * lpc-target: not a live patch, but the target of one (lp-target-stall).
 *
 * A kthread, "lpc_target", calls lpc_target_sleep() in a loop; each call
 * sleeps for sleep_ms milliseconds (default 10 minutes) inside that function,
 * so the function is on the kthread's stack nearly all the time and a patch
 * of it cannot complete its transition: the stall case. The sleep is
 * TASK_IDLE, which the livepatch core's fake signal (a wake-up of
 * TASK_INTERRUPTIBLE kthreads) does not end.
 *
 * Reading /proc/lpc_target calls lpc_target_sleep(0), which returns at once,
 * and prints "original" or "patched" after the code that ran.
 */
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include "lpc_target.h"

static unsigned int sleep_ms = 10 * 60 * 1000;
module_param(sleep_ms, uint, 0444);
MODULE_PARM_DESC(sleep_ms, "How long the kthread sleeps inside lpc_target_sleep() per call");

static struct task_struct *lpc_target_thread;

int lpc_target_sleep(unsigned int ms);

/*
 * The function to patch. Global and noinline so that it keeps its own symbol
 * and every caller really calls it; noipa too where the compiler has it, or
 * gcc 14 and later propagate its constant return value into lpc_target_show(),
 * which then prints "original" whatever code the call ran. With ms == 0 it does
 * not sleep (and does not touch kthread state, so any task may call it).
 */
#if __has_attribute(__noipa__)
#define LPC_NOIPA __attribute__((__noipa__))
#else
#define LPC_NOIPA
#endif
noinline LPC_NOIPA int lpc_target_sleep(unsigned int ms)
{
	if (ms) {
		set_current_state(TASK_IDLE);
		/* Checked after setting the state: kthread_stop()'s wake-up is not lost. */
		if (!kthread_should_stop())
			schedule_timeout(msecs_to_jiffies(ms));
		__set_current_state(TASK_RUNNING);
	}
	return LPC_TARGET_ORIGINAL;
}

static int lpc_target_thread_fn(void *unused)
{
	while (!kthread_should_stop())
		lpc_target_sleep(sleep_ms);
	return 0;
}

static int lpc_target_show(struct seq_file *m, void *v)
{
	int ran = lpc_target_sleep(0);

	seq_printf(m, "%s\n", ran == LPC_TARGET_PATCHED ? "patched" : "original");
	return 0;
}

static int __init lpc_target_init(void)
{
	if (!proc_create_single("lpc_target", 0444, NULL, lpc_target_show))
		return -ENOMEM;
	lpc_target_thread = kthread_run(lpc_target_thread_fn, NULL, "lpc_target");
	if (IS_ERR(lpc_target_thread)) {
		remove_proc_entry("lpc_target", NULL);
		return PTR_ERR(lpc_target_thread);
	}
	return 0;
}

static void __exit lpc_target_exit(void)
{
	kthread_stop(lpc_target_thread);
	remove_proc_entry("lpc_target", NULL);
}

module_init(lpc_target_init);
module_exit(lpc_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: a kthread sleeping inside lpc_target_sleep()");
