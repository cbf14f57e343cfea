//! Bounds on what one request, and one device, may cost the server.
//!
//! One device flooding the server (several large syncs at once) must not slow another
//! rep's sync: a device gets one sync (or fallback message) in flight at a time, and a
//! second concurrent one is refused at once with the retryable `sync.busy` (HTTP 429,
//! `Retry-After`) before its body is read. The number of pushes per request is capped by
//! `Config::max_pushes_per_request`, checked before any push is looked at.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};

/// The devices that have a sync in flight.
#[derive(Debug, Default)]
pub struct BusyDevices {
    devices: Mutex<HashSet<String>>,
}

impl BusyDevices {
    /// Marks `device_id` busy until the returned guard drops, or refuses with
    /// [`Error::Busy`] when it already is.
    pub fn enter(self: &Arc<Self>, device_id: &str) -> Result<DeviceSlot> {
        let mut devices = self.devices.lock().unwrap_or_else(PoisonError::into_inner);
        if !devices.insert(device_id.to_owned()) {
            return Err(Error::Busy);
        }
        Ok(DeviceSlot {
            busy: self.clone(),
            device_id: device_id.to_owned(),
        })
    }

    /// How many devices have a sync in flight.
    pub fn len(&self) -> usize {
        self.devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no device has a sync in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A device's one sync in flight; moved into the blocking work so the device stays busy
/// until that work is done, even when its client has gone.
#[derive(Debug)]
pub struct DeviceSlot {
    busy: Arc<BusyDevices>,
    device_id: String,
}

impl Drop for DeviceSlot {
    fn drop(&mut self) {
        self.busy
            .devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.device_id);
    }
}

/// Refuses a request with more than `max` pushes.
pub fn check_pushes(pushes: usize, max: usize) -> Result<()> {
    if pushes > max {
        return Err(Error::TooManyPushes(max));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_device_until_dropped() {
        let busy = Arc::new(BusyDevices::default());
        let a = busy.enter("dev-a").expect("first");
        assert!(matches!(busy.enter("dev-a"), Err(Error::Busy)));
        let b = busy.enter("dev-b").expect("another device");
        assert_eq!(busy.len(), 2);
        drop(a);
        let _a = busy.enter("dev-a").expect("free again");
        drop(b);
        assert_eq!(busy.len(), 1);
    }

    #[test]
    fn pushes_over_the_cap_are_refused() {
        assert!(check_pushes(3, 3).is_ok());
        assert!(matches!(check_pushes(4, 3), Err(Error::TooManyPushes(3))));
    }
}
