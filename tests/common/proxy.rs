//! A small fault-injecting TCP proxy for tests: it forwards loopback connections to a real
//! Janus and can cut every connection, refuse new ones, or stall (accept and forward nothing).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use url::Url;

/// A running proxy; dropping it stops it and cuts its connections.
pub struct Proxy {
    /// The URL to give the client (the target's URL with the proxy's port).
    pub url: String,
    cut: watch::Sender<u64>,
    refuse: Arc<AtomicBool>,
    stall: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    gauge: Arc<Gauge>,
    swallowed: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

/// Connections open through the proxy now, and the most at any moment.
#[derive(Default)]
struct Gauge {
    open: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut.send_modify(|g| *g += 1);
    }
}

impl Proxy {
    /// Starts a proxy in front of `target` (a ws:// or http:// URL on loopback, or a
    /// unix:// socket: then the proxy listens on a SOCK_SEQPACKET socket of its own and
    /// forwards packet by packet).
    pub async fn start(target: &str) -> Proxy {
        let mut url = Url::parse(target).expect("target URL");
        if url.scheme() == "unix" {
            return Self::start_unix(url);
        }
        let host = url.host_str().expect("host").to_string();
        let port = url.port_or_known_default().expect("port");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let local = listener.local_addr().expect("addr");
        // The proxy listens on loopback whatever the target's host (tests/media_real.rs's
        // Janus is on a veth address).
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(local.port())).expect("port");
        let (cut, cut_rx) = watch::channel(0u64);
        let refuse = Arc::new(AtomicBool::new(false));
        let stall = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let gauge = Arc::new(Gauge::default());
        let swallowed = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let swallowed = swallowed.clone();
            let refuse = refuse.clone();
            let stall = stall.clone();
            let accepted = accepted.clone();
            let gauge = gauge.clone();
            async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if refuse.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let target = format!("{host}:{port}");
                    let mut cut_rx = cut_rx.clone();
                    let stall = stall.clone();
                    let gauge = gauge.clone();
                    let swallowed = swallowed.clone();
                    gauge.opened();
                    tokio::spawn(async move {
                        let generation = *cut_rx.borrow_and_update();
                        let Ok(outbound) = TcpStream::connect(&target).await else {
                            gauge.closed();
                            return;
                        };
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let (mut ri, mut wi) = inbound.into_split();
                        let (mut ro, mut wo) = outbound.into_split();
                        let stall2 = stall.clone();
                        let swallowed2 = swallowed.clone();
                        let up = async move {
                            let mut buf = vec![0u8; 16384];
                            loop {
                                let n = match ri.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => n,
                                };
                                if stall.load(Ordering::SeqCst) {
                                    // Swallowed: a peer that never answers.
                                    swallowed.fetch_add(n as u64, Ordering::SeqCst);
                                    continue;
                                }
                                if wo.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        };
                        let down = async move {
                            let mut buf = vec![0u8; 16384];
                            loop {
                                let n = match ro.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => n,
                                };
                                if stall2.load(Ordering::SeqCst) {
                                    swallowed2.fetch_add(n as u64, Ordering::SeqCst);
                                    continue;
                                }
                                if wi.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        };
                        tokio::select! {
                            _ = up => {}
                            _ = down => {}
                            _ = cut_rx.wait_for(|g| *g != generation) => {}
                        }
                        gauge.closed();
                        // Dropping both halves closes both connections (a reset-like cut).
                    });
                }
            }
        });
        Proxy {
            url: url.to_string().trim_end_matches('/').to_string(),
            cut,
            refuse,
            stall,
            accepted,
            gauge,
            swallowed,
            task,
        }
    }

    /// The SEQPACKET proxy: listens next to the target socket, forwards whole packets.
    fn start_unix(url: Url) -> Proxy {
        use std::sync::atomic::AtomicUsize;
        use tokio_seqpacket::{UnixSeqpacket, UnixSeqpacketListener};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let target = url.to_file_path().expect("socket path");
        let dir = target.parent().expect("socket dir");
        let path = dir.join(format!(
            "proxy-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_file(&path);
        let mut listener = UnixSeqpacketListener::bind(&path).expect("bind the proxy socket");
        let (cut, cut_rx) = watch::channel(0u64);
        let refuse = Arc::new(AtomicBool::new(false));
        let stall = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let gauge = Arc::new(Gauge::default());
        let swallowed = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let swallowed = swallowed.clone();
            let refuse = refuse.clone();
            let stall = stall.clone();
            let accepted = accepted.clone();
            let gauge = gauge.clone();
            let path = path.clone();
            async move {
                // The socket file goes when the proxy does (the task is aborted on drop).
                struct Unlink(std::path::PathBuf);
                impl Drop for Unlink {
                    fn drop(&mut self) {
                        let _ = std::fs::remove_file(&self.0);
                    }
                }
                let _unlink = Unlink(path);
                loop {
                    let Ok(inbound) = listener.accept().await else {
                        return;
                    };
                    if refuse.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let target = target.clone();
                    let mut cut_rx = cut_rx.clone();
                    let stall = stall.clone();
                    let gauge = gauge.clone();
                    let swallowed = swallowed.clone();
                    gauge.opened();
                    tokio::spawn(async move {
                        let generation = *cut_rx.borrow_and_update();
                        let Ok(outbound) = UnixSeqpacket::connect(&target).await else {
                            gauge.closed();
                            return;
                        };
                        let up = forward(&inbound, &outbound, stall.clone(), swallowed.clone());
                        let down = forward(&outbound, &inbound, stall, swallowed);
                        tokio::select! {
                            _ = up => {}
                            _ = down => {}
                            _ = cut_rx.wait_for(|g| *g != generation) => {}
                        }
                        gauge.closed();
                    });
                }
            }
        });
        Proxy {
            url: format!("unix://{}", path.display()),
            cut,
            refuse,
            stall,
            accepted,
            gauge,
            swallowed,
            task,
        }
    }

    /// Bytes swallowed while stalling, both ways.
    pub fn swallowed(&self) -> u64 {
        self.swallowed.load(Ordering::SeqCst)
    }

    /// The most connections open through the proxy at one moment so far.
    pub fn peak_connections(&self) -> u64 {
        self.gauge.peak.load(Ordering::SeqCst)
    }

    /// `t` reached through this proxy.
    pub fn target(&self, t: &super::Target) -> super::Target {
        super::Target {
            transport: t.transport,
            url: self.url.clone(),
        }
    }

    /// Closes every connection through the proxy now.
    pub fn cut(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// Refuses (closes at once) new connections while true.
    pub fn refuse(&self, on: bool) {
        self.refuse.store(on, Ordering::SeqCst);
    }

    /// Swallows all traffic both ways while true (connections stay open).
    pub fn stall(&self, on: bool) {
        self.stall.store(on, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies packets from `from` to `to` until either end closes; swallows them while stalled.
async fn forward(
    from: &tokio_seqpacket::UnixSeqpacket,
    to: &tokio_seqpacket::UnixSeqpacket,
    stall: Arc<AtomicBool>,
    swallowed: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match from.recv(&mut buf).await {
            Ok(info) if info.bytes_read() > 0 => info.bytes_read(),
            _ => return,
        };
        if stall.load(Ordering::SeqCst) {
            swallowed.fetch_add(n as u64, Ordering::SeqCst);
            continue;
        }
        if to.send(&buf[..n]).await.is_err() {
            return;
        }
    }
}
