/* A changed function without an ftrace entry (notrace): reject (LD005). */
__attribute__((no_instrument_function)) int fast_path(int x)
{
#ifdef PATCHED
	return x << 2;
#else
	return x << 1;
#endif
}
