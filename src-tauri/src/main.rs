//! The Panelkeeper desktop app's entry point.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// Imports and the panel index allocate many small strings from two threads;
/// mimalloc handles that far better than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    panelkeeper_app::run()
}
