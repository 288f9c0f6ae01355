/* A change to a function in .sched.text: reject (LD002). */
__attribute__((section(".sched.text"), noinline)) int wait_for_it(int x)
{
#ifdef PATCHED
	return x + 2;
#else
	return x + 1;
#endif
}
