// SPDX-License-Identifier: GPL-2.0-only
/*
 * lpcheck task-stack iterator: for every thread the kernel's task iterator
 * visits, write one struct task_record (task_record.h) to the iterator's
 * seq_file: identity, state, flags, the kernel stack from
 * bpf_get_task_stack(), and optionally "candidate" return addresses found by
 * scanning the raw stack words that the unwinder hides (scheduler frames).
 *
 * Built twice. With LPCHECK_STACK_CACHE, the stack words of a task that has
 * not run since the last snapshot are kept in task-local storage with the
 * task's context-switch count and written again without a new unwind or
 * scan: a repeated snapshot costs the stack walks of the tasks that ran in
 * between. Task storage for tracing programs needs Linux 5.12, and the reuse
 * check relies on loads not being reordered (x86's TSO), so the loader falls
 * back to the build without the cache.
 *
 * No vmlinux.h: the few kernel types used are declared here, task_struct's
 * with preserve_access_index, so its field offsets are relocated (CO-RE)
 * against the running kernel's BTF at load time.
 */

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "task_record.h"

/* enum bpf_map_type values and map flags from the kernel UAPI (stable ABI). */
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_TASK_STORAGE 29
#define BPF_F_NO_PREALLOC 1
#define BPF_LOCAL_STORAGE_GET_F_CREATE 1

/*
 * Kernel stack size assumed by the raw scan: THREAD_SIZE on x86_64 without
 * KASAN. A larger real stack only shortens the scan; reads past a vmapped
 * stack fault safely and yield no candidates.
 */
#define ASSUMED_THREAD_SIZE 16384ULL

struct thread_struct {
	unsigned long sp;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int __state;
	/*
	 * Before Linux 5.14 the state field was `long state`. A kernel has one
	 * of the two; the other's relocation fails, and the loader turns its
	 * load into a call the verifier rejects if it is ever reached. Declared
	 * here rather than in a second flavor of task_struct: the loader looks
	 * each relocated type up among all of the kernel's BTF types.
	 */
	long state;
	int on_cpu;
	void *stack;
	unsigned int flags;
	int exit_state;
	int pid;
	int tgid;
	unsigned long nvcsw;
	unsigned long nivcsw;
	char comm[16];
	struct thread_struct thread;
} __attribute__((preserve_access_index));

struct seq_file;

/*
 * The iterator's context, without CO-RE: its layout is the kernel's
 * bpf_iter_task() prototype (meta, then task) and struct bpf_iter_meta's
 * first member (seq), unchanged since Linux 5.8, and the verifier checks
 * context accesses by offset. Each type relocated with CO-RE costs the
 * loader a pass over all of the kernel's BTF types (aya looks candidates up
 * by name), a few milliseconds of every load.
 */
struct bpf_iter_meta {
	struct seq_file *seq;
};

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
};

/*
 * Set by the loader before load. The raw scan runs only when scan_words > 0
 * and [text_start, text_end) is a non-empty kernel text range.
 */
const volatile __u64 text_start = 0;
const volatile __u64 text_end = 0;
const volatile __u32 scan_words = 0;

/* One task's stack words as last read: the frames, then the candidates. */
struct stack_words {
	/*
	 * nvcsw + nivcsw when the words were read. __schedule() bumps one of
	 * them each time it switches the task out, so an off-CPU task with the
	 * same count has not run since, and its stack is the one read then.
	 */
	__u64 switches;
	/* 1 when read from an off-CPU task: only then may they be reused. */
	__u32 reusable;
	__s32 stack_err;
	__u32 nr_frames;
	__u32 nr_candidates;
	__u64 words[MAX_FRAMES + MAX_CANDIDATES];
};

#ifdef LPCHECK_STACK_CACHE
/*
 * Per-task cache of the words. The entry belongs to the task_struct, not to
 * a pid: a new task (a reused pid included) starts without one, fork does not
 * copy it, and the kernel frees it with its task.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stack_words);
} stack_cache SEC(".maps");
#endif

/*
 * Per-CPU scratch: the record header being built, the raw stack words, and
 * the words of a task read without a cache entry.
 */
struct scratch {
	struct task_record rec;
	__u64 scan[MAX_SCAN_WORDS];
	struct stack_words uncached;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline __u32 read_state(struct task_struct *task)
{
	if (bpf_core_field_exists(task->__state))
		return BPF_CORE_READ(task, __state);
	return (__u32)BPF_CORE_READ(task, state);
}

static __always_inline __u32 read_on_cpu(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->on_cpu))
		return ON_CPU_UNKNOWN;
	return task->on_cpu ? 1 : 0;
}

/* What the raw scan's loop body reads and updates (bpf_loop callback context). */
struct scan_ctx {
	__u64 *scan;
	struct stack_words *out;
	__u64 words;
	__u64 innermost;
	__u32 nr_frames;
	__u32 kept;
};

/*
 * One word of the raw scan: keep it when it points into kernel text; stop at
 * the end of the words read, at the innermost reported frame, or when the
 * record is full. Run by bpf_loop(), so the verifier checks this body once
 * instead of once per unrolled iteration (load+verify stays short).
 */
static long scan_word(__u64 i, void *data)
{
	struct scan_ctx *c = data;

	if (i >= c->words || i >= MAX_SCAN_WORDS)
		return 1;
	__u64 word = c->scan[i];
	if (c->nr_frames > 0 && word == c->innermost)
		return 1;
	if (word < text_start || word >= text_end)
		return 0;
	__u32 count = c->kept;
	__u32 slot = c->nr_frames + count;
	if (count >= MAX_CANDIDATES || slot >= MAX_FRAMES + MAX_CANDIDATES)
		return 1;
	c->out->words[slot] = word;
	c->kept = count + 1;
	return 0;
}

