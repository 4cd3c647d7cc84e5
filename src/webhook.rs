//! Webhooks: room and participant events POSTed as JSON to one configured URL, signed with
//! HMAC-SHA256, retried with exponential back-off.
//!
//! Invariants: [`Webhooks::send`] never blocks and never fails the caller (a room actor); a full
//! queue drops the event with a warning. Deliveries run in their own tasks, at most
//! `MAX_IN_FLIGHT` at once, and stop when the server is cancelled.
//!
//! Signature: header `Tessera-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
//! HMAC-SHA256(secret, "<t>.<body>"). Receivers recompute it and should refuse old `t`s.

use crate::config::WebhookConfig;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

const QUEUE: usize = 1024;
const MAX_IN_FLIGHT: usize = 16;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One event as delivered (the JSON body).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// `roomStarted`, `roomEnded`, `participantJoined`, `participantLeft`, `recordingStarted`,
    /// `recordingFinished` or `recordingFailed`.
    pub event: &'static str,
    /// Unique per event; the same on every retry (deduplicate on it).
    pub id: String,
    pub created_at: String,
    pub room: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With `recordingStarted`, `recordingFinished` and `recordingFailed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<serde_json::Value>,
}

impl WebhookEvent {
    pub fn new(event: &'static str, room: serde_json::Value) -> Self {
        Self {
            event,
            id: crate::ids::random_id(20),
            created_at: crate::time::format_unix(crate::time::now_unix()),
            room,
            participant: None,
            reason: None,
            recording: None,
        }
    }
}

/// The `Tessera-Signature` header value for `body` sent at `t`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A cheap handle for sending events; a no-op when no webhook is configured.
#[derive(Clone, Default)]
pub struct Webhooks {
    tx: Option<mpsc::Sender<WebhookEvent>>,
}

impl Webhooks {
    /// Starts the delivery task (when configured).
    pub fn start(cfg: Option<WebhookConfig>, cancel: CancellationToken) -> Self {
        let Some(cfg) = cfg else { return Self::default() };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(deliver_all(Arc::new(cfg), rx, cancel));
        Self { tx: Some(tx) }
    }

    pub fn send(&self, ev: WebhookEvent) {
        let Some(tx) = &self.tx else { return };
        if let Err(e) = tx.try_send(ev) {
            tracing::warn!(error = %e, "webhook queue full: event dropped");
        }
    }
}

async fn deliver_all(cfg: Arc<WebhookConfig>, mut rx: mpsc::Receiver<WebhookEvent>, cancel: CancellationToken) {
    let client = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build() {
        Ok(c) => c,
        Err(e) => return tracing::error!(error = %e, "webhooks disabled: no HTTP client"),
    };
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => return,
            ev = rx.recv() => match ev { Some(ev) => ev, None => return },
        };
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let (client, cfg, cancel) = (client.clone(), cfg.clone(), cancel.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = deliver(&client, &cfg, &ev) => {}
            }
            drop(permit);
        });
    }
}

async fn deliver(client: &reqwest::Client, cfg: &WebhookConfig, ev: &WebhookEvent) {
    let Ok(body) = serde_json::to_vec(ev) else { return };
    let mut delay = Duration::from_millis(cfg.initial_backoff_ms);
    for attempt in 1..=cfg.max_attempts {
        let t = crate::time::now_unix();
        let result = client
            .post(&cfg.url)
            .header("content-type", "application/json")
            .header("tessera-event", ev.event)
            .header("tessera-delivery", &ev.id)
            .header("tessera-signature", signature(cfg.secret.as_bytes(), t, &body))
            .body(body.clone())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(event = ev.event, attempt, "webhook delivered");
                return;
            }
            Ok(r) => tracing::info!(event = ev.event, attempt, status = %r.status(), "webhook refused; will retry"),
            Err(e) => tracing::info!(event = ev.event, attempt, error = %e, "webhook failed; will retry"),
        }
        if attempt < cfg.max_attempts {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(300));
        }
    }
    tracing::warn!(event = ev.event, id = %ev.id, attempts = cfg.max_attempts, "webhook given up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_and_body() {
        // Reference computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        let s = signature(b"key", 1_700_000_000, b"{}");
        assert_eq!(s, "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae");
        assert_ne!(s, signature(b"other", 1_700_000_000, b"{}"));
        assert_ne!(s, signature(b"key", 1_700_000_001, b"{}"));
    }
}
