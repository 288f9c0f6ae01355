/*
 * The "patched" build is a different program under the same file name: almost nothing pairs,
 * so the objects are refused (exit 2), not compared.
 */
#ifdef PATCHED
int parse_header(const char *p) { return p[0] == '#'; }
int parse_body(const char *p) { return p[1] != 0; }
int checksum(const unsigned char *p, int n) { int s = 0; while (n--) s += *p++; return s; }
int is_space(int c) { return c == ' ' || c == '\t'; }
int last_table[8];
#else
long tick_count(long t) { return t + 1; }
long tick_rate(long t) { return t * 100; }
long scale(long v, long s) { return v * s / 1000; }
long clamp_low(long v) { return v < 0 ? 0 : v; }
long history[8];
#endif
