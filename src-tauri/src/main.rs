//! The Panelkeeper desktop app's entry point.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    panelkeeper_app::run()
}
