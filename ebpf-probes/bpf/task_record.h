/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One record per thread, written by task_stacks.bpf.c with bpf_seq_write()
 * and parsed by src/bpf/record.rs. The layout is shared by both sides: a
 * fixed 56-byte header (struct task_record), then `nr_frames` stack
 * addresses (innermost first) and `nr_candidates` raw-scan addresses, all
 * native-endian.
 */
#ifndef LPCHECK_TASK_RECORD_H
#define LPCHECK_TASK_RECORD_H

/* "LPTS" read as a little-endian u32: marks the start of every record. */
#define TASK_RECORD_MAGIC 0x5354504cU

/* Frames kept from bpf_get_task_stack(). */
#define MAX_FRAMES 64
/* Candidate return addresses kept from the raw stack scan. */
#define MAX_CANDIDATES 32
/* Stack words the raw scan reads at most (2 KiB). */
#define MAX_SCAN_WORDS 256

/* on_cpu when the kernel has no task_struct::on_cpu (!CONFIG_SMP). */
#define ON_CPU_UNKNOWN 0xffffffffU

/* The fixed header; the words follow it in the output. */
struct task_record {
	__u32 magic;
	__u32 pid;
	__u32 tgid;
	/* task_struct::__state (or ::state before 5.14, truncated). */
	__u32 state;
	__u32 exit_state;
	/* task_struct::flags (PF_KTHREAD is 0x00200000). */
	__u32 flags;
	/* Negative errno from bpf_get_task_stack(), or 0. */
	__s32 stack_err;
	/* 1 when running on a CPU, 0 when not, ON_CPU_UNKNOWN. */
	__u32 on_cpu;
	__u32 nr_frames;
	__u32 nr_candidates;
	char comm[16];
};

#define TASK_RECORD_HEADER_SIZE 56

#endif
