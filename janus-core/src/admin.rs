//! The Janus Admin API: a typed client over any transport.
//!
//! The Admin API uses the same envelope as the Janus API, on its own endpoint (WebSocket
//! with the `janus-admin-protocol` subprotocol, or HTTP at `/admin`), with `admin_secret`
//! on every request except `info` and `ping`. Replies are `{"janus":"success", ...}` or a
//! core error (`{"janus":"error"}`, e.g. 403 for a wrong secret).
//!
//! [`AdminClient`] adds the secret itself and keeps it out of `Debug` output, logs and error
//! messages.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::options::Secret;
use crate::protocol::{plugin_error, HandleId, Incoming, ServerInfo, SessionId};
use crate::request::{Expect, RawRequest};

/// A client of the Janus Admin API.
///
/// It wraps a [`Client`] connected to an Admin API endpoint and adds `admin_secret` to
/// every request that needs it. The secret never shows in `Debug` output or in errors.
/// Cheap to clone; clones share the connection.
///
/// Methods map one to one onto Admin requests. Replies are typed where Janus fixes their
/// shape ([`list_sessions`](AdminClient::list_sessions), [`get_status`](AdminClient::get_status),
/// [`list_tokens`](AdminClient::list_tokens), ...) and left as JSON where the shape belongs
/// to a plugin or transport ([`handle_info`](AdminClient::handle_info),
/// [`message_plugin`](AdminClient::message_plugin), [`query_transport`](AdminClient::query_transport)).
/// Anything else goes through [`raw`](AdminClient::raw).
///
/// ```no_run
/// # use janus_core as janus_client;
/// # async fn demo(connector: std::sync::Arc<dyn janus_client::Connector>) -> Result<(), janus_client::Error> {
/// use janus_client::admin::AdminClient;
/// use janus_client::{Client, ClientOptions};
///
/// // `connector` points at the Admin endpoint, e.g. ws://127.0.0.1:7188 with the
/// // `janus-admin-protocol` subprotocol (the facade's `connect_admin` does all of this).
/// let options = ClientOptions { probe_server: false, ..Default::default() };
/// let admin = AdminClient::new(Client::connect(connector, options).await?, "janusoverlord".into());
///
/// let status = admin.get_status().await?;
/// println!("session timeout: {:?} s", status.session_timeout);
/// for session in admin.list_sessions().await? {
///     for handle in admin.list_handles(session).await? {
///         let info = admin.handle_info(session, handle, false).await?;
///         println!("{session}/{handle}: {}", info["plugin"]);
///     }
/// }
/// // A token that may only use the echotest plugin.
/// admin.add_token("t0k3n", Some(vec!["janus.plugin.echotest".into()])).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AdminClient {
    client: Client,
    secret: Secret,
}

/// The server's settings, as `get_status` reports them.
///
/// Each field is `None` when the server does not report it; `raw` keeps the whole object.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// Whether stored-token authentication is on.
    pub token_auth: Option<bool>,
    /// Seconds without a request before a session is destroyed (0: never).
    pub session_timeout: Option<u64>,
    /// Seconds a session outlives its transport, waiting to be claimed.
    pub reclaim_session_timeout: Option<u64>,
    /// Seconds to wait for trickle candidates.
    pub candidates_timeout: Option<u64>,
    /// The log level, 0 (none) to 7 (debug).
    pub log_level: Option<u8>,
    /// Whether log lines carry timestamps.
    pub log_timestamps: Option<bool>,
    /// Whether log lines are coloured.
    pub log_colors: Option<bool>,
    /// Whether lock debugging is on.
    pub locking_debug: Option<bool>,
    /// Whether reference-count debugging is on.
    pub refcount_debug: Option<bool>,
    /// Whether libnice debugging is on.
    pub libnice_debug: Option<bool>,
    /// Minimum NACK queue size, in milliseconds.
    pub min_nack_queue: Option<u64>,
    /// Whether NACK optimizations are on (Janus spells this key `nack-optimizations`).
    #[serde(rename = "nack-optimizations")]
    pub nack_optimizations: Option<bool>,
    /// Seconds without media before a `media` event says it stopped.
    pub no_media_timer: Option<u64>,
    /// Lost packets per second that trigger a `slowlink` event (0: off).
    pub slowlink_threshold: Option<u64>,
    /// The whole `status` object.
    #[serde(skip)]
    pub raw: Value,
}

