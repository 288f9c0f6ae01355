//! The `lpcheck tui` view: renders snapshots of livepatch state; performs no syscalls.
