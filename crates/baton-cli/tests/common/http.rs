//! A real HTTP receiver on 127.0.0.1 for the exporter tests (webhook, OTLP): a
//! listener thread that reads each request whole, keeps it, and answers as told.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver does with each request, in turn (the last one repeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The status, with the body `ok`.
    Status(u16),
    /// A status with `Retry-After: <seconds>`.
    RetryAfter(u16, u32),
    /// `307 Temporary Redirect` to `http://localhost:<port>/elsewhere`.
    RedirectTo(u16),
    /// Reads the request and never answers (holds the connection open).
    Never,
    /// Reads the headers only, then closes the connection.
    CloseMidBody,
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    /// As received (compressed when `content-encoding: gzip`).
    pub raw: Vec<u8>,
    /// What the receiver answered it.
    pub answer: Answer,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body with its content encoding removed.
    pub(crate) fn body(&self) -> Vec<u8> {
        if self.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&self.raw[..])
                .read_to_end(&mut out)
                .expect("gzip body");
            out
        } else {
            self.raw.clone()
        }
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body()).expect("a JSON body")
    }
}

pub(crate) struct Receiver {
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    /// The per-path scripts of [`Receiver::scripted`].
    scripts: Scripts,
}

/// Answers by path: each path its own script, in turn (the last one repeats);
/// a path without one is answered `200`.
type Scripts = Arc<Mutex<Vec<(String, Vec<Answer>, usize)>>>;

fn next_for(scripts: &Scripts, path: &str) -> Answer {
    let mut scripts = scripts.lock().expect("lock");
    let Some((_, answers, used)) = scripts.iter_mut().find(|(p, _, _)| p == path) else {
        return Answer::Status(200);
    };
    let answer = answers[(*used).min(answers.len() - 1)];
    *used += 1;
    answer
}

impl Receiver {
    pub(crate) fn start(answers: &[Answer]) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").expect("bind"), answers)
    }

    /// On a listener the test bound itself (a port chosen before the receiver).
    pub(crate) fn on(listener: TcpListener, answers: &[Answer]) -> Self {
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let answers = answers.to_vec();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let answer = answers[n.min(answers.len() - 1)];
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve(stream, |_| answer, &seen));
            }
        });
        Self {
            port,
            requests,
            scripts: Scripts::default(),
        }
    }

    /// Answers each path from its own script, whatever the order the requests
    /// to different paths come in (the webhook and OTLP send side by side).
    pub(crate) fn scripted(scripts: &[(&str, &[Answer])]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let scripts: Scripts = Arc::new(Mutex::new(
            scripts
                .iter()
                .map(|(path, answers)| ((*path).to_owned(), answers.to_vec(), 0))
                .collect(),
        ));
        let shared = Arc::clone(&scripts);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, scripts) = (Arc::clone(&seen), Arc::clone(&shared));
                std::thread::spawn(move || serve(stream, |path| next_for(&scripts, path), &seen));
            }
        });
        Self {
            port,
            requests,
            scripts,
        }
    }

    /// From now on answers every request to `paths` with `answer` (a receiver
    /// made by [`Receiver::scripted`]).
    pub(crate) fn answer(&self, paths: &[&str], answer: Answer) {
        let mut scripts = self.scripts.lock().expect("lock");
        scripts.retain(|(p, _, _)| !paths.contains(&p.as_str()));
        scripts.extend(paths.iter().map(|p| ((*p).to_owned(), vec![answer], 0)));
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    /// The requests to one path.
    pub(crate) fn at(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

fn serve(
    mut stream: TcpStream,
    answer_for: impl FnOnce(&str) -> Answer,
    seen: &Mutex<Vec<Request>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_string();
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let answer = answer_for(&path);
    if matches!(answer, Answer::CloseMidBody) {
        return;
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .expect("a content-length");
    while data.len() < header_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    seen.lock().expect("lock").push(Request {
        path,
        headers,
        raw: data[header_end..header_end + length].to_vec(),
        answer,
    });
    let reply = match answer {
        Answer::Status(status) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
            return;
        }
        Answer::RetryAfter(status, secs) => {
            format!("HTTP/1.1 {status} Whatever\r\nRetry-After: {secs}\r\n")
        }
        Answer::RedirectTo(port) => format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{port}/elsewhere\r\n"
        ),
        Answer::Never => {
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
        Answer::CloseMidBody => return,
    };
    let _ = write!(
        stream,
        "{reply}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

/// A port nothing listens on.
pub(crate) fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
