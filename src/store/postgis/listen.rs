//! Activation notices from every instance sharing the database.

use sqlx::postgres::{PgListener, PgPool};

use super::NOTIFY_CHANNEL;
use crate::store::StoreError;

/// An event received by a [`LayerListener`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent {
    /// A version of this layer was activated.
    Activated(String),
    /// The connection was lost and opened again: notices sent meanwhile
    /// are lost, so every layer must be checked.
    Reconnected,
}

/// A `LISTEN repere_layers` connection.
pub struct LayerListener {
    listener: PgListener,
}

impl LayerListener {
    pub(super) async fn connect(pool: &PgPool) -> Result<Self, StoreError> {
        let listen_error = |source| StoreError::Database {
            layer: "*".to_owned(),
            operation: "listen for activations of",
            source,
        };
        let mut listener = PgListener::connect_with(pool).await.map_err(listen_error)?;
        listener
            .listen(NOTIFY_CHANNEL)
            .await
            .map_err(listen_error)?;
        Ok(LayerListener { listener })
    }

    /// Waits for the next activation. After [`LayerEvent::Reconnected`],
    /// the next call connects again.
    pub async fn recv(&mut self) -> Result<LayerEvent, StoreError> {
        let notification =
            self.listener
                .try_recv()
                .await
                .map_err(|source| StoreError::Database {
                    layer: "*".to_owned(),
                    operation: "receive activations of",
                    source,
                })?;
        Ok(match notification {
            Some(notification) => LayerEvent::Activated(notification.payload().to_owned()),
            None => LayerEvent::Reconnected,
        })
    }
}
