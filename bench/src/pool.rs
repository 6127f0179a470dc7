//! What placement costs: `create_session` through a pool against through a plain `Client`,
//! on the same Janus over WebSocket (a pool of that one instance: the choice, the
//! reservation and the bookkeeping, with nothing else differing).

use janus_client::pool::{instance, Pool, PoolOptions};
use janus_client::{connect, Config};
use std::time::{Duration, Instant};

/// Mean time of one `create_session` (the session kept until the end of its run).
pub struct PoolCost {
    pub creates: usize,
    pub plain: Duration,
    pub pooled: Duration,
    pub sticky: Duration,
}

/// `creates` sequential creates each way, alternating in rounds of 100 so both see the
/// same Janus (its session table grows alike).
pub async fn measure(url: &str, creates: usize) -> Result<PoolCost, String> {
    let client = connect(Config::new(url))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let pool = Pool::connect(
        vec![instance(url, Config::new(url))],
        PoolOptions::default(),
        None,
    )
    .await
    .map_err(|e| format!("pool: {e}"))?;
    let (mut plain, mut pooled, mut sticky) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut keep_plain, mut keep_pooled) = (Vec::new(), Vec::new());
    let mut done = 0;
    while done < creates {
        let n = (creates - done).min(100);
        let t = Instant::now();
        for _ in 0..n {
            keep_plain.push(client.create_session().await.map_err(|e| e.to_string())?);
        }
        plain += t.elapsed();
        let t = Instant::now();
        for _ in 0..n {
            keep_pooled.push(pool.create_session().await.map_err(|e| e.to_string())?);
        }
        pooled += t.elapsed();
        let t = Instant::now();
        for i in 0..n {
            let key = format!("bench-{}", done + i);
            keep_pooled.push(
                pool.create_session_for(key)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        sticky += t.elapsed();
        done += n;
    }
    let per = |d: Duration| d / creates.max(1) as u32;
    Ok(PoolCost {
        creates,
        plain: per(plain),
        pooled: per(pooled),
        sticky: per(sticky),
    })
}
