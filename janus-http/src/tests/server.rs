//! A tiny HTTP/1.1 server for the tests: keep-alive, `Content-Length` bodies, scripted
//! replies, optional TLS, and counters of connections and hanging requests.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use url::Url;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub content_type: Option<String>,
    pub body: String,
}

impl Req {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// What the server does with a request.
pub enum Reply {
    /// A status and a JSON body.
    Json(u16, String),
    /// A status and raw bytes.
    Raw(u16, Vec<u8>),
    /// No reply until the client closes the connection.
    Hang,
    /// Close the connection without a reply (what Janus does to a POST after 10 s).
    Close,
}

pub type BoxFut = Pin<Box<dyn Future<Output = Reply> + Send>>;
type Handler = Arc<dyn Fn(Req) -> BoxFut + Send + Sync>;

#[derive(Default)]
pub struct Counters {
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// Requests answered with `Hang` whose connection is still open.
    pub hanging: AtomicUsize,
}

pub struct TestServer {
    pub addr: SocketAddr,
    /// `http(s)://127.0.0.1:<port>/janus`
    pub base: Url,
    requests: Arc<Mutex<Vec<Req>>>,
    pub counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// A plain HTTP server on 127.0.0.1:0.
    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        Self::start_on("127.0.0.1:0".parse().unwrap(), boxed(handler), None).await
    }

    /// An HTTPS server with the test certificate (`certs/server.pem`, signed by `certs/ca.pem`).
    pub async fn start_tls<F, Fut>(handler: F) -> Self
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        Self::start_on(
            "127.0.0.1:0".parse().unwrap(),
            boxed(handler),
            Some(acceptor()),
        )
        .await
    }

    /// Starts a plain HTTP server again on `addr` (after [`stop`](Self::stop)).
    pub async fn restart_on<F, Fut>(addr: SocketAddr, handler: F) -> Self
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        Self::start_on(addr, boxed(handler), None).await
    }

    async fn start_on(
        addr: SocketAddr,
        handler: Handler,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = Url::parse(&format!("{scheme}://{addr}/janus")).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let counters = Arc::new(Counters::default());
        let (reqs, ctrs) = (requests.clone(), counters.clone());
        let task = tokio::spawn(async move {
            // Dropped with the task: every connection closes when the server stops.
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                ctrs.connections.fetch_add(1, Ordering::SeqCst);
                let (h, r, c) = (handler.clone(), reqs.clone(), ctrs.clone());
                match tls.clone() {
                    None => {
                        conns.spawn(serve(stream, h, r, c));
                    }
                    Some(acceptor) => {
                        conns.spawn(async move {
                            if let Ok(s) = acceptor.accept(stream).await {
                                serve(s, h, r, c).await;
                            }
                        });
                    }
                }
                while conns.try_join_next().is_some() {}
            }
        });
        TestServer {
            addr,
            base,
            requests,
            counters,
            task,
        }
    }

    /// Stops listening and closes every connection.
    pub async fn stop(&self) {
        self.task.abort();
        // Let the runtime drop the task (and with it the listener and the connections).
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    pub fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests with this method had exactly this path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }

    pub fn connections(&self) -> usize {
        self.counters.connections.load(Ordering::SeqCst)
    }

    pub fn hanging(&self) -> usize {
        self.counters.hanging.load(Ordering::SeqCst)
    }
}

fn boxed<F, Fut>(f: F) -> Handler
where
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    Arc::new(move |r| Box::pin(f(r)) as BoxFut)
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_slice(include_bytes!("certs/server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("certs/server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    handler: Handler,
    requests: Arc<Mutex<Vec<Req>>>,
    counters: Arc<Counters>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut s, &mut buf).await else {
            return;
        };
        requests.lock().unwrap().push(req.clone());
        let (status, content_type, body) = match handler(req).await {
            Reply::Json(status, body) => (status, "application/json", body.into_bytes()),
            Reply::Raw(status, body) => (status, "application/octet-stream", body),
            Reply::Close => return,
            Reply::Hang => {
                counters.hanging.fetch_add(1, Ordering::SeqCst);
                let mut b = [0u8; 256];
                while let Ok(n) = s.read(&mut b).await {
                    if n == 0 {
                        break;
                    }
                }
                counters.hanging.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        };
        let head = format!(
            "HTTP/1.1 {status} Whatever\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if s.write_all(head.as_bytes()).await.is_err() || s.write_all(&body).await.is_err() {
            return;
        }
        if s.flush().await.is_err() {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn fill<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    let n = s.read(&mut chunk).await.ok()?;
    if n == 0 {
        return None;
    }
    buf.extend_from_slice(&chunk[..n]);
    Some(())
}

async fn read_request<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<Req> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        fill(s, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let mut len = 0usize;
    let mut content_type = None;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().ok()?,
                "content-type" => content_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let start = head_end + 4;
    while buf.len() < start + len {
        fill(s, buf).await?;
    }
    let body = String::from_utf8_lossy(&buf[start..start + len]).into_owned();
    buf.drain(..start + len);
    Some(Req {
        method,
        target,
        content_type,
        body,
    })
}
