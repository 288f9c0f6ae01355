/*
 * A tiny stand-in for vmlinux, linked by vmlinux.lds: an ET_EXEC x86_64 image at the kernel's
 * link address with .text, .sched.text and .noinstr.text, .init.text, a linux_banner in
 * .rodata, __fentry__ call sites recorded in __mcount_loc (between __start_mcount_loc and
 * __stop_mcount_loc, in .init.data as in the kernel) and BTF (gcc -gbtf). A seed for the
 * vmlinux fuzz target (scripts/fuzz-seeds.sh), not a kernel.
 */
struct task {
	int pid;
	long state;
	struct task *next;
};

const char linux_banner[] = "Linux version 6.1.0-fuzz-amd64 (fuzz@lpcheck) (gcc) #1 SMP PREEMPT_DYNAMIC\n";
struct task init_task = { 1, 0, 0 };
static long switches;

__attribute__((section(".init.text"), noinline)) int start_kernel(void)
{
	return init_task.pid;
}

__attribute__((noinline)) int schedule(struct task *t)
{
	switches++;
	return t->pid;
}

__attribute__((noinline)) int cmdline_proc_show(void *m, void *v)
{
	return m == v;
}

__attribute__((section(".sched.text"), noinline)) long __schedule(struct task *t)
{
	return t->state;
}

__attribute__((section(".noinstr.text"), noinline, no_instrument_function)) int do_idle(void)
{
	return 0;
}

__attribute__((no_instrument_function)) void __fentry__(void)
{
}