/// A stored token and the plugins it may attach to, from [`AdminClient::list_tokens`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The token (redacted in `Debug`; use [`Secret::expose`]).
    pub token: Secret,
    /// The plugin package names it may use.
    pub allowed_plugins: Vec<String>,
}

/// Where a `start_pcap` capture goes, and how much of each packet it keeps.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::admin::Pcap;
/// let pcap = Pcap::new().folder("/tmp/captures").filename("call.pcap").truncate(128);
/// assert_eq!(pcap.truncate, Some(128));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pcap {
    /// A folder on the server's machine (Janus' working directory when `None`).
    pub folder: Option<String>,
    /// The file name (Janus makes one up when `None`).
    pub filename: Option<String>,
    /// Keep at most this many bytes of each packet (`None` or 0: whole packets).
    pub truncate: Option<u32>,
}

impl Pcap {
    /// Janus' defaults: its working directory, a generated name, whole packets.
    pub fn new() -> Self {
        Pcap::default()
    }

    /// Sets the folder (on the server's machine).
    pub fn folder(mut self, folder: impl Into<String>) -> Self {
        self.folder = Some(folder.into());
        self
    }

    /// Sets the file name.
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// Keeps at most `bytes` of each packet.
    pub fn truncate(mut self, bytes: u32) -> Self {
        self.truncate = Some(bytes);
        self
    }
}

