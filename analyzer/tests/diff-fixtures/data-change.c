/* New contents and a new size for existing data: reject (LD003). */
int threshold =
#ifdef PATCHED
	20;
#else
	10;
#endif

#ifdef PATCHED
static char history[32];
#else
static char history[16];
#endif

int over(int x)
{
	history[x & 15]++;
	return x > threshold + history[0];
}
