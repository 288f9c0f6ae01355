//! Live kernel stack snapshots for lpcheck: a BPF task iterator and its `/proc` fallback.
