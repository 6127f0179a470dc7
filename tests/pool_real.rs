//! The pool against three real Janus instances (`JANUS_POOL1..3`, started by
//! `scripts/test`) and a real Redis (`REDIS_URL`, `scripts/redis`).
//!
//! The tests share those instances (they drain, kill and restart them), so they run one at a
//! time (a lock), and each starts by bringing every instance back up and accepting.

mod common;

use common::eventually;
use futures::future::join_all;
use janus_client::pool::{
    instance, Failover, InstanceState, Pool, PoolError, PoolEvent, PoolOptions, PooledSession,
    RedisOptions, RedisStore, StoreHealth, Strategy,
};
use janus_client::{connect_admin, ClientOptions, Config, ReconnectPolicy};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::Instant;

/// One test at a time: they share the three instances.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{var} is not set: the pool tests need scripts/test's instances and Redis"),
    }
}

/// The three instances: (script name, URL over `transport`).
fn instances(transport: &str) -> Vec<(String, String)> {
    (1..=3)
        .map(|i| {
            let t = transport.to_uppercase();
            (
                env(&format!("JANUS_POOL{i}_NAME")),
                env(&format!("JANUS_POOL{i}_{t}_URL")),
            )
        })
        .collect()
}

fn client_options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(3),
        reconnect: ReconnectPolicy {
            max_delay: Duration::from_millis(500),
            ..ReconnectPolicy::default()
        },
        ..ClientOptions::default()
    }
}

fn options(failover: Failover) -> PoolOptions {
    PoolOptions {
        probe_interval: Duration::from_millis(500),
        probe_timeout: Duration::from_secs(1),
        down_after: Duration::from_secs(1),
        failover,
        ..PoolOptions::default()
    }
}

async fn pool_with(
    transport: &str,
    options: PoolOptions,
    store: Option<Arc<dyn janus_client::pool::PlacementStore>>,
) -> Pool {
    let specs = instances(transport)
        .into_iter()
        .map(|(name, url)| instance(name, Config::new(url).with_options(client_options())))
        .collect();
    let pool = Pool::connect(specs, options, store).await.expect("pool");
    let mut status = pool.status();
    let up = until(Duration::from_secs(10), &mut status, |s| {
        s.instances.iter().all(|i| i.state == InstanceState::Up)
    })
    .await;
    assert!(up, "every instance up: {:?}", *status.borrow());
    pool
}

fn script(script: &str, cmd: &str, name: &str) {
    let status = std::process::Command::new(script)
        .args([cmd, name])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(status.success(), "{script} {cmd} {name} failed");
}

async fn admin(i: usize) -> janus_client::admin::AdminClient {
    let url = env(&format!("JANUS_POOL{i}_ADMIN_WS_URL"));
    let secret = env(&format!("JANUS_POOL{i}_ADMIN_SECRET"));
    connect_admin(Config::new(url), secret.into())
        .await
        .expect("admin")
}

/// Every instance running and accepting sessions (an earlier test may have failed halfway).
async fn fresh() -> tokio::sync::MutexGuard<'static, ()> {
    let guard = LOCK.lock().await;
    for i in 1..=3 {
        let url = env(&format!("JANUS_POOL{i}_ADMIN_WS_URL"));
        let secret = env(&format!("JANUS_POOL{i}_ADMIN_SECRET"));
        let reachable = tokio::time::timeout(
            Duration::from_secs(3),
            connect_admin(Config::new(url), secret.into()),
        )
        .await;
        if !matches!(reachable, Ok(Ok(_))) {
            script(
                "scripts/janus",
                "restart",
                &env(&format!("JANUS_POOL{i}_NAME")),
            );
        }
        admin(i).await.accept_new_sessions(true).await.unwrap();
    }
    guard
}

/// Waits until the status satisfies `pred`; false after `limit`.
async fn until(
    limit: Duration,
    st: &mut tokio::sync::watch::Receiver<janus_client::pool::PoolStatus>,
    pred: impl FnMut(&janus_client::pool::PoolStatus) -> bool,
) -> bool {
    matches!(
        tokio::time::timeout(limit, st.wait_for(pred)).await,
        Ok(Ok(_))
    )
}

fn count_by_instance(sessions: &[PooledSession]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in sessions {
        *m.entry(s.instance_name()).or_default() += 1;
    }
    m
}