/*
 * Copy words that point into kernel text, from the saved stack pointer
 * upwards, until the innermost frame the unwinder reported (everything
 * below it belongs to frames it skipped), after the frames in `out`.
 * Returns how many were kept.
 */
static __always_inline __u32 scan_candidates(struct task_struct *task, struct scratch *s,
					     struct stack_words *out, __u32 on_cpu)
{
	if (scan_words == 0 || text_end <= text_start || on_cpu != 0)
		return 0;
	if (!bpf_core_field_exists(task->thread.sp))
		return 0;

	__u64 sp = BPF_CORE_READ(task, thread.sp);
	__u64 base = (__u64)BPF_CORE_READ(task, stack);
	__u64 top = base + ASSUMED_THREAD_SIZE;
	if (base == 0 || sp < base || sp >= top)
		return 0;

	__u64 words = (top - sp) / 8;
	if (words > scan_words)
		words = scan_words;
	if (words > MAX_SCAN_WORDS)
		words = MAX_SCAN_WORDS;
	if (words == 0)
		return 0;
	if (bpf_probe_read_kernel(s->scan, words * 8, (void *)sp) != 0)
		return 0;

	__u32 nr_frames = out->nr_frames;
	struct scan_ctx c = {
		.scan = s->scan,
		.out = out,
		.words = words,
		.innermost = nr_frames > 0 ? out->words[0] : 0,
		.nr_frames = nr_frames,
		.kept = 0,
	};
	bpf_loop(MAX_SCAN_WORDS, scan_word, &c, 0);
	return c.kept;
}

/* Unwinds (and scans) `task` into `out`. */
static __always_inline void read_words(struct task_struct *task, struct scratch *s,
				       struct stack_words *out, __u32 on_cpu)
{
	long got = bpf_get_task_stack(task, out->words, MAX_FRAMES * sizeof(__u64), 0);
	__u32 nr_frames = 0;
	if (got < 0) {
		out->stack_err = (__s32)got;
	} else {
		out->stack_err = 0;
		nr_frames = (__u32)((__u64)got / sizeof(__u64));
		if (nr_frames > MAX_FRAMES)
			nr_frames = MAX_FRAMES;
	}
	out->nr_frames = nr_frames;
	out->nr_candidates = scan_candidates(task, s, out, on_cpu);
}

/*
 * The words to write for `task`: read now, or with the cache, the ones read
 * at an earlier snapshot when the task has not run since.
 */
static __always_inline struct stack_words *task_words(struct task_struct *task,
						      struct scratch *s, __u32 on_cpu)
{
#ifdef LPCHECK_STACK_CACHE
	/*
	 * The switch count after on_cpu: __schedule() bumps nvcsw or nivcsw
	 * before it switches the task out, and only then is on_cpu cleared
	 * (finish_task(), a release store). An off-CPU task whose count still
	 * matches the cache's has therefore not run since the cached read, so
	 * the cached words are its stack now. A running task (or one whose
	 * on_cpu is unknown) is read again and never reused. The order of the
	 * two loads holds on x86 (TSO); the loader uses this build there only.
	 */
	barrier();
	__u64 switches = task->nvcsw + task->nivcsw;
	struct stack_words *w =
		bpf_task_storage_get(&stack_cache, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (w) {
		/* A new entry is zeroed: not reusable. */
		if (w->reusable && on_cpu == 0 && w->switches == switches)
			return w;
		read_words(task, s, w, on_cpu);
		w->switches = switches;
		w->reusable = on_cpu == 0;
		return w;
	}
	/* No entry (out of memory, or storage busy on this CPU): read without one. */
#endif
	read_words(task, s, &s->uncached, on_cpu);
	return &s->uncached;
}

SEC("iter/task")
int dump_task_stacks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	__u32 zero = 0;

	/* A trusted pointer from here: its fields are read with direct (CO-RE) loads. */
	if (!task)
		return 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	struct task_record *rec = &s->rec;

	rec->magic = TASK_RECORD_MAGIC;
	rec->pid = task->pid;
	rec->tgid = task->tgid;
	rec->state = read_state(task);
	rec->exit_state = task->exit_state;
	rec->flags = task->flags;
	if (bpf_core_read(rec->comm, sizeof(rec->comm), &task->comm) != 0)
		rec->comm[0] = '\0';

	__u32 on_cpu = read_on_cpu(task);
	rec->on_cpu = on_cpu;
	struct stack_words *w = task_words(task, s, on_cpu);

	__u32 nr_frames = w->nr_frames;
	__u32 nr_candidates = w->nr_candidates;
	/* 64-bit, so the bound check and the length use the same register. */
	__u64 nr_words = (__u64)nr_frames + nr_candidates;
	if (nr_words > MAX_FRAMES + MAX_CANDIDATES)
		nr_words = MAX_FRAMES + MAX_CANDIDATES;
	rec->stack_err = w->stack_err;
	rec->nr_frames = nr_frames;
	rec->nr_candidates = nr_candidates;
	/* A record that overflows the seq_file buffer is discarded whole and retried. */
	bpf_seq_write(seq, rec, sizeof(*rec));
	bpf_seq_write(seq, w->words, nr_words * sizeof(__u64));
	return 0;
}

_Static_assert(sizeof(struct task_record) == TASK_RECORD_HEADER_SIZE,
	       "task_record header layout changed");

char LICENSE[] SEC("license") = "GPL";
