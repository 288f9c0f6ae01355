/* Only __LINE__ moves in a WARN and a printk call site: no change. */
extern void warn_slowpath_fmt(const char *file, int line, unsigned taint, const char *fmt, ...);
extern int _printk(const char *fmt, ...);

#ifdef PATCHED
/* Lines added above the call sites move every __LINE__ below them. */
#line 400
#endif
int check(int x)
{
	if (x < 0)
		warn_slowpath_fmt("fixture.c", __LINE__, 9, "negative %d\n", x);
	if (x > 1000)
		_printk("%s:%d: large\n", __func__, __LINE__);
	return x;
}
