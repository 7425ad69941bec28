//! Poison-tolerant lock helpers.
//!
//! A panic while one of the engine's locks is held cannot leave the guarded
//! state half-updated in a way that matters more than the panic itself
//! (every multi-step update is ordered so that readers see a consistent
//! state), so the engine keeps serving instead of cascading the panic.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
