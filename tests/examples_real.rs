//! The programs in `examples/` run against a real Janus, over every compiled-in transport,
//! so that they cannot rot: each must exit with status 0 and print its key lines.
//!
//! The example binaries are the ones cargo built next to this test (`cargo test` builds
//! the examples with the same features; `scripts/test` also runs `cargo build --examples`
//! first): `<target dir>/<profile>/examples/<name>`, found from this test's own path, so
//! `CARGO_TARGET_DIR`, `--release` and `--target` are all respected.
//!
//! Needs `scripts/test` (or `scripts/janus start main --prefix JANUS`) to export
//! `JANUS_WS_URL`/`JANUS_HTTP_URL`/`JANUS_UNIX_URL`, and for the admin example
//! `JANUS_ADMIN_WS_URL`/`JANUS_ADMIN_HTTP_URL`/`JANUS_ADMIN_UNIX_URL` and
//! `JANUS_ADMIN_SECRET`. Without them the tests print a loud
//! SKIPPED line, and fail when `CI` is set.

mod common;

use common::{env_or_skip, targets};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one example may run.
const LIMIT: Duration = Duration::from_secs(60);

/// The path of the example binary `name`, built by cargo beside this test.
fn example_binary(name: &str) -> PathBuf {
    // This test runs as <target dir>/<profile>/deps/examples_real-<hash>.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()));
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "example binary {} is missing: build it with `cargo build --examples --all-features` \
         (scripts/test does)",
        path.display()
    );
    path
}

/// Runs example `name` with `args`; fails the test unless it exits with status 0 within
/// [`LIMIT`]. Returns its standard output.
fn run_example(name: &str, args: &[&str]) -> String {
    let path = example_binary(name);
    let mut child = Command::new(&path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    // Read both pipes on threads, so that a chatty example never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("waiting for the example") {
            Some(status) => break Some(status),
            None if start.elapsed() > LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    match status {
        Some(s) if s.success() => stdout,
        Some(s) => panic!(
            "example {name} {args:?} exited with {s}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        ),
        None => panic!(
            "example {name} {args:?} still ran after {LIMIT:?} (killed)\n--- stdout\n{stdout}\
             --- stderr\n{stderr}"
        ),
    }
}

/// Fails unless every one of `expected` appears in `output`, in this order.
fn assert_lines_in_order(name: &str, output: &str, expected: &[&str]) {
    let mut rest = output;
    for want in expected {
        match rest.find(want) {
            Some(at) => rest = &rest[at + want.len()..],
            None => panic!(
                "example {name}: {want:?} missing (or out of order) in its output:\n{output}"
            ),
        }
    }
}

#[test]
fn videoroom_example_runs_over_every_transport() {
    for t in targets("JANUS") {
        let out = run_example("videoroom", &[&t.url]);
        assert_lines_in_order(
            "videoroom",
            &out,
            &[
                "room        ",
                " created",
                "alice       joined as ",
                "and published: Janus answered (1 m-line(s)), streams [audio opus]",
                "bob         joined as ",
                "alice       sees bob join",
                "subscriber  attached to feed ",
                "Janus offered 1 m-line(s)",
                "subscriber  answered with start: Janus accepted the answer",
                "alice       left the room",
                "(alice)",
                "subscriber  left",
                " destroyed",
                "bob         sees room ",
                "done        handles detached, session destroyed",
            ],
        );
        println!("videoroom over {}: ok", t.transport);
    }
}

#[test]
fn streaming_example_runs_over_every_transport() {
    for t in targets("JANUS") {
        let out = run_example("streaming", &[&t.url]);
        assert_lines_in_order(
            "streaming",
            &out,
            &[
                "mountpoint  ",
                " created, RTP in: audio on udp/",
                "watch       status preparing: Janus offered [audio opus/48000/2, video VP8/90000]",
                "start       status starting: Janus took the answer",
                "stop        ",
                " destroyed",
                "event       status stopped",
                "done        handle detached, session destroyed",
            ],
        );
        println!("streaming over {}: ok", t.transport);
    }
}

#[test]
fn custom_plugin_example_runs_over_every_transport() {
    for t in targets("JANUS") {
        let out = run_example("custom_plugin", &[&t.url]);
        assert_lines_in_order(
            "custom_plugin",
            &out,
            &["configured: ok", "an unknown request fails: ", "closed: "],
        );
        println!("custom_plugin over {}: ok", t.transport);
    }
}

#[test]
fn demo_example_runs_over_every_transport() {
    for t in targets("JANUS") {
        // The demo reads its URL from a config file: write one.
        let dir = std::env::temp_dir().join(format!(
            "janus-client-demo-{}-{}",
            std::process::id(),
            t.transport
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let config = dir.join("demo.toml");
        std::fs::write(&config, format!("url = {:?}\n", t.url)).expect("config file");
        let out = run_example("demo", &[config.to_str().expect("a UTF-8 path")]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_lines_in_order(
            "demo",
            &out,
            &[
                "info     Janus ",
                "attach   handle ",
                "message  echotest answered ",
                "hangup   done",
                "detach   done",
                "destroy  done",
            ],
        );
        println!("demo over {}: ok", t.transport);
    }
}

#[test]
fn admin_example_runs_over_every_transport() {
    let mut urls = Vec::new();
    if cfg!(feature = "ws") {
        urls.extend(env_or_skip("JANUS_ADMIN_WS_URL"));
    }
    if cfg!(feature = "http") {
        urls.extend(env_or_skip("JANUS_ADMIN_HTTP_URL"));
    }
    if cfg!(feature = "unix") {
        urls.extend(env_or_skip("JANUS_ADMIN_UNIX_URL"));
    }
    let Some(secret) = env_or_skip("JANUS_ADMIN_SECRET") else {
        return;
    };
    for url in urls {
        let out = run_example("admin", &[&url, &secret]);
        assert_lines_in_order("admin", &out, &[": Janus ", "status: ", "session(s)"]);
        println!("admin over {url}: ok");
    }
}

/// Real media: the echotest example against the Janus in its network namespace
/// (`JANUS_MEDIA`, see tests/media_real.rs), its peer on `JANUS_MEDIA_PEER_IP`.
#[test]
fn echotest_media_example_runs_over_every_transport() {
    let Some(ip) = env_or_skip("JANUS_MEDIA_PEER_IP") else {
        return;
    };
    for t in targets("JANUS_MEDIA") {
        let out = run_example("echotest_media", &[&t.url, &ip, "1"]);
        assert_lines_in_order(
            "echotest_media",
            &out,
            &[
                "webrtcup    ",
                " after the offer",
                "audio       ",
                " echoed back",
                "video       ",
                " echoed back",
                "round trip  min ",
            ],
        );
        print!("echotest_media over {}:\n{out}", t.transport);
    }
}
