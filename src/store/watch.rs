//! Following activations while serving: NOTIFY from PostGIS when available,
//! and a periodic check of every layer's active version in any case.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::postgis::{LayerEvent, LayerListener};
use super::version::VersionInfo;
use super::{Store, StoreError};
use crate::layer::Layer;

/// A layer whose active version changed, read back from the store.
#[derive(Debug, Clone)]
pub struct ActiveLayer {
    pub layer: Layer,
    pub version: VersionInfo,
}

/// Waits for changes of the active versions of a store's layers.
///
/// The periodic check also covers notices lost while the PostGIS connection
/// was down, and activations in a GeoPackage written by another process.
pub struct ActiveVersionWatcher {
    store: Store,
    /// The active version of each layer, as last returned to the caller.
    known: HashMap<String, u32>,
    listener: Option<LayerListener>,
    poll: Interval,
}

impl ActiveVersionWatcher {
    /// Starts watching `store`. `known` maps each layer name to the version
    /// the caller serves now; `poll` is the period of the full check.
    pub async fn new(
        store: Store,
        known: HashMap<String, u32>,
        poll: Duration,
    ) -> Result<Self, StoreError> {
        let listener = match &store {
            Store::Postgis(pg) => Some(pg.listen().await?),
            Store::GeoPackage(_) => None,
        };
        let mut poll = tokio::time::interval_at(Instant::now() + poll, poll);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ok(ActiveVersionWatcher {
            store,
            known,
            listener,
            poll,
        })
    }

    /// Waits until at least one layer has a new active version, and returns
    /// those layers, loaded. A layer new to the store counts as changed.
    pub async fn next_change(&mut self) -> Result<Vec<ActiveLayer>, StoreError> {
        loop {
            self.wait_for_event().await?;
            let changed = self.load_changes().await?;
            if !changed.is_empty() {
                return Ok(changed);
            }
        }
    }

    /// Waits for a notice or for the next periodic check.
    async fn wait_for_event(&mut self) -> Result<(), StoreError> {
        let Some(listener) = self.listener.as_mut() else {
            self.poll.tick().await;
            return Ok(());
        };
        tokio::select! {
            event = listener.recv() => {
                if event? == LayerEvent::Reconnected {
                    tracing::warn!("activation notices may have been lost; checking every layer");
                }
            }
            _ = self.poll.tick() => {}
        }
        Ok(())
    }

    /// Compares every layer's active version with the known one and loads
    /// those that differ.
    async fn load_changes(&mut self) -> Result<Vec<ActiveLayer>, StoreError> {
        let mut changed = Vec::new();
        for summary in self.store.layers().await? {
            let Some(active) = summary.active_version else {
                continue;
            };
            if self.known.get(&summary.name) == Some(&active) {
                continue;
            }
            let layer = self.store.load_version(&summary.name, active).await?;
            let version = self.store.version(&summary.name, active).await?;
            tracing::info!(
                layer = %summary.name,
                version = active,
                previous = ?self.known.get(&summary.name),
                "active layer version changed"
            );
            self.known.insert(summary.name, active);
            changed.push(ActiveLayer { layer, version });
        }
        Ok(changed)
    }
}