impl AdminClient {
    /// Wraps a client connected to an Admin API endpoint; every request that needs it will
    /// carry `secret` as `admin_secret`.
    ///
    /// The client should be made with `probe_server: false` and no `api_secret`/`token`
    /// (the Admin API ignores them); the facade's `connect_admin` does that.
    pub fn new(client: Client, secret: Secret) -> Self {
        AdminClient { client, secret }
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Closes the connection.
    pub async fn close(&self) {
        self.client.close().await
    }

    /// Sends any Admin request and returns Janus' whole reply: the escape hatch for requests
    /// without a method here (`set_locking_debug`, `query_eventhandler`, `loops_info`, ...).
    ///
    /// `admin_secret` is added unless the request is `info` or `ping`, or already carries
    /// one. A Janus error whose text contains the secret comes back with it masked.
    ///
    /// ```no_run
    /// # use janus_core as janus_client;
    /// # async fn demo(admin: janus_client::admin::AdminClient) -> Result<(), janus_client::Error> {
    /// use janus_client::{Expect, RawRequest};
    /// let reply = admin
    ///     .raw(RawRequest::new("set_no_media_timer", Expect::Success).field("no_media_timer", 2))
    ///     .await?;
    /// assert_eq!(reply.body["no_media_timer"], 2);
    /// # Ok(()) }
    /// ```
    pub async fn raw(&self, mut req: RawRequest) -> Result<Incoming, Error> {
        let open = !req.verb.needs_auth();
        if !open && !req.body.contains_key("admin_secret") {
            req.body.insert(
                "admin_secret".into(),
                Value::String(self.secret.expose().to_string()),
            );
        }
        self.client
            .raw_request(req)
            .await
            .map_err(|e| scrub(e, &[self.secret.expose()]))
    }

    async fn success(&self, req: RawRequest, secrets: &[&str]) -> Result<Incoming, Error> {
        self.raw(req).await.map_err(|e| scrub(e, secrets))
    }

    /// `info`: the server's version, plugins and settings (no secret needed).
    pub async fn info(&self) -> Result<ServerInfo, Error> {
        let msg = self
            .raw(RawRequest::new("info", Expect::ServerInfo))
            .await?;
        Ok(ServerInfo::from_incoming(msg))
    }

    /// `ping`: answered with `pong` (no secret needed).
    pub async fn ping(&self) -> Result<(), Error> {
        self.raw(RawRequest::new("ping", Expect::Pong))
            .await
            .map(drop)
    }

    /// `get_status`: the server's current settings.
    pub async fn get_status(&self) -> Result<Status, Error> {
        let msg = self
            .success(RawRequest::new("get_status", Expect::Success), &[])
            .await?;
        let raw = msg
            .body
            .get("status")
            .cloned()
            .ok_or_else(|| missing("get_status", "status"))?;
        let mut status: Status = decode("get_status", "status", raw.clone())?;
        status.raw = raw;
        Ok(status)
    }

    /// `list_sessions`: the ids of every session on the server.
    pub async fn list_sessions(&self) -> Result<Vec<SessionId>, Error> {
        let msg = self
            .success(RawRequest::new("list_sessions", Expect::Success), &[])
            .await?;
        take(msg, "list_sessions", "sessions")
    }

    /// `list_handles`: the ids of a session's handles (Janus answers 458 for an unknown
    /// session).
    pub async fn list_handles(&self, session: SessionId) -> Result<Vec<HandleId>, Error> {
        let msg = self
            .success(
                RawRequest::new("list_handles", Expect::Success).session(session),
                &[],
            )
            .await?;
        take(msg, "list_handles", "handles")
    }

    /// `handle_info`: everything Janus knows about a handle (`plugin`, `plugin_specific`,
    /// `flags`, `sdps`, `streams`, ...), as the `info` object of the reply. With
    /// `plugin_only`, only the session/handle basics and the plugin's part.
    pub async fn handle_info(
        &self,
        session: SessionId,
        handle: HandleId,
        plugin_only: bool,
    ) -> Result<Value, Error> {
        let mut req = RawRequest::new("handle_info", Expect::Success)
            .session(session)
            .handle(handle);
        if plugin_only {
            req = req.field("plugin_only", true);
        }
        let msg = self.success(req, &[]).await?;
        take(msg, "handle_info", "info")
    }

    /// `destroy_session`: destroys a session and its handles, whoever owns it.
    pub async fn destroy_session(&self, session: SessionId) -> Result<(), Error> {
        self.success(
            RawRequest::new("destroy_session", Expect::Success).session(session),
            &[],
        )
        .await
        .map(drop)
    }

    /// `detach_handle`: detaches a handle, whoever owns it.
    pub async fn detach_handle(&self, session: SessionId, handle: HandleId) -> Result<(), Error> {
        self.success(
            RawRequest::new("detach_handle", Expect::Success)
                .session(session)
                .handle(handle),
            &[],
        )
        .await
        .map(drop)
    }

    /// `hangup_webrtc`: closes a handle's PeerConnection; the handle stays attached.
    pub async fn hangup_webrtc(&self, session: SessionId, handle: HandleId) -> Result<(), Error> {
        self.success(
            RawRequest::new("hangup_webrtc", Expect::Success)
                .session(session)
                .handle(handle),
            &[],
        )
        .await
        .map(drop)
    }

    /// `set_session_timeout`: the server-wide session timeout in seconds (0 disables it),
    /// for existing and new sessions. Returns the value Janus now uses.
    pub async fn set_session_timeout(&self, seconds: u64) -> Result<u64, Error> {
        let msg = self
            .success(
                RawRequest::new("set_session_timeout", Expect::Success).field("timeout", seconds),
                &[],
            )
            .await?;
        take(msg, "set_session_timeout", "timeout")
    }

    /// `set_log_level`: 0 (none), 1 (fatal), 2 (error), 3 (warning), 4 (info, Janus'
    /// default), 5 (verbose), 6 (huge) or 7 (debug); anything else is error 467. Returns the
    /// level Janus now uses.
    pub async fn set_log_level(&self, level: u8) -> Result<u8, Error> {
        let msg = self
            .success(
                RawRequest::new("set_log_level", Expect::Success).field("level", level),
                &[],
            )
            .await?;
        take(msg, "set_log_level", "level")
    }

    /// `accept_new_sessions`: with `false`, `create` fails with 472 until it is set back
    /// to `true`. Existing sessions are not affected.
    pub async fn accept_new_sessions(&self, accept: bool) -> Result<(), Error> {
        self.success(
            RawRequest::new("accept_new_sessions", Expect::Success).field("accept", accept),
            &[],
        )
        .await
        .map(drop)
    }

    /// `message_plugin`: sends `request` to a plugin outside any handle (e.g. videoroom
    /// `{"request":"list"}`) and returns the plugin's `response`.
    ///
    /// `error_code`/`error` in the response becomes [`ErrorKind::Plugin`]; an unknown
    /// plugin is core error 460.
    pub async fn message_plugin(
        &self,
        plugin: &str,
        request: impl Into<Value>,
    ) -> Result<Value, Error> {
        let msg = self
            .success(
                RawRequest::new("message_plugin", Expect::Success)
                    .field("plugin", plugin)
                    .field("request", request.into()),
                &[],
            )
            .await?;
        response(msg, "message_plugin")
    }

    /// `query_transport`: sends `request` to a transport plugin (e.g.
    /// `janus.transport.websockets` with `{"request":"connections"}`) and returns its
    /// `response`.
    ///
    /// `error_code`/`error` in the response (411 for an unknown request) becomes
    /// [`ErrorKind::Plugin`]; an unknown transport is core error 460.
    pub async fn query_transport(
        &self,
        transport: &str,
        request: impl Into<Value>,
    ) -> Result<Value, Error> {
        let msg = self
            .success(
                RawRequest::new("query_transport", Expect::Success)
                    .field("transport", transport)
                    .field("request", request.into()),
                &[],
            )
            .await?;
        response(msg, "query_transport")
    }

    /// `add_token`: stores a token for token authentication, allowed to use `plugins`
    /// (every plugin when `None`). Adding a token that exists adds to its plugins. Returns
    /// the plugins the token may now use.
    ///
    /// Fails with 490 "Stored-Token based authentication disabled" when the server runs
    /// without `token_auth`.
    pub async fn add_token(
        &self,
        token: impl Into<Secret>,
        plugins: Option<Vec<String>>,
    ) -> Result<Vec<String>, Error> {
        let token = token.into();
        let mut req = RawRequest::new("add_token", Expect::Success).field("token", token.expose());
        if let Some(plugins) = plugins {
            req = req.field("plugins", plugins);
        }
        let msg = self.success(req, &[token.expose()]).await?;
        data_plugins(msg, "add_token")
    }

    /// `list_tokens`: every stored token and the plugins it may use.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        #[derive(Deserialize)]
        struct Raw {
            token: String,
            #[serde(default)]
            allowed_plugins: Vec<String>,
        }
        let msg = self
            .success(RawRequest::new("list_tokens", Expect::Success), &[])
            .await?;
        let tokens = msg
            .body
            .get("data")
            .and_then(|d| d.get("tokens"))
            .cloned()
            .ok_or_else(|| missing("list_tokens", "data.tokens"))?;
        let tokens: Vec<Raw> = decode("list_tokens", "data.tokens", tokens)?;
        Ok(tokens
            .into_iter()
            .map(|t| TokenInfo {
                token: Secret::new(t.token),
                allowed_plugins: t.allowed_plugins,
            })
            .collect())
    }

