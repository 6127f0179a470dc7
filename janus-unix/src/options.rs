//! Options of the Unix socket transport, and their checks.

use janus_core::{check_duration, check_optional_duration, Error};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The most Janus' pfunix transport reads in one packet: its read buffer is 8 KiB
/// (`janus_pfunix.c`, Janus 1.1.2). A longer request is truncated and dropped by Janus with
/// no reply, so the client refuses it before sending.
pub const JANUS_READ_BUFFER: usize = 8192;

/// The socket type of Janus' pfunix socket (its `general.type`, or `admin.admin_type` for
/// the Admin API socket); the client must use the same.
///
/// ```
/// use janus_unix::{SocketType, UnixOptions};
/// let o: UnixOptions = serde_json::from_str(r#"{"socket_type": "dgram"}"#).unwrap();
/// assert_eq!(o.socket_type, SocketType::Dgram);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketType {
    /// `SOCK_SEQPACKET` (Janus' default): one connection per client, like a WebSocket.
    #[default]
    Seqpacket,
    /// `SOCK_DGRAM`: the client binds a socket file of its own (in
    /// [`UnixOptions::client_dir`]) for Janus to answer to, and removes it when it closes.
    /// There is no connection to lose: Janus keeps the sessions until they time out.
    Dgram,
}

/// Unix socket options. Deserializes from TOML or JSON with durations like `"5s"`.
///
/// [`validate`](UnixOptions::validate) checks every field against the bounds written on it;
/// [`UnixConnector::new`](crate::UnixConnector::new) calls it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnixOptions {
    /// The socket type Janus' pfunix transport was configured with (`"seqpacket"`, the
    /// default, or `"dgram"`).
    pub socket_type: SocketType,
    /// Where the client creates its own socket file with `socket_type = "dgram"` (Janus
    /// sends its answers to it; Janus must be allowed to write there). `None`: the system's
    /// temporary directory. The file (`janus-client-<pid>-<n>.sock`) is removed when the
    /// connection closes. The whole path must fit in 107 bytes: the directory in at most
    /// [`UnixOptions::MAX_CLIENT_DIR_BYTES`].
    pub client_dir: Option<PathBuf>,
    /// The largest request sent, in bytes of JSON. A longer one fails at once with a limit
    /// error naming `unix.max_request_bytes` and is never sent: Janus reads at most
    /// [`JANUS_READ_BUFFER`] (8,192) bytes of a packet and silently drops a longer request.
    /// From 1 to 8,192 (the default).
    pub max_request_bytes: usize,
    /// The largest message accepted from Janus; a longer packet is dropped (its tail is
    /// lost anyway) and counted as malformed. A buffer of this size is held per connection.
    /// From 1 byte to 64 MiB ([`UnixOptions::MAX_MESSAGE_BYTES`]); default 1 MiB.
    pub max_message_bytes: usize,
    /// How long one request may wait for room in the socket. A socket that takes nothing for
    /// this long means Janus stopped reading: the connection is closed and the client
    /// reconnects. More than zero, at most 1 year; default 5 s.
    #[serde(with = "humantime_serde")]
    pub send_timeout: Duration,
    /// Send a Janus `ping` of the transport's own when nothing has come from Janus for this
    /// long; `None` disables it. A local socket tells when Janus exits, but not when it
    /// hangs: a hung Janus is noticed within `probe_interval + probe_timeout`. When set: more
    /// than zero, at most 1 year; default 2.5 s.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Option<Duration>,
    /// Without any packet from Janus this long after a probe, the connection is dead (the
    /// client reconnects). More than zero, at most 1 year (checked even without probes);
    /// default 5 s.
    #[serde(with = "humantime_serde")]
    pub probe_timeout: Duration,
}

impl Default for UnixOptions {
    fn default() -> Self {
        UnixOptions {
            socket_type: SocketType::Seqpacket,
            client_dir: None,
            max_request_bytes: JANUS_READ_BUFFER,
            max_message_bytes: 1 << 20,
            send_timeout: Duration::from_secs(5),
            probe_interval: Some(Duration::from_millis(2500)),
            probe_timeout: Duration::from_secs(5),
        }
    }
}

impl UnixOptions {
    /// The largest [`max_message_bytes`](UnixOptions::max_message_bytes) accepted: 64 MiB.
    pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

