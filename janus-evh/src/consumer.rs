//! A broker consumer of a [`Receiver`](crate::Receiver) (MQTT or RabbitMQ).

use crate::task::Task;

/// A subscription to a broker that Janus' `mqttevh` or `rabbitmqevh` publishes to.
///
/// It consumes until [`stop`](Consumer::stop) or until dropped, reconnecting (and
/// subscribing again) by itself when the broker goes away.
#[derive(Debug)]
pub struct Consumer {
    endpoint: String,
    task: Task,
}

impl Consumer {
    pub(crate) fn new(endpoint: String, task: Task) -> Consumer {
        Consumer { endpoint, task }
    }

    /// The broker and what it consumes there, for logs (no credentials).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops consuming, and waits until the connection is closed.
    pub async fn stop(self) {
        self.task.stop().await;
    }
}
