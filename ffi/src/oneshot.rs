//! A one-value channel whose receiving end is a `Future`, so an async export can hand
//! its work to a thread of its own and be awaited from any foreign executor (Kotlin
//! coroutines, Swift tasks, asyncio) without tying the library to an async runtime.
//! Dropping the future (a cancelled coroutine) runs the `on_drop` hook, which the sync
//! uses to ask its thread to stop.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The sending half; [`Sender::send`] wakes the receiver.
pub struct Sender<T>(Arc<Mutex<Slot<T>>>);

/// The receiving half: a future of the value.
pub struct Receiver<T> {
    slot: Arc<Mutex<Slot<T>>>,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

/// A new channel; `on_drop` runs if the receiver is dropped before it has its value.
pub fn channel<T>(on_drop: Box<dyn FnOnce() + Send>) -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    (
        Sender(slot.clone()),
        Receiver {
            slot,
            on_drop: Some(on_drop),
        },
    )
}

fn lock<T>(slot: &Mutex<Slot<T>>) -> std::sync::MutexGuard<'_, Slot<T>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T> Sender<T> {
    /// Delivers the value and wakes the waiting task.
    pub fn send(self, value: T) {
        let waker = {
            let mut slot = lock(&self.0);
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let mut slot = lock(&this.slot);
        match slot.value.take() {
            Some(v) => {
                drop(slot);
                this.on_drop = None;
                Poll::Ready(v)
            }
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(hook) = self.on_drop.take() {
            hook();
        }
    }
}
