//! Offline analysis of Linux kernel livepatch modules.
