/* A changed function that calls a new helper: accept. */
static int __attribute__((noinline)) scale(int x)
{
	return x * 3;
}

#ifdef PATCHED
static int __attribute__((noinline)) clamp(int x)
{
	return x > 100 ? 100 : x;
}
#endif

int handle(int x)
{
#ifdef PATCHED
	x = clamp(x);
#endif
	return scale(x) + 1;
}

int untouched(int y)
{
	return y - 1;
}
