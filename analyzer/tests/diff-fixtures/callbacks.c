/*
 * The patch only adds a pre-patch callback (KPATCH_PRE_PATCH_CALLBACK, as kpatch-macros.h
 * defines it) and the helper it calls: a patch (accept) whose new functions are the callback
 * and its helper; the callback's data object is no data change.
 */
struct klp_object;

struct kpatch_pre_patch_callback {
	int (*fn)(struct klp_object *obj);
	char *objname;
};

#define KPATCH_PRE_PATCH_CALLBACK(_fn)                                                       \
	static inline int __pre_patchtest(struct klp_object *obj) { return _fn(obj); }       \
	static struct kpatch_pre_patch_callback kpatch_pre_patch_data                         \
		__attribute__((section(".kpatch.callbacks.pre_patch"), used)) = {            \
			.fn = _fn,                                                           \
			.objname = 0,                                                        \
		}

int limit = 10;

int handle(int x)
{
	return x > limit ? limit : x;
}

#ifdef PATCHED
static __attribute__((noinline)) int reset_limit(int value)
{
	limit = value;
	return 0;
}

static int pre_patch_reset(struct klp_object *obj)
{
	return reset_limit(obj ? 20 : 10);
}
KPATCH_PRE_PATCH_CALLBACK(pre_patch_reset);
#endif
