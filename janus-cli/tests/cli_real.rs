//! `janus-cli` run as a program against the real Janus instances `scripts/test` starts
//! (their URLs and secrets come from its environment variables; a missing one fails the
//! test), and against instances of its own for what changes or kills a Janus.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The variables through which the tool takes its options: cleared for every run, so that
/// only what a test gives counts (`scripts/test` exports `JANUS_ADMIN_SECRET` itself).
const TOOL_VARS: &[&str] = &[
    "JANUS_URL",
    "JANUS_CONFIG",
    "JANUS_ADMIN_URL",
    "JANUS_ADMIN_SECRET",
    "JANUS_API_SECRET",
    "JANUS_TOKEN",
    "JANUS_TIMEOUT",
];

/// A variable `scripts/test` exports; the test fails without it.
fn env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{var} is not set: these tests need the Janus instances of scripts/test"),
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_janus-cli"));
    for var in TOOL_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// What a run printed and its exit code.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// Waits for a child, killing it and failing the test past `limit`. Its output is read
/// meanwhile (a child whose pipe is full would never end).
fn wait(mut child: Child, limit: Duration, what: &str) -> Output {
    fn drain<R: std::io::Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{what}` still running after {limit:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&stdout.join().unwrap_or_default()),
                    String::from_utf8_lossy(&stderr.join().unwrap_or_default())
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for `{what}`: {e}"),
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Runs the tool with `args` (and `envs`), within 60 s.
fn run_env(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = cli();
    cmd.args(args).envs(envs.iter().copied());
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start janus-cli");
    let out = wait(child, Duration::from_secs(60), &args.join(" "));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_env(args, &[])
}

/// A Janus of a test's own (`scripts/janus start NAME`), stopped when dropped.
struct OwnJanus {
    name: String,
    vars: HashMap<String, String>,
}

impl OwnJanus {
    fn start(name: &str) -> OwnJanus {
        let out = Command::new(workspace().join("scripts/janus"))
            .args(["start", name, "--prefix", "OWN"])
            .current_dir(workspace())
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/janus start");
        assert!(out.status.success(), "scripts/janus start {name} failed");
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OwnJanus {
            name: name.to_string(),
            vars,
        }
    }

    fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("scripts/janus printed no {key}: {:?}", self.vars))
    }

    fn script(&self, cmd: &str) {
        let status = Command::new(workspace().join("scripts/janus"))
            .args([cmd, &self.name])
            .current_dir(workspace())
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/janus");
        assert!(status.success(), "scripts/janus {cmd} {} failed", self.name);
    }
}

impl Drop for OwnJanus {
    fn drop(&mut self) {
        let _ = Command::new(workspace().join("scripts/janus"))
            .args(["stop", &self.name])
            .current_dir(workspace())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Polls `f` every 100 ms until it is true or `limit` passes.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn cat<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    [a, b].concat()
}

fn admin_args<'a>(url: &'a str, secret: &'a str) -> Vec<&'a str> {
    vec!["--admin-url", url, "--admin-secret", secret]
}

#[test]
fn info_and_ping_over_every_transport() {
    for var in [
        "JANUS_WS_URL",
        "JANUS_HTTP_URL",
        "JANUS_UNIX_URL",
        "JANUS_MQTT_URL",
        "JANUS_AMQP_URL",
    ] {
        let url = env(var);
        let info = run(&["--url", &url, "--json", "info"]).expect(0).json();
        assert_eq!(info["janus"], "server_info", "{var}");
        assert_eq!(info["version_string"], "1.1.2", "{var}");
        let text = run(&["-u", &url, "info"]).expect(0);
        assert!(
            text.stdout.starts_with("Janus WebRTC Server 1.1.2 at "),
            "{var}: {}",
            text.stdout
        );
        assert!(
            text.stdout.contains("janus.plugin.echotest"),
            "{}",
            text.stdout
        );
        let ping = run(&["-u", &url, "--json", "ping", "-n", "2", "-i", "50ms"])
            .expect(0)
            .json();
        assert_eq!(ping["received"], 2, "{var}: {ping}");
        assert!(ping["max_ms"].as_f64().unwrap() >= ping["min_ms"].as_f64().unwrap());
        let text = run(&["-u", &url, "ping"]).expect(0);
        assert!(text.stdout.starts_with("pong from "), "{}", text.stdout);
    }
}

#[test]
fn a_config_file_and_the_environment_give_the_url() {
    let url = env("JANUS_WS_URL");
    let dir = std::env::temp_dir().join(format!("janus-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("janus.toml");
    std::fs::write(
        &file,
        format!("url = \"{url}\"\n[options]\nrequest_timeout = \"3s\"\n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    run(&["--config", file, "ping"]).expect(0);
    run_env(&["ping"], &[("JANUS_CONFIG", file)]).expect(0);
    run_env(&["ping"], &[("JANUS_URL", &url)]).expect(0);
    // A bad option in the file: a usage error naming it.
    std::fs::write(
        dir.join("bad.toml"),
        format!("url = \"{url}\"\n[options]\nrequest_timeout = \"0s\"\n"),
    )
    .unwrap();
    let bad = run(&["-c", dir.join("bad.toml").to_str().unwrap(), "ping"]).expect(2);
    assert!(
        bad.stderr.contains("options.request_timeout"),
        "{}",
        bad.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn call_sends_raw_requests() {
    let url = env("JANUS_WS_URL");
    let info = run(&["-u", &url, "call", "info"]).expect(0).json();
    assert_eq!(info["janus"], "server_info");
    let reply = run(&[
        "-u",
        &url,
        "call",
        "--plugin",
        "janus.plugin.echotest",
        r#"{"janus":"message","body":{"audio":true}}"#,
    ])
    .expect(0)
    .json();
    assert_eq!(reply["janus"], "event", "{reply}");
    assert_eq!(reply["plugindata"]["data"]["result"], "ok", "{reply}");
    // A plugin error: printed, and exit code 1.
    let refused = run(&[
        "-u",
        &url,
        "call",
        "--plugin",
        "janus.plugin.videoroom",
        r#"{"janus":"message","body":{"request":"no-such-request"}}"#,
    ])
    .expect(1);
    assert!(
        refused.json()["plugindata"]["data"]["error_code"].is_number(),
        "{}",
        refused.stdout
    );
    // A core error: exit code 1, Janus' words on stderr.
    let core = run(&[
        "-u",
        &url,
        "call",
        "--expect",
        "event",
        r#"{"janus":"message","body":{}}"#,
    ])
    .expect(1);
    assert!(core.stderr.contains("Janus error"), "{}", core.stderr);
    // Not a request at all: usage.
    let usage = run(&["-u", &url, "call", "{not json"]).expect(2);
    assert!(usage.stderr.contains("not JSON"), "{}", usage.stderr);
}

/// A `watch` running in the background: its session and handle, and its output so far.
struct Watcher {
    child: Child,
    session: u64,
    handle: u64,
    stdout: mpsc::Receiver<String>,
}

impl Watcher {
    fn start(url: &str, extra: &[&str]) -> Watcher {
        let mut child = cli()
            .args(["-u", url])
            .args(["watch", "--plugin", "janus.plugin.echotest", "--for", "60s"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start janus-cli watch");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // "janus-cli: watching janus.plugin.echotest: session S, handle H (Ctrl-C to stop)"
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("watch says what it attached");
        let ids: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(ids.len(), 2, "{line}");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (otx, orx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = otx.send(line);
            }
        });
        Watcher {
            child,
            session: ids[0],
            handle: ids[1],
            stdout: orx,
        }
    }

    /// Ctrl-C; returns the exit code.
    fn interrupt(self) -> i32 {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(status.success());
        let out = wait(self.child, Duration::from_secs(30), "watch after Ctrl-C");
        out.status.code().unwrap_or(-1)
    }
}

#[test]
fn admin_lists_sessions_handles_and_handle_info_and_watch_cleans_up_on_ctrl_c() {
    let ws = env("JANUS_WS_URL");
    let secret = env("JANUS_ADMIN_SECRET");
    let opaque = format!("janus-cli-test-{}", std::process::id());
    let w = Watcher::start(&ws, &["--opaque-id", &opaque]);
    let (s, h) = (w.session.to_string(), w.handle.to_string());

    for admin_url in [
        env("JANUS_ADMIN_WS_URL"),
        env("JANUS_ADMIN_HTTP_URL"),
        env("JANUS_ADMIN_UNIX_URL"),
        env("JANUS_ADMIN_MQTT_URL"),
        env("JANUS_ADMIN_AMQP_URL"),
    ] {
        let a = admin_args(&admin_url, &secret);

        let table = run(&cat(&a, &["admin", "sessions"])).expect(0);
        assert!(table.stdout.starts_with("SESSION"), "{}", table.stdout);
        let row = table
            .stdout
            .lines()
            .find(|l| l.starts_with(&s))
            .unwrap_or_else(|| panic!("no row for session {s}: {}", table.stdout));
        assert_eq!(row.split_whitespace().nth(1), Some("1"), "{row}");
        let json = run(&cat(&a, &["--json", "admin", "sessions"]))
            .expect(0)
            .json();
        let entry = json
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["session"] == w.session)
            .unwrap_or_else(|| panic!("{json}"));
        assert_eq!(entry["handles"], serde_json::json!([w.handle]));

        let table = run(&cat(&a, &["admin", "handles", &s])).expect(0);
        let row = table
            .stdout
            .lines()
            .find(|l| l.contains(&h))
            .unwrap_or_else(|| panic!("no row for handle {h}: {}", table.stdout));
        assert!(row.contains("janus.plugin.echotest"), "{row}");
        assert!(row.contains("janus.transport.websockets"), "{row}");
        assert!(row.contains(&opaque), "{row}");
        let all = run(&cat(&a, &["--json", "admin", "handles"]))
            .expect(0)
            .json();
        assert!(
            all.as_array()
                .unwrap()
                .iter()
                .any(|e| e["handle"] == w.handle && e["plugin"] == "janus.plugin.echotest"),
            "{all}"
        );

        let info = run(&cat(&a, &["--json", "admin", "handle-info", &s, &h]))
            .expect(0)
            .json();
        assert_eq!(info["plugin"], "janus.plugin.echotest", "{info}");
        assert_eq!(info["session_id"], w.session);
        assert_eq!(info["opaque_id"], opaque.as_str());
        let text = run(&cat(&a, &["admin", "handle-info", &s, &h])).expect(0);
        assert!(text.stdout.contains("plugin_specific:"), "{}", text.stdout);
        assert!(text.stdout.contains("flags:"), "{}", text.stdout);
        // An unknown handle: Janus says so, exit code 1.
        let gone = run(&cat(&a, &["admin", "handle-info", &s, "1"])).expect(1);
        assert!(gone.stderr.contains("459"), "{}", gone.stderr);
    }

    // Ctrl-C: the watch detaches and destroys its session, and exits 0.
    assert_eq!(w.interrupt(), 0);
    let admin_ws = env("JANUS_ADMIN_WS_URL");
    let gone = eventually(Duration::from_secs(10), || {
        let list = run(&[
            &admin_args(&admin_ws, &secret)[..],
            &["--json", "admin", "sessions"],
        ]
        .concat());
        list.code == 0
            && !list
                .json()
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["session"] == s.parse::<u64>().unwrap())
    });
    assert!(
        gone,
        "session {s} still on the server after the watch was interrupted"
    );
}

#[test]
fn watch_prints_events_as_text_and_json_lines() {
    let url = env("JANUS_WS_URL");
    let out = run(&[
        "-u",
        &url,
        "--json",
        "watch",
        "-p",
        "janus.plugin.echotest",
        "--body",
        r#"{"audio":true}"#,
        "--count",
        "1",
    ])
    .expect(0);
    let first: Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"], "reply", "{first}");
    assert_eq!(first["event"], "plugin");
    assert_eq!(first["data"]["data"]["result"], "ok", "{first}");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));

    let out = run(&[
        "-u",
        &url,
        "watch",
        "-p",
        "janus.plugin.echotest",
        "-b",
        r#"{"video":false}"#,
        "--for",
        "1s",
    ])
    .expect(0);
    let line = out.stdout.lines().next().unwrap_or_default();
    assert!(
        line.contains("  reply ") && line.contains("\"result\":\"ok\""),
        "{line}"
    );

    // An event that comes by itself: the Admin API detaches the watched handle.
    let w = Watcher::start(&url, &[]);
    let secret = env("JANUS_ADMIN_SECRET");
    let admin = env("JANUS_ADMIN_WS_URL");
    run(&[
        &admin_args(&admin, &secret)[..],
        &[
            "admin",
            "detach-handle",
            &w.session.to_string(),
            &w.handle.to_string(),
        ],
    ]
    .concat())
    .expect(0);
    // Detached by the server: the watch prints it (after what the plugin says as it goes,
    // the echotest's `"result":"done"`) and ends on its own, with exit code 1.
    let mut seen = Vec::new();
    let start = Instant::now();
    while !seen
        .last()
        .is_some_and(|l: &String| l.ends_with("  detached"))
    {
        match w.stdout.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => seen.push(line),
            Err(_) => assert!(
                start.elapsed() < Duration::from_secs(10),
                "no `detached` within 10 s: {seen:?}"
            ),
        }
    }
    let out = wait(
        w.child,
        Duration::from_secs(20),
        "watch of a detached handle",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = run(&[
        "-u",
        &url,
        "watch",
        "-p",
        "janus.plugin.echotest",
        "-b",
        "{",
    ])
    .expect(2);
    assert!(bad.stderr.contains("--body is not JSON"), "{}", bad.stderr);
    let bad = run(&["-u", &url, "watch", "-p", "janus.plugin.nope"]).expect(1);
    assert!(
        bad.stderr.contains("460") || bad.stderr.contains("plugin"),
        "{}",
        bad.stderr
    );
}

#[test]
fn watch_prints_what_janus_event_handlers_send() {
    // JANUS_EVH's wsevh and sampleevh send to these ports (scripts/test); nothing else
    // listens there while this test binary runs.
    let ws = format!("127.0.0.1:{}", env("EVH_WS_PORT"));
    let http = format!("127.0.0.1:{}", env("EVH_HTTP_PORT"));
    let auth = format!("{}:{}", env("EVH_HTTP_USER"), env("EVH_HTTP_PASSWORD"));
    let mut child = cli()
        .args(["--json", "watch", "--evh-ws", &ws, "--evh-http", &http])
        .args([
            "--evh-path",
            "/janus-events",
            "--evh-auth",
            &auth,
            "--for",
            "120s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let lines = line_channel(child.stdout.take().expect("stdout"));
    let listening = eventually(Duration::from_secs(20), || {
        [&ws, &http]
            .iter()
            .all(|a| std::net::TcpStream::connect(a.as_str()).is_ok())
    });
    assert!(listening, "the watch never listened on {ws} and {http}");

    // A whole lifecycle on the instance that reports: create, attach, message, detach, destroy.
    let reply = run(&[
        "-u",
        &env("JANUS_EVH_WS_URL"),
        "--json",
        "call",
        "--plugin",
        "janus.plugin.echotest",
        r#"{"janus":"message","body":{"audio":true}}"#,
    ])
    .expect(0)
    .json();
    let session = reply["session_id"].as_u64().expect("session_id");
    let handle = reply["sender"].as_u64().expect("sender");

    // Each step, through each handler (wsevh may first be reconnecting: up to 8 s between
    // its attempts).
    let wanted = [
        ("session", "created"),
        ("handle", "attached"),
        ("handle", "detached"),
        ("session", "destroyed"),
    ];
    let mut seen: Vec<(String, String, String)> = Vec::new();
    let done = |seen: &[(String, String, String)]| {
        ["ws://", "http://"].iter().all(|via| {
            wanted.iter().all(|(kind, name)| {
                seen.iter()
                    .any(|(k, n, v)| k == kind && n == name && v.starts_with(via))
            })
        })
    };
    let start = Instant::now();
    while !done(&seen) && start.elapsed() < Duration::from_secs(60) {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        let ev: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(ev["source"], "evh", "{line}");
        if ev["id"].as_u64() != Some(session) {
            continue;
        }
        let event = &ev["data"]["event"];
        assert_eq!(event["session_id"].as_u64(), Some(session), "{line}");
        if ev["event"] == "handle" {
            assert_eq!(event["handle_id"].as_u64(), Some(handle), "{line}");
        }
        seen.push((
            ev["event"].as_str().unwrap_or_default().to_string(),
            event["event"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            ev["data"]["via"].as_str().unwrap_or_default().to_string(),
        ));
    }
    assert!(done(&seen), "session {session}: saw only {seen:?}");

    // Ctrl-C: the listeners stop and the tool exits 0.
    let stopped = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(stopped.success());
    let out = wait(child, Duration::from_secs(15), "watch --evh after Ctrl-C");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listening for wsevh on ws://"), "{stderr}");
    assert!(
        stderr.contains("listening for sampleevh on http://"),
        "{stderr}"
    );
    // A source that cannot be used: a port taken is a connection error (3), not a hang.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let refused = run(&["watch", "--evh-ws", &addr, "--for", "1s"]).expect(3);
    assert!(
        refused.stderr.contains("cannot listen"),
        "{}",
        refused.stderr
    );
    // And the two sources do not mix.
    run(&["watch", "-p", "janus.plugin.echotest", "--evh-ws", &addr]).expect(2);
}

#[test]
fn watch_reads_what_janus_publishes_on_the_brokers() {
    // JANUS_EVH's mqttevh publishes under EVH_MQTT_TOPIC on the shared mosquitto, its
    // rabbitmqevh to the fanout exchange EVH_AMQP_EXCHANGE on the shared RabbitMQ
    // (scripts/test). Readable lines, not JSON.
    let mqtt = format!("127.0.0.1:{}", env("MQTT_BROKER_PORT"));
    let amqp = format!("127.0.0.1:{}", env("RABBITMQ_PORT"));
    let mut child = cli()
        .args(["watch", "--evh-mqtt", &mqtt, "--evh-mqtt-topic"])
        .arg(env("EVH_MQTT_TOPIC"))
        .args(["--evh-amqp", &amqp, "--evh-amqp-exchange"])
        .arg(env("EVH_AMQP_EXCHANGE"))
        .arg("--evh-amqp-route-key")
        .arg(env("EVH_AMQP_ROUTE_KEY"))
        .args(["--for", "120s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch");
    let lines = line_channel(child.stdout.take().expect("stdout"));
    let errors = line_channel(child.stderr.take().expect("stderr"));
    // Both consumers subscribed before anything is sent (what Janus publishes before that
    // is not kept for them).
    let mut said = Vec::new();
    let start = Instant::now();
    while said.len() < 2 && start.elapsed() < Duration::from_secs(30) {
        if let Ok(line) = errors.recv_timeout(Duration::from_millis(500)) {
            if line.contains("reading mqttevh") || line.contains("reading rabbitmqevh") {
                said.push(line);
            }
        }
    }
    assert_eq!(said.len(), 2, "the consumers never subscribed: {said:?}");

    let reply = run(&[
        "-u",
        &env("JANUS_EVH_WS_URL"),
        "--json",
        "call",
        "--plugin",
        "janus.plugin.echotest",
        r#"{"janus":"message","body":{"audio":true}}"#,
    ])
    .expect(0)
    .json();
    let session = reply["session_id"].as_u64().expect("session_id");

    // `TIME  evh SESSION  KIND  DATA`: the session's creation and destruction, through each
    // broker.
    let origin = format!("  evh {session}  session  ");
    let wanted = [
        ("mqtt topic", "created"),
        ("mqtt topic", "destroyed"),
        ("amqp routing key", "created"),
        ("amqp routing key", "destroyed"),
    ];
    let mut seen: Vec<String> = Vec::new();
    let done = |seen: &[String]| {
        wanted.iter().all(|(via, name)| {
            seen.iter()
                .any(|l| l.contains(via) && l.contains(&format!("\"name\":\"{name}\"")))
        })
    };
    let start = Instant::now();
    while !done(&seen) && start.elapsed() < Duration::from_secs(60) {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            if line.contains(&origin) {
                seen.push(line);
            }
        }
    }
    assert!(done(&seen), "session {session}: saw only {seen:?}");

    let stopped = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(stopped.success());
    let out = wait(
        child,
        Duration::from_secs(15),
        "watch --evh-mqtt after Ctrl-C",
    );
    assert_eq!(out.status.code(), Some(0));
    // A bad address is a usage error, a broker nobody runs a connection error.
    let bad = run(&["watch", "--evh-mqtt", "no-port", "--for", "1s"]).expect(2);
    assert!(bad.stderr.contains("HOST:PORT"), "{}", bad.stderr);
    let port = free_port().to_string();
    let refused = run(&["watch", "--evh-amqp", &format!("127.0.0.1:{port}")]).expect(3);
    assert!(refused.stderr.contains("cannot"), "{}", refused.stderr);
}

/// The lines of `from`, on a channel (read by a thread of their own).
fn line_channel(from: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn admin_sets_the_log_level() {
    let admin = env("JANUS_ADMIN_WS_URL");
    let secret = env("JANUS_ADMIN_SECRET");
    let a = admin_args(&admin, &secret);
    let out = run(&[&a[..], &["admin", "log-level", "5"]].concat()).expect(0);
    assert_eq!(out.stdout, "log level 5\n");
    let status = run(&[&a[..], &["--json", "admin", "status"]].concat())
        .expect(0)
        .json();
    assert_eq!(status["log_level"], 5, "{status}");
    let text = run(&[&a[..], &["admin", "status"]].concat()).expect(0);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["log_level", "5"]),
        "{}",
        text.stdout
    );
    run(&[&a[..], &["admin", "log-level", "4"]].concat()).expect(0);
    // Out of range: refused before anything is sent.
    run(&[&a[..], &["admin", "log-level", "8"]].concat()).expect(2);
    // The secret from the environment, and a wrong one.
    run_env(
        &["--admin-url", &admin, "admin", "status"],
        &[("JANUS_ADMIN_SECRET", &secret)],
    )
    .expect(0);
    let wrong = run(&[
        "--admin-url",
        &admin,
        "--admin-secret",
        "wrong",
        "admin",
        "status",
    ])
    .expect(5);
    assert!(wrong.stderr.contains("403"), "{}", wrong.stderr);
    assert!(
        !wrong.stderr.contains("wrong"),
        "the secret leaked: {}",
        wrong.stderr
    );
    let missing = run(&["admin", "status"]).expect(2);
    assert!(missing.stderr.contains("--admin-url"), "{}", missing.stderr);
}

#[test]
fn refused_new_sessions_fail_create_until_accepted_again() {
    let janus = OwnJanus::start("cli-accept");
    let url = janus.var("OWN_WS_URL").to_string();
    let admin = janus.var("OWN_ADMIN_WS_URL").to_string();
    let secret = janus.var("OWN_ADMIN_SECRET").to_string();
    let a = admin_args(&admin, &secret);
    run(&[&a[..], &["admin", "accept-sessions", "false"]].concat()).expect(0);
    let refused = run(&["-u", &url, "call", "create"]).expect(1);
    assert!(refused.stderr.contains("472"), "{}", refused.stderr);
    let info = run(&["-u", &url, "info"]).expect(0);
    assert!(
        info.stdout
            .lines()
            .any(|l| l.starts_with("new sessions") && l.ends_with("refused")),
        "{}",
        info.stdout
    );
    let load = run(&["-u", &url, "--json", "load", "-n", "3"])
        .expect(6)
        .json();
    assert_eq!(load["ok"], 0, "{load}");
    assert_eq!(load["failed"], 3, "{load}");
    let errors = load["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{load}");
    assert_eq!(errors[0]["kind"], "janus");
    assert_eq!(errors[0]["code"], 472);
    assert_eq!(errors[0]["steps"]["create"], 3);
    // --max-errors: one worker stops after exactly that many failures.
    let load = run(&[
        "-u",
        &url,
        "--json",
        "load",
        "-n",
        "100",
        "--max-errors",
        "2",
    ])
    .expect(6)
    .json();
    assert_eq!(load["stopped_by"], "max_errors", "{load}");
    assert_eq!(load["failed"], 2, "{load}");
    run(&[&a[..], &["admin", "accept-sessions", "true"]].concat()).expect(0);
    let created = run(&["-u", &url, "call", "create"]).expect(0).json();
    assert!(created["data"]["id"].is_u64(), "{created}");
}

#[test]
fn tokens_are_added_listed_used_and_removed() {
    let url = env("JANUS_TOKEN_WS_URL");
    let admin = env("JANUS_TOKEN_ADMIN_WS_URL");
    let secret = env("JANUS_TOKEN_ADMIN_SECRET");
    let a = admin_args(&admin, &secret);
    let token = format!("cli-token-{}", std::process::id());
    let added = run(&[
        &a[..],
        &[
            "--json",
            "admin",
            "tokens",
            "add",
            &token,
            "-p",
            "janus.plugin.echotest",
        ],
    ]
    .concat())
    .expect(0)
    .json();
    assert_eq!(
        added["allowed_plugins"],
        serde_json::json!(["janus.plugin.echotest"])
    );
    let list = run(&[&a[..], &["admin", "tokens", "list"]].concat()).expect(0);
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&token))
        .unwrap_or_else(|| panic!("{}", list.stdout));
    assert!(row.ends_with("janus.plugin.echotest"), "{row}");
    let json = run(&[&a[..], &["--json", "admin", "tokens", "list"]].concat())
        .expect(0)
        .json();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|t| t["token"] == token.as_str()),
        "{json}"
    );

    // The token works for its plugin (from the environment), and not for another one (405).
    let load = run_env(
        &["-u", &url, "--json", "load", "-n", "2"],
        &[("JANUS_TOKEN", &token)],
    )
    .expect(0)
    .json();
    assert_eq!(load["ok"], 2, "{load}");
    let other = run(&[
        "-u",
        &url,
        "--token",
        &token,
        "call",
        "-p",
        "janus.plugin.videoroom",
        "info",
    ])
    .expect(5);
    assert!(other.stderr.contains("405"), "{}", other.stderr);

    let allowed = run(&[
        &a[..],
        &[
            "--json",
            "admin",
            "tokens",
            "allow",
            &token,
            "janus.plugin.videoroom",
        ],
    ]
    .concat())
    .expect(0)
    .json();
    assert_eq!(
        allowed["allowed_plugins"].as_array().unwrap().len(),
        2,
        "{allowed}"
    );

    // Removed, the token read from stdin (out of `ps`): refused from then on.
    let mut child = cli()
        .args([&a[..], &["admin", "tokens", "remove", "-"]].concat())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
    let out = wait(child, Duration::from_secs(30), "tokens remove -");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = run(&[&a[..], &["admin", "tokens", "list"]].concat()).expect(0);
    assert!(!list.stdout.contains(&token), "{}", list.stdout);
    let refused = run(&["-u", &url, "--token", &token, "call", "create"]).expect(5);
    assert!(refused.stderr.contains("403"), "{}", refused.stderr);
    assert!(
        !refused.stderr.contains(&token),
        "the token leaked: {}",
        refused.stderr
    );
}

#[test]
fn an_api_secret_is_required_where_janus_wants_one() {
    let url = env("JANUS_AUTH_WS_URL");
    let secret = env("JANUS_AUTH_API_SECRET");
    let refused = run(&["-u", &url, "call", "create"]).expect(5);
    assert!(refused.stderr.contains("403"), "{}", refused.stderr);
    run_env(
        &["-u", &url, "call", "create"],
        &[("JANUS_API_SECRET", &secret)],
    )
    .expect(0);
    run(&["-u", &url, "--api-secret", &secret, "load", "-n", "1"]).expect(0);
}

#[test]
fn load_runs_iterations_over_one_url_or_several() {
    let ws = env("JANUS_WS_URL");
    let http = env("JANUS_HTTP_URL");
    let r = run(&["-u", &ws, "--json", "load", "-n", "40", "-w", "4"])
        .expect(0)
        .json();
    assert_eq!(r["ok"], 40, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(r["stopped_by"], "iterations");
    assert_eq!(r["workers"], 4);
    let lat = &r["latency_ms"];
    let p = |k: &str| lat[k].as_f64().unwrap_or_else(|| panic!("{k}: {r}"));
    assert!(
        p("p50") <= p("p90") && p("p90") <= p("p99") && p("p99") <= p("max"),
        "{r}"
    );
    let buckets: u64 = r["histogram_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(buckets, 40, "{r}");

    let r = run(&[
        "-u", &ws, "-u", &http, "--json", "load", "-n", "30", "-w", "4",
    ])
    .expect(0)
    .json();
    assert_eq!(r["ok"], 30, "{r}");
    let per_url = r["per_url"].as_array().unwrap();
    assert_eq!(per_url.len(), 2);
    for u in per_url {
        assert_eq!(u["workers"], 2, "{r}");
    }
    let sum: u64 = per_url.iter().map(|u| u["ok"].as_u64().unwrap()).sum();
    assert_eq!(sum, 30);

    // A chosen plugin request, and the text report.
    let text = run(&[
        "-u",
        &ws,
        "load",
        "-n",
        "5",
        "--plugin",
        "janus.plugin.videoroom",
        "--body",
        r#"{"request":"list"}"#,
    ])
    .expect(0);
    assert!(
        text.stdout
            .starts_with("5 lifecycles (janus.plugin.videoroom)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("latency: p50 "), "{}", text.stdout);
    // A request the plugin refuses: every lifecycle fails at its message, as a plugin error.
    let r = run(&[
        "-u",
        &ws,
        "--json",
        "load",
        "-n",
        "3",
        "--plugin",
        "janus.plugin.videoroom",
        "--body",
        r#"{"request":"no-such-request"}"#,
    ])
    .expect(6)
    .json();
    assert_eq!(r["failed"], 3, "{r}");
    assert_eq!(r["errors"][0]["kind"], "plugin", "{r}");
    assert_eq!(r["errors"][0]["steps"]["message"], 3, "{r}");
    // --duration: ends by itself.
    let r = run(&["-u", &ws, "--json", "load", "-d", "1s", "-w", "2"])
        .expect(0)
        .json();
    assert_eq!(r["stopped_by"], "duration", "{r}");
    assert!(r["ok"].as_u64().unwrap() > 0, "{r}");
}

#[test]
fn bad_urls_unreachable_ports_and_silent_servers_have_their_exit_codes() {
    let bad = run(&["-u", "foo://127.0.0.1:1", "info"]).expect(2);
    assert!(
        bad.stderr.contains("unsupported URL scheme"),
        "{}",
        bad.stderr
    );
    let bad = run(&["-u", "not a url", "ping"]).expect(2);
    assert!(bad.stderr.contains("bad URL"), "{}", bad.stderr);
    let none = run(&["info"]).expect(2);
    assert!(none.stderr.contains("no Janus URL"), "{}", none.stderr);
    run(&["-u", "ws://127.0.0.1:1", "--timeout", "0s", "info"]).expect(2);
    run(&["load", "-w", "0"]).expect(2);
    run(&["no-such-command"]).expect(2);

    let port = free_port();
    for url in [
        format!("ws://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/janus"),
    ] {
        let down = run(&["-u", &url, "ping"]).expect(3);
        assert!(down.stderr.contains("cannot connect"), "{}", down.stderr);
        assert!(down.stderr.contains("refused"), "{}", down.stderr);
        let load = run(&["-u", &url, "load", "-n", "1"]).expect(3);
        assert!(load.stderr.contains(&url), "{}", load.stderr);
    }

    // A server that accepts connections and never answers: a timeout, within its bound.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", silent.local_addr().unwrap());
    let start = Instant::now();
    let out = run(&["-u", &url, "--timeout", "1s", "ping"]).expect(4);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        out.stderr.contains("timed out") || out.stderr.contains("no answer"),
        "{}",
        out.stderr
    );
    drop(silent);
}

#[test]
fn help_for_every_command_and_completions() {
    let help = run(&["--help"]).expect(0);
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
    assert!(
        help.stdout.contains("JANUS_ADMIN_SECRET"),
        "{}",
        help.stdout
    );
    // Every command and subcommand, found by walking the help's "Commands:" lists (so a
    // command added later is covered without being named here).
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = Vec::new();
    while let Some(cmd) = todo.pop() {
        let args: Vec<&str> = cmd.iter().map(String::as_str).chain(["--help"]).collect();
        let out = run(&args).expect(0);
        assert!(
            out.stdout.contains("Usage: janus-cli"),
            "{cmd:?}: {}",
            out.stdout
        );
        for sub in subcommands(&out.stdout) {
            todo.push(cmd.iter().cloned().chain([sub]).collect());
        }
        seen.push(cmd.join(" "));
    }
    for expected in [
        "info",
        "watch",
        "load",
        "admin sessions",
        "admin handle-info",
        "admin tokens disallow",
        "admin session-timeout",
    ] {
        assert!(
            seen.iter().any(|c| c == expected),
            "{expected} missing from {seen:?}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]).expect(0);
        assert!(out.stdout.contains("janus-cli"), "{shell}");
        assert!(out.stdout.contains("accept-sessions"), "{shell}");
    }
    run(&["completions", "tcsh"]).expect(2);
    let version = run(&["--version"]).expect(0);
    assert!(
        version.stdout.starts_with("janus-cli "),
        "{}",
        version.stdout
    );
}

/// The subcommands a help text lists under "Commands:" (without `help`, which clap adds).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Starts `load` (with `--progress`) and returns once it reported a completed lifecycle.
fn load_under_way(args: &[&str]) -> Child {
    let mut child = cli()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start janus-cli load");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Progress lines: "janus-cli: load: 1.0 s, 812 ok, 0 failed, 811.2/s".
    let started = Instant::now();
    let mut seen = Vec::new();
    while started.elapsed() < Duration::from_secs(20) {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            break;
        };
        let ok = line
            .split(", ")
            .find_map(|part| part.strip_suffix(" ok")?.parse::<u64>().ok());
        seen.push(line);
        if ok.is_some_and(|n| n > 0) {
            return child;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no progress from load within 20 s: {seen:?}");
}

#[test]
fn ctrl_c_ends_a_load_with_its_report() {
    let url = env("JANUS_WS_URL");
    let child = load_under_way(&[
        "-u",
        &url,
        "--json",
        "load",
        "-w",
        "2",
        "-d",
        "10m",
        "--progress",
    ]);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = wait(child, Duration::from_secs(30), "load after Ctrl-C");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(r["stopped_by"], "interrupted", "{r}");
    assert!(r["ok"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
}

#[test]
fn a_janus_killed_mid_load_ends_the_run_with_errors_by_kind() {
    let janus = OwnJanus::start("cli-kill");
    let url = janus.var("OWN_WS_URL").to_string();
    let child = load_under_way(&[
        "-u",
        &url,
        "--timeout",
        "2s",
        "--json",
        "load",
        "-w",
        "4",
        "-d",
        "12s",
        "--progress",
    ]);
    janus.script("kill");
    let killed = Instant::now();
    // The run ends at its deadline (12 s after its start; the kill comes once a lifecycle
    // completed, about 1 s in, or later on a busy machine), its last lifecycles failing
    // within a request timeout (2 s) of it.
    let out = wait(
        child,
        Duration::from_secs(40),
        "load against a killed Janus",
    );
    assert!(
        killed.elapsed() < Duration::from_secs(25),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(
        out.status.code(),
        Some(6),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert!(r["ok"].as_u64().unwrap() > 0, "{r}");
    assert!(r["failed"].as_u64().unwrap() > 0, "{r}");
    let count: u64 = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["kind"].as_str().unwrap();
            assert!(
                ["transport_closed", "timeout", "transport"].contains(&kind),
                "an error of kind {kind}: {r}"
            );
            e["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(count, r["failed"].as_u64().unwrap(), "{r}");
}