    /// The longest [`client_dir`](UnixOptions::client_dir) accepted, in bytes: room is left
    /// for the file name in the kernel's 107-byte socket path.
    pub const MAX_CLIENT_DIR_BYTES: usize = 64;

    /// Checks every option; the error names it as written in a configuration file
    /// (`unix.max_request_bytes`, ...). [`UnixConnector::new`](crate::UnixConnector::new)
    /// calls it.
    ///
    /// ```
    /// use janus_unix::UnixOptions;
    /// let o = UnixOptions { max_request_bytes: 10_000, ..Default::default() };
    /// assert!(o.validate().unwrap_err().to_string().contains("unix.max_request_bytes"));
    /// assert!(UnixOptions::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_request_bytes == 0 || self.max_request_bytes > JANUS_READ_BUFFER {
            return Err(Error::config(format!(
                "unix.max_request_bytes must be between 1 and {JANUS_READ_BUFFER} (Janus' \
                 pfunix transport reads at most 8 KiB per packet and drops longer requests \
                 silently), got {}",
                self.max_request_bytes
            )));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > Self::MAX_MESSAGE_BYTES {
            return Err(Error::config(format!(
                "unix.max_message_bytes must be between 1 and {} (64 MiB), got {}",
                Self::MAX_MESSAGE_BYTES,
                self.max_message_bytes
            )));
        }
        check_duration("unix.send_timeout", self.send_timeout)?;
        check_optional_duration("unix.probe_interval", self.probe_interval, "probes")?;
        check_duration("unix.probe_timeout", self.probe_timeout)?;
        if let Some(dir) = &self.client_dir {
            let len = dir.as_os_str().len();
            if len == 0 || len > Self::MAX_CLIENT_DIR_BYTES {
                return Err(Error::config(format!(
                    "unix.client_dir must be a path of 1 to {} bytes (the socket file's whole \
                     path must fit in 107 bytes), got {len} bytes",
                    Self::MAX_CLIENT_DIR_BYTES
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_and_named() {
        for (o, name) in [
            (
                UnixOptions {
                    max_request_bytes: 0,
                    ..Default::default()
                },
                "unix.max_request_bytes",
            ),
            (
                UnixOptions {
                    max_request_bytes: 8193,
                    ..Default::default()
                },
                "unix.max_request_bytes",
            ),
            (
                UnixOptions {
                    max_message_bytes: 0,
                    ..Default::default()
                },
                "unix.max_message_bytes",
            ),
            (
                UnixOptions {
                    max_message_bytes: (64 << 20) + 1,
                    ..Default::default()
                },
                "unix.max_message_bytes",
            ),
            (
                UnixOptions {
                    send_timeout: Duration::ZERO,
                    ..Default::default()
                },
                "unix.send_timeout",
            ),
            (
                UnixOptions {
                    probe_interval: Some(Duration::ZERO),
                    ..Default::default()
                },
                "unix.probe_interval must not be zero",
            ),
            (
                UnixOptions {
                    probe_timeout: Duration::ZERO,
                    ..Default::default()
                },
                "unix.probe_timeout",
            ),
            (
                UnixOptions {
                    client_dir: Some(PathBuf::new()),
                    ..Default::default()
                },
                "unix.client_dir",
            ),
            (
                UnixOptions {
                    client_dir: Some(PathBuf::from("/".repeat(65))),
                    ..Default::default()
                },
                "unix.client_dir",
            ),
            (
                UnixOptions {
                    send_timeout: Duration::from_secs(u64::MAX / 4),
                    ..Default::default()
                },
                "unix.send_timeout",
            ),
        ] {
            let e = o.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn deserializes_with_durations() {
        let o: UnixOptions = serde_json::from_str(r#"{"send_timeout":"2s"}"#).unwrap();
        assert_eq!(o.send_timeout, Duration::from_secs(2));
        assert_eq!(o.max_request_bytes, 8192);
        assert!(serde_json::from_str::<UnixOptions>(r#"{"nope":1}"#).is_err());
        assert!(serde_json::from_str::<UnixOptions>(r#"{"socket_type":"stream"}"#).is_err());
        let o: UnixOptions =
            serde_json::from_str(r#"{"socket_type":"dgram","client_dir":"/run/me"}"#).unwrap();
        assert_eq!(o.socket_type, SocketType::Dgram);
        assert!(o.validate().is_ok());
    }
}
