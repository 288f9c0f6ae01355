// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-ambiguous-sympos: a good live patch of an ambiguous name, c_start (see
 * lpc_c_start.h), with old_sympos 1: the /proc/cpuinfo copy. Reading
 * /proc/cpuinfo increments /sys/module/lp_ambiguous_sympos/parameters/hits;
 * reading /proc/consoles or /proc/crypto does not.
 */
#define LPC_C_START_SYMPOS 1
#include "lpc_c_start.h"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: ambiguous target name with a valid old_sympos");
