/* A change inside an __init function: reject (LD001). */
extern int register_thing(int level);

__attribute__((section(".init.text"), cold, no_instrument_function)) int setup_thing(void)
{
#ifdef PATCHED
	return register_thing(2);
#else
	return register_thing(1);
#endif
}

int runtime(int x)
{
	return x + 1;
}