async fn placement_over(transport: &str) {
    let pool = pool_with(transport, options(Failover::Report), None).await;
    let sessions: Vec<PooledSession> = join_all((0..300).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("300 sessions");
    let counts = count_by_instance(&sessions);
    println!("{transport}: 300 sessions placed {counts:?}");
    assert_eq!(counts.len(), 3, "{counts:?}");
    for (name, n) in &counts {
        assert!((90..=110).contains(n), "{name} got {n}: {counts:?}");
    }
    // The pool's count agrees, and each session lives on the instance it names (ids are
    // unique only per instance: the Admin API of that instance lists it).
    let status = pool.status().borrow().clone();
    for i in &status.instances {
        assert_eq!(Some(&i.sessions), counts.get(&i.name), "{status:?}");
    }
    for i in 1..=3 {
        let listed: HashSet<u64> = admin(i)
            .await
            .list_sessions()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.0)
            .collect();
        let name = env(&format!("JANUS_POOL{i}_NAME"));
        for s in sessions.iter().filter(|s| s.instance_name() == name) {
            assert!(
                listed.contains(&s.session().id().0),
                "{name} lists its session"
            );
        }
    }
    // Bounded: dropping them empties the pool's books.
    drop(sessions);
    let mut st = pool.status();
    let empty = until(Duration::from_secs(5), &mut st, |s| {
        s.instances.iter().all(|i| i.sessions == 0)
    })
    .await;
    assert!(empty, "sessions forgotten: {:?}", *st.borrow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_spreads_300_sessions_evenly_ws() {
    let _g = fresh().await;
    placement_over("ws").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_spreads_300_sessions_evenly_http() {
    let _g = fresh().await;
    placement_over("http").await;
}

/// Weights from a pool config file's text (`pool::connect`, as an application starts it):
/// 2, 1 and 1 share 200 sessions as 100, 50 and 50 (±10%).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_from_a_config_file_share_the_sessions() {
    let _g = fresh().await;
    let mut text = String::from("[pool]\nfailover = \"report\"\n");
    for (i, (name, url)) in instances("ws").into_iter().enumerate() {
        let weight = if i == 0 { 2 } else { 1 };
        text += &format!("[[instances]]\nurl = \"{url}\"\nname = \"{name}\"\nweight = {weight}\n");
    }
    let config = janus_client::pool::PoolConfig::from_toml_str(&text).expect("pool config");
    let pool = janus_client::pool::connect(config).await.expect("pool");
    let mut st = pool.status();
    let up = until(Duration::from_secs(10), &mut st, |s| {
        s.instances.iter().all(|i| i.state == InstanceState::Up)
    })
    .await;
    assert!(up, "every instance up: {:?}", *st.borrow());
    let sessions: Vec<PooledSession> = join_all((0..200).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("200 sessions");
    let counts = count_by_instance(&sessions);
    println!("weights 2/1/1: 200 sessions placed {counts:?}");
    let heavy = env("JANUS_POOL1_NAME");
    for (name, n) in &counts {
        let expected = if *name == heavy { 90..=110 } else { 45..=55 };
        assert!(expected.contains(n), "{name} got {n}: {counts:?}");
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_takes_each_instance_in_turn() {
    let _g = fresh().await;
    let o = PoolOptions {
        strategy: Strategy::RoundRobin,
        ..options(Failover::Report)
    };
    let pool = pool_with("ws", o, None).await;
    let mut sessions = Vec::new();
    for _ in 0..30 {
        sessions.push(pool.create_session().await.unwrap());
    }
    let names: Vec<String> = sessions.iter().map(|s| s.instance_name()).collect();
    for w in names.windows(3) {
        let distinct: HashSet<_> = w.iter().collect();
        assert_eq!(
            distinct.len(),
            3,
            "three in a row on three instances: {names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_instance_takes_no_more_than_its_cap() {
    let _g = fresh().await;
    let specs = instances("ws")
        .into_iter()
        .enumerate()
        .map(|(i, (name, url))| {
            let spec = instance(name, Config::new(url).with_options(client_options()));
            if i == 0 {
                spec.max_sessions(5)
            } else {
                spec
            }
        })
        .collect();
    let pool = Pool::connect(specs, options(Failover::Report), None)
        .await
        .unwrap();
    let capped = instances("ws")[0].0.clone();
    let sessions: Vec<_> = join_all((0..60).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let counts = count_by_instance(&sessions);
    assert_eq!(counts.get(&capped), Some(&5), "{counts:?}");
    let st = pool.status().borrow().clone();
    assert_eq!(st.instance(&capped).map(|i| i.sessions), Some(5), "{st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_keys_always_land_together() {
    let _g = fresh().await;
    let pool = pool_with("ws", options(Failover::Report), None).await;
    // 20 keys, 5 sessions each, all at once in a mixed order.
    let mut keys: Vec<String> = (0..100).map(|i| format!("room-{}", i % 20)).collect();
    keys.sort_by_key(|k| k.len() * 7 + k.bytes().map(usize::from).sum::<usize>() % 13);
    let made = join_all(keys.iter().map(|k| pool.create_session_for(k.clone()))).await;
    let sessions: Vec<PooledSession> = made.into_iter().collect::<Result<_, _>>().unwrap();
    let mut by_key: HashMap<String, HashSet<String>> = HashMap::new();
    for s in &sessions {
        by_key
            .entry(s.key().unwrap().to_string())
            .or_default()
            .insert(s.instance_name());
    }
    assert_eq!(by_key.len(), 20);
    for (k, on) in &by_key {
        assert_eq!(on.len(), 1, "key {k} on {on:?}");
    }
    let used: HashSet<_> = by_key.values().flatten().collect();
    assert_eq!(used.len(), 3, "keys spread over the instances: {by_key:?}");
    // Later callers join their key's instance; the key is forgotten with its last session.
    let again = pool.create_session_for("room-3").await.unwrap();
    assert_eq!(Some(&again.instance_name()), by_key["room-3"].iter().next());
    assert_eq!(pool.status().borrow().keys, 20);
    drop(sessions);
    drop(again);
    let mut st = pool.status();
    let forgotten = until(Duration::from_secs(5), &mut st, |s| s.keys == 0).await;
    assert!(forgotten, "keys forgotten: {:?}", *st.borrow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_instance_gets_no_new_sessions_and_keeps_its_own() {
    let _g = fresh().await;
    // A long probe interval: the refused `create` (472) is what tells the pool first.
    let o = PoolOptions {
        probe_interval: Duration::from_secs(30),
        ..options(Failover::Report)
    };
    let pool = pool_with("ws", o, None).await;
    let before: Vec<_> = join_all((0..30).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let drained = env("JANUS_POOL2_NAME");
    let on_drained: Vec<_> = before
        .iter()
        .filter(|s| s.instance_name() == drained)
        .collect();
    assert!(!on_drained.is_empty());
    let key_there = pool.create_session_for("drain-key").await.unwrap();
    let admin2 = admin(2).await;
    admin2.accept_new_sessions(false).await.unwrap();

    let after: Vec<_> = join_all((0..30).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("new sessions go elsewhere");
    let counts = count_by_instance(&after);
    assert_eq!(counts.get(&drained), None, "{counts:?}");
    let st = pool.status().borrow().clone();
    assert_eq!(
        st.instance(&drained).map(|i| i.state.clone()),
        Some(InstanceState::Draining),
        "{st:?}"
    );
    // Existing sessions on it keep working.
    for s in &on_drained {
        let h = s.session().attach("janus.plugin.echotest").await.unwrap();
        h.message(serde_json::json!({"audio": true})).await.unwrap();
    }
    // A key living there cannot grow while it drains (Janus refuses the sessions).
    if key_there.instance_name() == drained {
        match pool.create_session_for("drain-key").await {
            Err(PoolError::KeyUnavailable { instance, .. }) => assert_eq!(instance, drained),
            other => panic!("expected KeyUnavailable, got {other:?}"),
        }
    }
    admin2.accept_new_sessions(true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_notices_draining_and_its_end() {
    let _g = fresh().await;
    let pool = pool_with("ws", options(Failover::Report), None).await;
    let drained = env("JANUS_POOL3_NAME");
    let admin3 = admin(3).await;
    admin3.accept_new_sessions(false).await.unwrap();
    let mut st = pool.status();
    let seen = until(Duration::from_secs(5), &mut st, |s| {
        s.instance(&drained)
            .is_some_and(|i| i.state == InstanceState::Draining)
    })
    .await;
    assert!(seen, "draining seen by a probe: {:?}", *st.borrow());
    admin3.accept_new_sessions(true).await.unwrap();
    let back = until(Duration::from_secs(5), &mut st, |s| {
        s.instance(&drained)
            .is_some_and(|i| i.state == InstanceState::Up)
    })
    .await;
    assert!(back, "up again: {:?}", *st.borrow());
    let sessions: Vec<_> = join_all((0..30).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(count_by_instance(&sessions).contains_key(&drained));
}

/// Keeps every session busy with keepalives; returns how many requests outlived their
/// own timeout by more than 2 s (hung).
fn load(
    sessions: Vec<PooledSession>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<(u64, u64)> {
    tokio::spawn(async move {
        let workers = sessions.into_iter().map(|s| {
            let mut stop = stop.clone();
            async move {
                let (mut done, mut hung) = (0u64, 0u64);
                loop {
                    let session = s.session();
                    let call = session.keepalive();
                    tokio::select! {
                        r = tokio::time::timeout(Duration::from_secs(5), call) => {
                            if r.is_err() { hung += 1 } else { done += 1 }
                        }
                        _ = stop.wait_for(|v| *v) => return (done, hung),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        let r = join_all(workers).await;
        r.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    })
}

/// What the pool reports while a test looks elsewhere: its failover events, forwarded as
/// they come by a task of their own (so the pool's bounded event channel never overflows
/// however many state changes come meanwhile), and a count of instance state changes.
struct Failovers {
    events: tokio::sync::mpsc::UnboundedReceiver<Result<PoolEvent, String>>,
    state_changes: Arc<std::sync::atomic::AtomicUsize>,
}

fn failovers(pool: &Pool) -> Failovers {
    let mut events = pool.events();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let state_changes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = state_changes.clone();
    tokio::spawn(async move {
        loop {
            let forwarded = match events.recv().await {
                Ok(PoolEvent::InstanceState { .. }) => {
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                Ok(ev) => Ok(ev),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                // Events were lost: the test says so rather than wait for them.
                Err(e) => Err(e.to_string()),
            };
            if tx.send(forwarded).is_err() {
                return;
            }
        }
    });
    Failovers {
        events: rx,
        state_changes,
    }
}

async fn kill_one(failover: Failover) {
    let pool = pool_with("ws", options(failover), None).await;
    let mut failovers = failovers(&pool);
    let plain: Vec<_> = join_all((0..90).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let keyed: Vec<_> = join_all((0..30).map(|i| pool.create_session_for(format!("k{}", i % 10))))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let victim = env("JANUS_POOL3_NAME");
    let all: Vec<PooledSession> = plain.iter().chain(keyed.iter()).cloned().collect();
    let doomed: Vec<PooledSession> = all
        .iter()
        .filter(|s| s.instance_name() == victim)
        .cloned()
        .collect();
    assert!(
        doomed.len() >= 30,
        "the victim has its share: {}",
        doomed.len()
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = load(all.clone(), stopped);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let killed = Instant::now();
    script("scripts/janus", "kill", &victim);
    // No new placement on it within 2 s.
    let mut st = pool.status();
    let avoided = until(Duration::from_secs(2), &mut st, |s| {
        s.instance(&victim)
            .is_some_and(|i| !i.state.takes_sessions())
    })
    .await;
    assert!(avoided, "not placed on within 2 s: {:?}", *st.borrow());
    let noticed = killed.elapsed();
    let fresh_ones: Vec<_> = join_all((0..30).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("new sessions on the survivors");
    assert!(!count_by_instance(&fresh_ones).contains_key(&victim));

    // Every lost session reported or re-created within 3 s.
    let mut first: Option<Duration> = None;
    let mut handled = HashSet::new();
    let deadline = killed + Duration::from_secs(3);
    while handled.len() < doomed.len() {
        let ev = tokio::time::timeout_at(deadline, failovers.events.recv()).await;
        let ev = match ev {
            Ok(Some(Ok(ev))) => ev,
            Ok(Some(Err(e))) => panic!("events: {e}"),
            Ok(None) => panic!("the pool's events ended"),
            Err(_) => panic!(
                "only {} of {} sessions handled within 3 s",
                handled.len(),
                doomed.len()
            ),
        };
        match (ev, failover) {
            (
                PoolEvent::SessionRecreated {
                    from_name,
                    to_name,
                    old,
                    ..
                },
                Failover::Recreate,
            ) => {
                assert_eq!(from_name, victim);
                assert_ne!(to_name, victim);
                first.get_or_insert(killed.elapsed());
                handled.insert(old);
            }
            (PoolEvent::SessionLost { name, session, .. }, Failover::Report) => {
                assert_eq!(name, victim);
                first.get_or_insert(killed.elapsed());
                handled.insert(session);
            }
            (other, _) => panic!("unexpected {other:?}"),
        }
    }
    let last = killed.elapsed();
    println!(
        "{failover:?}: kill → not placed on {noticed:?}; first session handled {:?}; all {} by {last:?}; {} instance state changes meanwhile",
        first.unwrap_or_default(),
        doomed.len(),
        failovers.state_changes.load(std::sync::atomic::Ordering::Relaxed)
    );
    // A few changes (disconnected, down, the failure count as probes back off), never a
    // flood: a monitor that woke at once after every change of its client's state sent
    // hundreds a second.
    let changes = failovers
        .state_changes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(changes < 50, "{changes} instance state changes in {last:?}");
    for s in &doomed {
        match failover {
            Failover::Recreate => {
                assert_ne!(s.instance_name(), victim);
                assert_eq!(s.placement().borrow().generation, 1);
                s.session()
                    .keepalive()
                    .await
                    .expect("the new session works");
            }
            _ => assert!(s.lost().is_some(), "reported lost"),
        }
    }
    if failover == Failover::Recreate {
        // Sticky keys moved together.
        let mut by_key: HashMap<String, HashSet<String>> = HashMap::new();
        for s in &keyed {
            by_key
                .entry(s.key().unwrap().into())
                .or_default()
                .insert(s.instance_name());
        }
        for (k, on) in &by_key {
            assert_eq!(on.len(), 1, "key {k} on {on:?}");
        }
    }
    stop.send_replace(true);
    let (done, hung) = worker.await.unwrap();
    println!("requests under load: {done} answered or failed in time, {hung} hung");
    assert_eq!(hung, 0, "no request hangs");

    // The instance restarted: used again.
    script("scripts/janus", "restart", &victim);
    let back = until(Duration::from_secs(15), &mut st, |s| {
        s.instance(&victim)
            .is_some_and(|i| i.state == InstanceState::Up)
    })
    .await;
    assert!(back, "up again after the restart: {:?}", *st.borrow());
    let later: Vec<_> = join_all((0..30).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        count_by_instance(&later).contains_key(&victim),
        "used again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_is_avoided_and_its_sessions_recreated() {
    let _g = fresh().await;
    kill_one(Failover::Recreate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_is_avoided_and_its_sessions_reported_lost() {
    let _g = fresh().await;
    kill_one(Failover::Report).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pool_stops_its_tasks_and_closes_its_clients() {
    let _g = fresh().await;
    let pool = pool_with("ws", options(Failover::Report), None).await;
    let ids: Vec<_> = pool
        .status()
        .borrow()
        .instances
        .iter()
        .map(|i| i.id)
        .collect();
    let mut states: Vec<_> = ids
        .iter()
        .map(|id| pool.client(*id).unwrap().connection_state())
        .collect();
    drop(pool);
    // The connection tasks end only when no task of the pool holds their client.
    for st in &mut states {
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while st.changed().await.is_ok() {}
        })
        .await;
        assert!(ended.is_ok(), "the client's connection task ended");
    }
}

fn redis_store(prefix: &str) -> Arc<RedisStore> {
    let mut o = RedisOptions::new(env("REDIS_URL"));
    o.prefix = prefix.into();
    o.timeout = Duration::from_millis(300);
    Arc::new(RedisStore::new(o).expect("redis store"))
}

/// Places sessions for the 100 keys at `start_ms` (unix time). The second process weighs
/// the instances 1, 1, 4 and takes the keys in reverse order, so on its own it would place
/// most keys elsewhere than the first: only the shared store makes them agree.
async fn race(
    store: Option<Arc<dyn janus_client::pool::PlacementStore>>,
    second: bool,
    start_ms: u128,
) -> (Pool, Vec<PooledSession>, BTreeMap<String, String>) {
    let specs = instances("ws")
        .into_iter()
        .enumerate()
        .map(|(i, (name, url))| {
            let weight = if second && i == 2 { 4 } else { 1 };
            instance(name, Config::new(url).with_options(client_options())).weight(weight)
        })
        .collect();
    let pool = Pool::connect(specs, options(Failover::Report), store)
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    if start_ms > now {
        tokio::time::sleep(Duration::from_millis((start_ms - now) as u64)).await;
    }
    let mut keys: Vec<String> = (0..100).map(|i| format!("key-{i}")).collect();
    if second {
        keys.reverse();
    }
    let sessions: Vec<_> = join_all(keys.into_iter().map(|k| pool.create_session_for(k)))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let placed = sessions
        .iter()
        .map(|s| (s.key().unwrap().to_string(), s.instance_name()))
        .collect();
    (pool, sessions, placed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_shared_store_the_two_racers_disagree() {
    // The control of two_processes_agree_on_every_key: the same two placements, each with a
    // store of its own, differ (so agreement there is the store's doing).
    let _g = fresh().await;
    let (_p1, _s1, first) = race(None, false, 0).await;
    let (_p2, _s2, second) = race(None, true, 0).await;
    let differ = first
        .iter()
        .filter(|(k, i)| second.get(*k) != Some(i))
        .count();
    assert!(differ > 10, "{differ} keys differ");
}

/// The second process of `two_processes_agree_on_every_key` (run by it, never alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of two_processes_agree_on_every_key"]
async fn race_child() {
    let prefix = env("POOL_RACE_PREFIX");
    let start: u128 = env("POOL_RACE_START").parse().unwrap();
    let (pool, sessions, placed) = race(Some(redis_store(&prefix)), true, start).await;
    for (k, i) in &placed {
        println!("PLACED {k}={i}");
    }
    println!("DONE");
    // Hold the sessions (and keys) until the parent closes stdin.
    let mut line = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
    // The parent released its sessions first: this process's releases delete the keys. They
    // run in the background; wait for them before the runtime ends.
    drop(sessions);
    assert!(
        released(&prefix, placed.keys()).await,
        "every key released in Redis"
    );
    drop(pool);
}

/// Whether every key is gone from Redis within 5 s.
async fn released(prefix: &str, keys: impl Iterator<Item = &String> + Clone) -> bool {
    use janus_client::pool::PlacementStore;
    let store = redis_store(prefix);
    eventually(Duration::from_secs(5), || {
        let (store, keys) = (store.clone(), keys.clone());
        async move {
            for k in keys {
                if store.owner(k).await.unwrap().is_some() {
                    return false;
                }
            }
            true
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_agree_on_every_key() {
    let _g = fresh().await;
    let prefix = format!("race-{:x}:", rand_u64());
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 3000;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "race_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("POOL_RACE_PREFIX", &prefix)
        .env("POOL_RACE_START", start.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the second process");
    let (pool, sessions, mine) = race(Some(redis_store(&prefix)), false, start).await;
    let mut spread: BTreeMap<&str, usize> = BTreeMap::new();
    for i in mine.values() {
        *spread.entry(i.as_str()).or_default() += 1;
    }
    println!("this process placed the 100 keys: {spread:?}");
    let mut theirs = BTreeMap::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // The test harness may print its "test race_child ... " in front of a line.
            if line.ends_with("DONE") {
                return;
            }
            let placed = line.find("PLACED ").map(|at| &line[at + "PLACED ".len()..]);
            if let Some((k, i)) = placed.and_then(|l| l.split_once('=')) {
                theirs.insert(k.to_string(), i.to_string());
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the second process placed its keys");
    assert_eq!(theirs.len(), 100);
    assert_eq!(mine, theirs, "both processes agree on every key");
    let used: HashSet<_> = mine.values().collect();
    assert!(used.len() > 1, "keys spread: {used:?}");
    // The store says the same.
    let store = redis_store(&prefix);
    for (k, i) in &mine {
        use janus_client::pool::PlacementStore;
        assert_eq!(store.owner(k).await.unwrap().as_ref(), Some(i));
    }
    // Released when the last session of each key ends, in both processes.
    drop(sessions);
    drop(pool);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\n").await.unwrap();
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    assert!(
        matches!(status, Ok(Ok(s)) if s.success()),
        "child: {status:?}"
    );
    assert!(
        released(&prefix, mine.keys()).await,
        "every key released in Redis"
    );
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_killed_the_pool_places_locally_and_resyncs() {
    let _g = fresh().await;
    let prefix = format!("killed-{:x}:", rand_u64());
    let o = PoolOptions {
        lease_ttl: Duration::from_millis(1500),
        ..options(Failover::Report)
    };
    let pool = pool_with("ws", o, Some(redis_store(&prefix))).await;
    let before: Vec<_> = join_all((0..10).map(|i| pool.create_session_for(format!("a{i}"))))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    // Renewed while in use: alive after twice its lease.
    tokio::time::sleep(Duration::from_secs(3)).await;
    {
        use janus_client::pool::PlacementStore;
        let store = redis_store(&prefix);
        for s in &before {
            let owner = store.owner(s.key().unwrap()).await.unwrap();
            assert_eq!(owner, Some(s.instance_name()), "lease renewed");
        }
    }
    let redis = env("REDIS_NAME");
    script("scripts/redis", "kill", &redis);
    // Keeps placing: the old keys where they are, new keys by the local view.
    let mut during = Vec::new();
    for round in 0..3 {
        for i in 0..10 {
            during.push(pool.create_session_for(format!("a{i}")).await.unwrap());
            during.push(pool.create_session_for(format!("b{i}")).await.unwrap());
        }
        let _ = round;
    }
    let mut st = pool.status();
    let said = until(Duration::from_secs(5), &mut st, |s| {
        matches!(s.store, StoreHealth::Unavailable { .. })
    })
    .await;
    assert!(
        said,
        "the status says the store is unavailable: {:?}",
        *st.borrow()
    );
    let mut by_key: HashMap<String, HashSet<String>> = HashMap::new();
    for s in before.iter().chain(during.iter()) {
        by_key
            .entry(s.key().unwrap().into())
            .or_default()
            .insert(s.instance_name());
    }
    for (k, on) in &by_key {
        assert_eq!(on.len(), 1, "key {k} on {on:?}");
    }
    // Redis returns (empty): the pool writes its keys back.
    script("scripts/redis", "restart", &redis);
    let back = until(Duration::from_secs(10), &mut st, |s| {
        s.store == StoreHealth::Available
    })
    .await;
    assert!(back, "the store is available again: {:?}", *st.borrow());
    let store = redis_store(&prefix);
    for (k, on) in &by_key {
        use janus_client::pool::PlacementStore;
        let owner = store.owner(k).await.unwrap();
        assert_eq!(owner.as_ref(), on.iter().next(), "key {k} resynchronized");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_overhead_against_a_plain_client() {
    let _g = fresh().await;
    const N: u32 = 300;
    let (_, url) = instances("ws").remove(0);
    let client = janus_client::connect(Config::new(url).with_options(client_options()))
        .await
        .unwrap();
    let pool = pool_with("ws", options(Failover::Report), None).await;
    // Warm both up, then time N sequential creates each, interleaved in rounds.
    let _w = (
        client.create_session().await.unwrap(),
        pool.create_session().await.unwrap(),
    );
    let (mut plain, mut pooled, mut keyed) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut keep = Vec::new();
    let mut keep_plain = Vec::new();
    for i in 0..N {
        let t = Instant::now();
        keep_plain.push(client.create_session().await.unwrap());
        plain += t.elapsed();
        let t = Instant::now();
        keep.push(pool.create_session().await.unwrap());
        pooled += t.elapsed();
        let t = Instant::now();
        keep.push(pool.create_session_for(format!("bench-{i}")).await.unwrap());
        keyed += t.elapsed();
    }
    println!(
        "create_session, mean of {N}: plain Client {:?}, pool {:?} (overhead {:?}), pool with a new sticky key (local store) {:?}",
        plain / N,
        pooled / N,
        (pooled / N).saturating_sub(plain / N),
        keyed / N
    );
    assert_eq!(keep.len() as u32, 2 * N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_counts_every_clients_sessions() {
    let _g = fresh().await;
    // Sessions earlier tests left behind (a test's runtime ends before its client destroys
    // them; Janus times them out later) would count too: destroy them first.
    for i in 1..=3 {
        let admin = admin(i).await;
        for s in admin.list_sessions().await.unwrap() {
            let _ = admin.destroy_session(s).await;
        }
    }
    let specs = instances("ws")
        .into_iter()
        .enumerate()
        .map(|(i, (name, url))| {
            let admin_url = env(&format!("JANUS_POOL{}_ADMIN_WS_URL", i + 1));
            let secret = env(&format!("JANUS_POOL{}_ADMIN_SECRET", i + 1));
            instance(name, Config::new(url).with_options(client_options())).admin(
                janus_client::pool::admin(Config::new(admin_url), secret.into()),
            )
        })
        .collect();
    let pool = Pool::connect(specs, options(Failover::Report), None)
        .await
        .unwrap();
    // Another client (another replica, say) puts 60 sessions on the first instance.
    let (busy, url) = instances("ws").remove(0);
    let other = janus_client::connect(Config::new(url)).await.unwrap();
    let theirs: Vec<_> = join_all((0..60).map(|_| other.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut st = pool.status();
    // Sessions of earlier tests may still be going away on the others: wait for them too.
    let seen = until(Duration::from_secs(10), &mut st, |s| {
        s.instances.iter().all(|i| {
            let n = i.admin_sessions.unwrap_or(usize::MAX);
            if i.name == busy {
                (60..usize::MAX).contains(&n)
            } else {
                n <= 5
            }
        })
    })
    .await;
    assert!(seen, "the probe read the Admin API: {:?}", *st.borrow());
    let ours: Vec<_> = join_all((0..60).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let counts = count_by_instance(&ours);
    assert_eq!(
        counts.get(&busy),
        None,
        "the busy instance is avoided: {counts:?}"
    );
    drop(theirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_join_and_leave_at_run_time() {
    let _g = fresh().await;
    let mut all = instances("ws");
    let (third, third_url) = all.pop().unwrap();
    let specs = all
        .into_iter()
        .map(|(name, url)| instance(name, Config::new(url).with_options(client_options())))
        .collect();
    let pool = Pool::connect(specs, options(Failover::Report), None)
        .await
        .unwrap();
    let first: Vec<_> = join_all((0..20).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!count_by_instance(&first).contains_key(&third));
    let id = pool
        .add_instance(instance(
            third.clone(),
            Config::new(third_url).with_options(client_options()),
        ))
        .unwrap();
    // A name used twice is refused.
    assert!(pool
        .add_instance(instance(third.clone(), Config::new("ws://127.0.0.1:1")))
        .is_err());
    let mut st = pool.status();
    let up = until(Duration::from_secs(5), &mut st, |s| {
        s.instance(&third)
            .is_some_and(|i| i.state == InstanceState::Up)
    })
    .await;
    assert!(up, "the new instance is up: {:?}", *st.borrow());
    // The least loaded now: the next sessions go there until it catches up.
    let second: Vec<_> = join_all((0..10).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(count_by_instance(&second).get(&third), Some(&10));
    // Removed: no new session, and it leaves with its last one.
    assert!(pool.remove_instance(id));
    let third_sessions: Vec<_> = join_all((0..10).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!count_by_instance(&third_sessions).contains_key(&third));
    assert_eq!(
        st.borrow().instance(&third).map(|i| i.state.clone()),
        Some(InstanceState::Removing)
    );
    drop(second);
    let gone = until(Duration::from_secs(5), &mut st, |s| {
        s.instance(&third).is_none()
    })
    .await;
    assert!(gone, "removed with its last session: {:?}", *st.borrow());
    assert!(!pool.remove_instance(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_scripts_claim_move_renew_and_release_atomically() {
    use janus_client::pool::PlacementStore;
    // Another test kills Redis.
    let _g = LOCK.lock().await;
    let s = redis_store(&format!("scripts-{:x}:", rand_u64()));
    let ttl = Duration::from_secs(30);
    // The first claim wins; a second holder reads it.
    assert_eq!(s.claim("room", "a", "h1", ttl).await.unwrap(), "a");
    assert_eq!(s.claim("room", "b", "h2", ttl).await.unwrap(), "a");
    // Only a key that still names the dead instance is moved; a later mover agrees.
    assert_eq!(s.replace("room", "x", "c", "h1", ttl).await.unwrap(), "a");
    assert_eq!(s.replace("room", "a", "c", "h1", ttl).await.unwrap(), "c");
    assert_eq!(s.replace("room", "a", "d", "h2", ttl).await.unwrap(), "c");
    // Renewing on an old owner changes nothing and says where the key is.
    assert_eq!(s.renew("room", "a", "h1", ttl).await.unwrap(), "c");
    // Released by the last holder only, and only while it still names the owner.
    s.release("room", "c", "h1").await.unwrap();
    assert_eq!(s.owner("room").await.unwrap().as_deref(), Some("c"));
    s.release("room", "c", "h2").await.unwrap();
    assert_eq!(s.owner("room").await.unwrap(), None);
    // An unrenewed lease expires; a renewal writes it back (as after a Redis restart).
    let short = Duration::from_millis(300);
    s.claim("k", "a", "h1", short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.owner("k").await.unwrap(), None);
    assert_eq!(s.renew("k", "a", "h1", ttl).await.unwrap(), "a");
    assert_eq!(s.owner("k").await.unwrap().as_deref(), Some("a"));
    s.release("k", "a", "h1").await.unwrap();
    // A holder that stopped renewing does not keep a key alive after the others leave.
    s.claim("z", "a", "gone", short).await.unwrap();
    s.claim("z", "a", "stays", ttl).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    s.release("z", "a", "stays").await.unwrap();
    assert_eq!(s.owner("z").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_within_its_timeout() {
    use janus_client::pool::PlacementStore;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut o = RedisOptions::new(format!("redis://127.0.0.1:{port}"));
    o.timeout = Duration::from_millis(200);
    let s = RedisStore::new(o).unwrap();
    let t = Instant::now();
    assert!(s
        .claim("k", "a", "h", Duration::from_secs(1))
        .await
        .is_err());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(RedisStore::new(RedisOptions::new("nonsense://x")).is_err());
}

/// The pid of a running pool instance, from `scripts/janus env NAME`.
fn janus_pid(name: &str) -> String {
    let out = std::process::Command::new("scripts/janus")
        .args(["env", name])
        .output()
        .expect("scripts/janus env");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.split_once("_PID=").map(|(_, p)| p.to_string()))
        .unwrap_or_else(|| panic!("no pid for {name}"))
}

fn signal(sig: &str, pid: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, pid])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_instance_is_declared_down_by_failed_probes() {
    let _g = fresh().await;
    let pool = pool_with("ws", options(Failover::Recreate), None).await;
    let sessions: Vec<_> = join_all((0..30).map(|_| pool.create_session()))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let stalled = env("JANUS_POOL2_NAME");
    let pid = janus_pid(&stalled);
    // Stopped, not killed: its connection stays open and nothing answers.
    signal("-STOP", &pid);
    let mut st = pool.status();
    let down = until(Duration::from_secs(10), &mut st, |s| {
        s.instance(&stalled)
            .is_some_and(|i| matches!(i.state, InstanceState::Down { .. }))
    })
    .await;
    let state = st.borrow().instance(&stalled).map(|i| i.state.clone());
    signal("-CONT", &pid);
    assert!(down, "down after failed probes: {state:?}");
    // Its sessions were moved to the others.
    let moved = eventually(Duration::from_secs(5), || async {
        sessions.iter().all(|s| s.instance_name() != stalled)
    })
    .await;
    assert!(moved, "sessions re-created elsewhere");
    // Answering again: used again.
    let up = until(Duration::from_secs(15), &mut st, |s| {
        s.instance(&stalled)
            .is_some_and(|i| i.state == InstanceState::Up)
    })
    .await;
    assert!(up, "up again: {:?}", *st.borrow());
}
