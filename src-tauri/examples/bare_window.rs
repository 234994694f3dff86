//! A bare Tauri window: the same Tauri, window size and WebKit as the app,
//! showing one line of text served through a custom protocol the way the
//! app serves its own pages, and nothing else. The desktop benchmark
//! (`e2e/benches/window.rs`) starts it beside the app to compare start-up
//! time and memory with what Tauri and WebKit cost on their own.
//!
//! `bare_window --page FILE` shows FILE's HTML instead: the benchmark gives
//! it the app's first screen of data as a plain table, to weigh what the
//! data on screen costs a window that does nothing else.

const ONE_LINE: &[u8] = b"<!doctype html><html><head><title>bare</title></head>\
    <body><p id=\"bare\">A bare window</p></body></html>";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let page = match args.iter().position(|a| a == "--page") {
        Some(i) => std::fs::read(args.get(i + 1).expect("--page names a file"))
            .expect("the page given with --page is readable"),
        None => ONE_LINE.to_vec(),
    };
    let mut context = tauri::generate_context!();
    context.config_mut().app.windows.clear();
    let app = tauri::Builder::default()
        .register_uri_scheme_protocol("bare", move |_, _| {
            tauri::http::Response::builder()
                .header("Content-Type", "text/html; charset=utf-8")
                .body(page.clone())
                .expect("a static response")
        })
        .setup(|app| {
            let url = tauri::WebviewUrl::CustomProtocol(
                "bare://localhost/".parse().expect("a fixed URL"),
            );
            tauri::WebviewWindowBuilder::new(app, "main", url)
                .title("bare")
                .inner_size(1280.0, 800.0)
                .build()?;
            Ok(())
        })
        .build(context)
        .expect("the bare window starts");
    app.run(|_, _| {});
}
