//! `janus-cli ping`: round-trip times of `ping` requests.

use serde_json::json;
use std::time::{Duration, Instant};

use crate::args::{ConnectionArgs, PingArgs};
use crate::connection::{api_config, connect};
use crate::failure::{Exit, Failure};

/// Runs `ping`.
pub async fn run(args: &ConnectionArgs, ping: &PingArgs, json: bool) -> Result<Exit, Failure> {
    let config = api_config(args)?;
    let url = config.url.clone();
    let start = Instant::now();
    let client = connect(config).await?;
    let connect_time = start.elapsed();
    let mut rtts: Vec<Duration> = Vec::new();
    let mut failure = None;
    for i in 0..ping.count {
        if i > 0 {
            tokio::time::sleep(ping.interval).await;
        }
        let t0 = Instant::now();
        match client.ping().await {
            Ok(()) => {
                let rtt = t0.elapsed();
                if !json {
                    crate::outln!("pong from {url}: {:.2} ms", ms(rtt));
                }
                rtts.push(rtt);
            }
            Err(e) => {
                failure = Some(Failure::from_error("ping", &e));
                break;
            }
        }
    }
    client.close().await;
    let min = rtts.iter().min().copied().unwrap_or_default();
    let max = rtts.iter().max().copied().unwrap_or_default();
    let avg = if rtts.is_empty() {
        Duration::ZERO
    } else {
        rtts.iter().sum::<Duration>() / rtts.len() as u32
    };
    if json {
        crate::outln!(
            "{}",
            json!({
                "url": url,
                "connect_ms": ms(connect_time),
                "sent": rtts.len() as u64 + u64::from(failure.is_some()),
                "received": rtts.len(),
                "rtt_ms": rtts.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                "min_ms": ms(min),
                "avg_ms": ms(avg),
                "max_ms": ms(max),
            })
        );
    } else if rtts.len() > 1 {
        crate::outln!(
            "{} pings: min {:.2} ms, avg {:.2} ms, max {:.2} ms (connected in {:.1} ms)",
            rtts.len(),
            ms(min),
            ms(avg),
            ms(max),
            ms(connect_time)
        );
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(Exit::Ok),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
