/* A global function made static: reject (LD004). */
#ifdef PATCHED
static
#endif
int __attribute__((noinline, used)) compute(int x)
{
	return x * 7;
}

int entry(int x)
{
	return compute(x) + 2;
}
