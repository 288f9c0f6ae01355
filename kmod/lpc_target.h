/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lpc_target.h - shared by the lpc-target module and its live patch
 * lp-target-stall: what lpc_target_sleep() returns, telling which code ran.
 */
#ifndef LPC_TARGET_H
#define LPC_TARGET_H

/* lpc_target_sleep() returns this from lpc-target's own code ... */
#define LPC_TARGET_ORIGINAL 1
/* ... and this from lp-target-stall's replacement. */
#define LPC_TARGET_PATCHED 2

#endif /* LPC_TARGET_H */
