//! A thread that publishes events handed to it from where the store must not be written:
//! the libp2p event loop (peers coming and going). Events are published in the order they
//! are sent; the sender never waits (a full queue drops the event with a warning: these are
//! the node's own notices, not data).

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use guts_store::Store;

use super::{Event, Hub};

/// Events waiting at most.
const QUEUE: usize = 4096;

/// The sending side; the thread ends when every clone is dropped.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: SyncSender<Event>,
}

impl Publisher {
    /// Starts the thread publishing to `hub` (which keeps its log in `store`); it ends, and
    /// lets both go, when the last sender is dropped.
    pub(crate) fn spawn(hub: Arc<Hub>, store: Store) -> std::io::Result<Publisher> {
        let (tx, rx) = sync_channel::<Event>(QUEUE);
        std::thread::Builder::new()
            .name("guts-events".into())
            .spawn(move || {
                for event in rx {
                    hub.publish(&store, &event);
                }
            })?;
        Ok(Publisher { tx })
    }

    /// Queues `event`.
    pub fn send(&self, event: Event) {
        match self.tx.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(e)) => {
                tracing::warn!(kind = e.kind(), "event queue full; event dropped");
            }
        }
    }
}