    /// `allow_token`: lets a stored token use more plugins (470 for an unknown token, 467
    /// for an unknown plugin or an empty list). Returns the plugins it may now use.
    pub async fn allow_token(
        &self,
        token: impl Into<Secret>,
        plugins: Vec<String>,
    ) -> Result<Vec<String>, Error> {
        self.token_plugins("allow_token", token.into(), plugins)
            .await
    }

    /// `disallow_token`: stops a stored token from using some plugins. Returns the plugins
    /// it may still use.
    pub async fn disallow_token(
        &self,
        token: impl Into<Secret>,
        plugins: Vec<String>,
    ) -> Result<Vec<String>, Error> {
        self.token_plugins("disallow_token", token.into(), plugins)
            .await
    }

    async fn token_plugins(
        &self,
        janus: &'static str,
        token: Secret,
        plugins: Vec<String>,
    ) -> Result<Vec<String>, Error> {
        let req = RawRequest::new(janus, Expect::Success)
            .field("token", token.expose())
            .field("plugins", plugins);
        let msg = self.success(req, &[token.expose()]).await?;
        data_plugins(msg, janus)
    }

    /// `remove_token`: forgets a stored token; requests with it fail with 403 from then on
    /// (Janus 1.1.2 answers 490 "Error removing token" for an unknown one).
    pub async fn remove_token(&self, token: impl Into<Secret>) -> Result<(), Error> {
        let token = token.into();
        self.success(
            RawRequest::new("remove_token", Expect::Success).field("token", token.expose()),
            &[token.expose()],
        )
        .await
        .map(drop)
    }

