/*
 * A new function with its own `static int count` placed first, so the compiler renumbers the
 * existing function's `count`: the statics must pair through their users, leaving `bump`
 * unchanged and `skip` new (accept, no data change).
 */
#ifdef PATCHED
int skip(void)
{
	static int count;

	count += 2;
	return count;
}
#endif

int bump(void)
{
	static int count;

	return ++count;
}
