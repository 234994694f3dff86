//! The Panelkeeper desktop app's entry point.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// Imports and the panel index allocate many small strings from two threads;
/// mimalloc handles that far better than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    #[cfg(target_os = "linux")]
    without_huge_pages();
    panelkeeper_app::run()
}

/// Turns transparent huge pages off for the app's process. mimalloc asks
/// the kernel for them on its heap, and a desktop app's threads (the
/// window's, the async runtime's, one per database connection) each keep a
/// few small allocations there, each then holding a 2 MiB page: about 45 MB
/// of the app's memory at rest on a million-person panel, for no speed a
/// person would notice. The command line keeps them (a bulk import gains).
#[cfg(target_os = "linux")]
fn without_huge_pages() {
    // SAFETY: prctl(PR_SET_THP_DISABLE) takes plain integers and reads or
    // writes no memory of the caller's. Where the kernel refuses, the app
    // runs as before, with huge pages.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}