    /// `start_pcap`: captures a handle's unencrypted media to a pcap file on the server's
    /// machine. Janus answers 490 "pcap already started" while a capture runs.
    ///
    /// Janus 1.1.2 accepts a folder it cannot write to without complaint: check the file.
    pub async fn start_pcap(
        &self,
        session: SessionId,
        handle: HandleId,
        pcap: Pcap,
    ) -> Result<(), Error> {
        let mut req = RawRequest::new("start_pcap", Expect::Success)
            .session(session)
            .handle(handle);
        if let Some(folder) = pcap.folder {
            req = req.field("folder", folder);
        }
        if let Some(filename) = pcap.filename {
            req = req.field("filename", filename);
        }
        if let Some(truncate) = pcap.truncate {
            req = req.field("truncate", truncate);
        }
        self.success(req, &[]).await.map(drop)
    }

    /// `stop_pcap`: stops a handle's capture (490 "Capture not started" when none runs).
    pub async fn stop_pcap(&self, session: SessionId, handle: HandleId) -> Result<(), Error> {
        self.success(
            RawRequest::new("stop_pcap", Expect::Success)
                .session(session)
                .handle(handle),
            &[],
        )
        .await
        .map(drop)
    }
}

fn missing(request: &str, field: &str) -> Error {
    Error::protocol(format!("`{request}` reply has no `{field}`"))
}

fn decode<T: DeserializeOwned>(request: &str, field: &str, value: Value) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error::protocol(format!("`{request}` reply: bad `{field}`: {e}")))
}

/// Takes one top-level field of a reply.
fn take<T: DeserializeOwned>(mut msg: Incoming, request: &str, field: &str) -> Result<T, Error> {
    let value = msg
        .body
        .remove(field)
        .ok_or_else(|| missing(request, field))?;
    decode(request, field, value)
}

/// `data.plugins` of a token reply.
fn data_plugins(mut msg: Incoming, request: &str) -> Result<Vec<String>, Error> {
    let plugins = match msg.body.remove("data") {
        Some(Value::Object(mut data)) => data.remove("plugins"),
        _ => None,
    }
    .ok_or_else(|| missing(request, "data.plugins"))?;
    decode(request, "data.plugins", plugins)
}

/// `response` of a `message_plugin`/`query_transport` reply, with its error turned into one.
fn response(mut msg: Incoming, request: &str) -> Result<Value, Error> {
    let response = msg
        .body
        .remove("response")
        .ok_or_else(|| missing(request, "response"))?;
    match plugin_error(&response) {
        Some(err) => Err(err),
        None => Ok(response),
    }
}

