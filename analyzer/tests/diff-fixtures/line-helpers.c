/*
 * Only __LINE__ moves at calls to subsystem error helpers that take it as an argument
 * (btrfs's transaction abort, fs error and panic helpers): no change.
 */
struct btrfs_trans_handle;
struct btrfs_fs_info;

extern void __btrfs_abort_transaction(struct btrfs_trans_handle *trans, const char *function,
				      unsigned int line, int error, int first_hit);
extern void __btrfs_handle_fs_error(struct btrfs_fs_info *fs_info, const char *function,
				    unsigned int line, int error, const char *fmt, ...);
extern void __btrfs_panic(const struct btrfs_fs_info *fs_info, const char *function,
			  unsigned int line, int error, const char *fmt, ...);

#define btrfs_abort_transaction(trans, error) \
	__btrfs_abort_transaction((trans), __func__, __LINE__, (error), 1)
#define btrfs_handle_fs_error(fs_info, error, fmt) \
	__btrfs_handle_fs_error((fs_info), __func__, __LINE__, (error), (fmt))
#define btrfs_panic(fs_info, error, fmt) \
	__btrfs_panic((fs_info), __func__, __LINE__, (error), (fmt))

#ifdef PATCHED
/* Lines added above the call sites move every __LINE__ below them. */
#line 400
#endif
int commit(struct btrfs_trans_handle *trans, struct btrfs_fs_info *fs_info, int ret)
{
	if (ret == -5)
		btrfs_abort_transaction(trans, ret);
	else if (ret == -30)
		btrfs_handle_fs_error(fs_info, ret, "read-only");
	else if (ret < -1000)
		btrfs_panic(fs_info, ret, "corrupt");
	return ret;
}
