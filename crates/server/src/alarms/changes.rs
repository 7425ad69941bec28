//! The names of alarms whose records changed since the scheduler last looked.
//! Every committed write to the `alarms` table (create, update, delete, state
//! change, actions enabled) touches the name *after* its transaction commits;
//! the scheduler takes the set each pass and re-reads only those records, so
//! its in-memory view stays current without decoding the whole table.

use std::collections::HashSet;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct AlarmChanges {
    names: Mutex<HashSet<String>>,
}

impl AlarmChanges {
    fn names(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A panic while holding this lock cannot leave the set inconsistent.
        self.names.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that alarm `name` changed (call after the commit).
    pub fn touch(&self, name: &str) {
        self.names().insert(name.to_string());
    }

    /// Records that several alarms changed (call after the commit).
    pub fn touch_all<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut set = self.names();
        set.extend(names.into_iter().map(str::to_string));
    }

    /// The names touched since the last call, clearing the set.
    pub fn take(&self) -> HashSet<String> {
        std::mem::take(&mut *self.names())
    }
}