/// Masks every occurrence of the secrets in an error's text.
fn scrub(err: Error, secrets: &[&str]) -> Error {
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    let leaks = |s: &str| secrets.iter().any(|secret| s.contains(secret));
    if !leaks(&err.to_string()) {
        return err;
    }
    let mask = |s: &str| {
        secrets
            .iter()
            .fold(s.to_string(), |acc, secret| acc.replace(secret, "***"))
    };
    let kind = match err.kind().clone() {
        ErrorKind::Janus { code, reason } => ErrorKind::Janus {
            code,
            reason: mask(&reason),
        },
        ErrorKind::Plugin { code, reason } => ErrorKind::Plugin {
            code,
            reason: mask(&reason),
        },
        ErrorKind::Transport { reason, status } => ErrorKind::Transport {
            reason: mask(&reason),
            status,
        },
        ErrorKind::TransportClosed { reason, retry_safe } => ErrorKind::TransportClosed {
            reason: mask(&reason),
            retry_safe,
        },
        ErrorKind::SessionGone { reason } => ErrorKind::SessionGone {
            reason: mask(&reason),
        },
        ErrorKind::HandleGone { reason } => ErrorKind::HandleGone {
            reason: mask(&reason),
        },
        ErrorKind::Protocol(m) => ErrorKind::Protocol(mask(&m)),
        ErrorKind::Config(m) => ErrorKind::Config(mask(&m)),
        ErrorKind::Limit {
            option,
            limit,
            reason,
        } => ErrorKind::Limit {
            option,
            limit,
            reason: mask(&reason),
        },
        other @ ErrorKind::Timeout { .. } => other,
    };
    Error::new(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrub_masks_secrets_in_every_text() {
        let e = scrub(Error::janus(470, "Token s3cr3t not found"), &["s3cr3t"]);
        assert_eq!(e.janus_code(), Some(470));
        assert_eq!(e.to_string(), "Janus error 470: Token *** not found");
        let e = scrub(Error::protocol("nothing to hide"), &["s3cr3t", ""]);
        assert_eq!(e.to_string(), "protocol error: nothing to hide");
    }

    #[test]
    fn status_reads_janus_1_1_2_keys() {
        let raw = json!({"token_auth":false,"session_timeout":60,"reclaim_session_timeout":0,
            "candidates_timeout":45,"log_level":4,"log_timestamps":true,"log_colors":false,
            "locking_debug":false,"refcount_debug":false,"libnice_debug":false,
            "min_nack_queue":200,"nack-optimizations":false,"no_media_timer":1,
            "slowlink_threshold":0,"brand_new":1});
        let s: Status = decode("get_status", "status", raw).unwrap();
        assert_eq!(s.session_timeout, Some(60));
        assert_eq!(s.log_level, Some(4));
        assert_eq!(s.nack_optimizations, Some(false));
        let empty: Status = decode("get_status", "status", json!({})).unwrap();
        assert_eq!(empty.session_timeout, None);
    }

    #[test]
    fn replies_are_read_or_reported() {
        let msg = Incoming::from_value(json!({"janus":"success","sessions":[1,2]})).unwrap();
        let ids: Vec<SessionId> = take(msg, "list_sessions", "sessions").unwrap();
        assert_eq!(ids, vec![SessionId(1), SessionId(2)]);
        let msg = Incoming::from_value(json!({"janus":"success"})).unwrap();
        let e = take::<Vec<SessionId>>(msg, "list_sessions", "sessions").unwrap_err();
        assert!(e.to_string().contains("sessions"), "{e}");

        let msg = Incoming::from_value(
            json!({"janus":"success","response":{"error_code":411,"error":"Unknown request 'x'"}}),
        )
        .unwrap();
        assert_eq!(
            response(msg, "query_transport").unwrap_err().plugin_code(),
            Some(411)
        );
    }

    #[test]
    fn token_info_hides_the_token() {
        let t = TokenInfo {
            token: Secret::new("tok-123"),
            allowed_plugins: vec!["janus.plugin.echotest".into()],
        };
        assert!(!format!("{t:?}").contains("tok-123"));
    }
}
