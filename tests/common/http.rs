//! A small HTTP/1.1 client for the team server's tests: one request per
//! connection, the answer read whole; or, as a browser does, one connection
//! kept open for many requests ([`Connection`]). The tests talk to a real server on a
//! real socket; this client only keeps them free of a second HTTP stack.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// The error's kind, for an answer that is one.
    pub fn kind(&self) -> String {
        self.json()["kind"].as_str().unwrap_or_default().to_string()
    }
}

/// Sends one request and reads the answer.
pub async fn request(
    to: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(to).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or(""));
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse(&raw)
}

/// A connection kept open between requests, as a browser keeps one.
pub struct Connection {
    to: SocketAddr,
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
}

impl Connection {
    pub async fn open(to: SocketAddr) -> Connection {
        let stream = tokio::net::TcpStream::connect(to).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Connection {
            to,
            stream: tokio::io::BufReader::new(stream),
        }
    }

    /// Sends one request and reads its answer, leaving the connection open.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        use tokio::io::AsyncBufReadExt;
        let to = self.to;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {to}\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or("");
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        self.stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let mut length = None;
        let mut chunked = false;
        loop {
            let start = raw.len();
            self.stream.read_until(b'\n', &mut raw).await.unwrap();
            let line = String::from_utf8_lossy(&raw[start..]).to_ascii_lowercase();
            if line == "\r\n" {
                break;
            }
            if let Some(n) = line.strip_prefix("content-length:") {
                length = n.trim().parse::<usize>().ok();
            }
            chunked |= line.starts_with("transfer-encoding:") && line.contains("chunked");
        }
        if chunked {
            loop {
                let start = raw.len();
                self.stream.read_until(b'\n', &mut raw).await.unwrap();
                let size = String::from_utf8_lossy(&raw[start..]);
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await.unwrap();
                raw.extend_from_slice(&chunk);
                if size == 0 {
                    break;
                }
            }
        } else {
            let mut rest = vec![0; length.unwrap_or(0)];
            self.stream.read_exact(&mut rest).await.unwrap();
            raw.extend_from_slice(&rest);
        }
        parse(&raw)
    }
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
