//! A bare Tauri window: the same Tauri, window size and WebKit as the app,
//! showing one line of text served through a custom protocol the way the
//! app serves its own pages, and nothing else. The desktop benchmark
//! (`e2e/benches/window.rs`) starts it beside the app to compare start-up
//! time and memory with what Tauri and WebKit cost on their own.

fn main() {
    let mut context = tauri::generate_context!();
    context.config_mut().app.windows.clear();
    let app = tauri::Builder::default()
        .register_uri_scheme_protocol("bare", |_, _| {
            tauri::http::Response::builder()
                .header("Content-Type", "text/html; charset=utf-8")
                .body(
                    b"<!doctype html><html><head><title>bare</title></head>\
                      <body><p id=\"bare\">A bare window</p></body></html>"
                        .to_vec(),
                )
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
