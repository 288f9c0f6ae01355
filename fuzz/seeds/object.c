/*
 * A kernel-style object for the diff_objects fuzz target's seeds: scripts/fuzz-seeds.sh builds
 * it with -ffunction-sections -fdata-sections -pg -mfentry once per -DVERSION, as a source patch
 * would change it (VERSION 1: a changed function; 2: also changed data and a new function).
 */
struct counter {
	long hits;
	long misses;
};

static struct counter stats;
int debug_level = 1 + (VERSION >= 2);
static const char *const names[] = { "hit", "miss" };

#if VERSION >= 2
static __attribute__((noinline)) int clamp(int v)
{
	return v > 10 ? 10 : v;
}
#endif

static __attribute__((noinline)) long account(int hit)
{
	if (hit)
		stats.hits++;
	else
		stats.misses++;
#if VERSION >= 1
	if (stats.misses > 100)
		stats.misses = 0;
#endif
	return stats.hits;
}

const char *lookup(int hit)
{
	account(hit);
#if VERSION >= 2
	return names[clamp(hit) & 1];
#else
	return names[hit & 1];
#endif
}

__attribute__((section(".init.text"))) int setup(void)
{
	debug_level = VERSION >= 2 ? 3 : 2;
	return 0;
}
