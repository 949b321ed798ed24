//! The global allocator: mimalloc, told to keep the pages of freed memory.
//!
//! A training step allocates and frees tensors of a few megabytes hundreds of
//! times. glibc's malloc hands each large buffer back to the kernel when it is
//! freed and faults fresh zeroed pages in for the next one; on all-MiniLM-L6-v2
//! that was 730,000 page faults in four LoRA steps and a fifth of their CPU
//! time. mimalloc reuses freed pages, and with purging off it never returns
//! them to the kernel while the process runs: about 1,400 page faults in a
//! whole `bipeft bench` search run, for about 15% more peak memory (a LoRA
//! step's 592 → 686 MB, a search step's 1,128 → 1,303 MB; README, Speed).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: its place in `mi_option_e` of the mimalloc (v3)
/// that `libmimalloc-sys` 0.1.49 builds, which names no constant for it.
/// Milliseconds before freed memory is purged; −1 never purges.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed pages in the process for the next allocation.
pub fn keep_freed_pages() {
    // SAFETY: setting an option is allowed at any time; it only changes when
    // mimalloc purges.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_the_purge_delay() {
        // Its documented default (1000 ms in mimalloc v3's options.c) tells
        // it from its neighbours in the enum (14: deprecated, 16: NUMA nodes).
        // SAFETY: reading an option.
        let default = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert!(
            default == 1000 || default == -1,
            "option {PURGE_DELAY} is {default}"
        );
        keep_freed_pages();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, -1);
    }
}
