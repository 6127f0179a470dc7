//! The Janus Admin API.

use crate::client::Client;
use crate::options::Secret;

/// A client of the Janus Admin API (placeholder being filled in).
#[derive(Clone, Debug)]
pub struct AdminClient {
    client: Client,
    secret: Secret,
}

impl AdminClient {
    /// Wraps a client connected to an Admin API endpoint.
    pub fn new(client: Client, secret: Secret) -> Self {
        AdminClient { client, secret }
    }

    /// Lists session ids.
    pub async fn list_sessions(&self) -> Result<Vec<u64>, crate::Error> {
        let _ = (&self.client, &self.secret);
        Ok(Vec::new())
    }
}
