// SPDX-License-Identifier: GPL-2.0-only
/*
 * lp-ambiguous: a bad live patch, naming a static function that vmlinux has
 * three of (c_start, see lpc_c_start.h) without saying which (old_sympos 0).
 * The livepatch core refuses the ambiguity and the module fails to load.
 * `lpcheck check` must reject it.
 */
#define LPC_C_START_SYMPOS 0
#include "lpc_c_start.h"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lpcheck fixture: ambiguous target name without old_sympos");
