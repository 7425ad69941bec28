//! The transactional metadata store: access keys now; alarms, topics and
//! subscriptions later. One redb file (`<data-dir>/meta.redb`); each table maps
//! a string key to a JSON document so records can grow fields without
//! migrations. Every mutation is one redb write transaction, so a crash leaves
//! either the old or the new state.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;

/// A named table of JSON records.
#[derive(Debug, Clone, Copy)]
pub struct Table(&'static str);

impl Table {
    pub const fn new(name: &'static str) -> Self {
        Table(name)
    }
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata database: {0}")]
    Db(String),
    /// Another process holds the database's lock (another server on this data dir).
    #[error("metadata database {0} is open in another process")]
    InUse(std::path::PathBuf),
    #[error("metadata record {table}/{key} is corrupt: {source}")]
    Corrupt {
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },
}

fn db_err(e: impl std::fmt::Display) -> MetaError {
    MetaError::Db(e.to_string())
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;

fn decode<T: DeserializeOwned>(table: Table, key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| MetaError::Corrupt {
        table: table.0,
        key: key.to_string(),
        source,
    })
}

#[derive(Debug)]
pub struct MetaStore {
    db: Database,
}

impl MetaStore {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => MetaError::InUse(path.to_path_buf()),
            e => db_err(e),
        })?;
        Ok(MetaStore { db })
    }

    /// `table` in a read transaction of its own; `None` before anything was
    /// ever written to it.
    fn read_table(
        &self,
        table: Table,
    ) -> Result<Option<redb::ReadOnlyTable<&'static str, &'static [u8]>>> {
        let tx = self.db.begin_read().map_err(db_err)?;
        match tx.open_table(table.def()) {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(db_err(e)),
        }
    }

    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let Some(t) = self.read_table(table)? else {
            return Ok(None);
        };
        t.get(key)
            .map_err(db_err)?
            .map(|v| decode(table, key, v.value()))
            .transpose()
    }

    /// All records of a table in key order.
    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        let Some(t) = self.read_table(table)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in t.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let key = k.value().to_string();
            let rec = decode(table, &key, v.value())?;
            out.push((key, rec));
        }
        Ok(out)
    }

    /// The keys of a table below `end`, in order, without decoding records.
    pub fn keys_below(&self, table: Table, end: &str) -> Result<Vec<String>> {
        let Some(t) = self.read_table(table)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in t.range(..end).map_err(db_err)? {
            let (k, _) = item.map_err(db_err)?;
            out.push(k.value().to_string());
        }
        Ok(out)
    }

    pub fn put<T: Serialize>(&self, table: Table, key: &str, value: &T) -> Result<()> {
        self.transact(|tx| tx.put(table, key, value))
    }

    pub fn delete(&self, table: Table, key: &str) -> Result<bool> {
        self.transact(|tx| tx.delete(table, key))
    }

    /// Runs `f` in one write transaction; commits only when it returns Ok.
    pub fn transact<R>(&self, f: impl FnOnce(&mut Txn<'_>) -> Result<R>) -> Result<R> {
        let tx = self.db.begin_write().map_err(db_err)?;
        let mut txn = Txn { tx: &tx };
        let r = f(&mut txn)?;
        tx.commit().map_err(db_err)?;
        Ok(r)
    }
}

/// A write transaction handle passed to [`MetaStore::transact`].
pub struct Txn<'a> {
    tx: &'a redb::WriteTransaction,
}

impl Txn<'_> {
    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let t = self.tx.open_table(table.def()).map_err(db_err)?;
        t.get(key)
            .map_err(db_err)?
            .map(|v| decode(table, key, v.value()))
            .transpose()
    }
    pub fn put<T: Serialize>(&mut self, table: Table, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(db_err)?;
        let mut t = self.tx.open_table(table.def()).map_err(db_err)?;
        t.insert(key, bytes.as_slice()).map_err(db_err)?;
        Ok(())
    }
    /// All records of a table in key order, as this transaction sees them.
    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        let t = self.tx.open_table(table.def()).map_err(db_err)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let key = k.value().to_string();
            let rec = decode(table, &key, v.value())?;
            out.push((key, rec));
        }
        Ok(out)
    }
    pub fn delete(&mut self, table: Table, key: &str) -> Result<bool> {
        let mut t = self.tx.open_table(table.def()).map_err(db_err)?;
        let existed = t.remove(key).map_err(db_err)?.is_some();
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table = Table::new("t");

    #[test]
    fn a_store_open_elsewhere_is_reported_as_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.redb");
        let first = MetaStore::open(&path).unwrap();
        let second = MetaStore::open(&path).unwrap_err();
        assert!(
            matches!(&second, MetaError::InUse(p) if p == &path),
            "{second}"
        );
        drop(first);
        MetaStore::open(&path).unwrap();
    }

    #[test]
    fn put_get_list_delete_and_abort() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        assert_eq!(m.get::<u32>(T, "a").unwrap(), None);
        m.put(T, "b", &2u32).unwrap();
        m.put(T, "a", &1u32).unwrap();
        assert_eq!(m.get::<u32>(T, "a").unwrap(), Some(1));
        let all: Vec<(String, u32)> = m.list(T).unwrap();
        assert_eq!(all, vec![("a".into(), 1), ("b".into(), 2)]);
        // A failing transaction commits nothing.
        let r: Result<()> = m.transact(|tx| {
            tx.put(T, "c", &3u32)?;
            Err(MetaError::Db("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(m.get::<u32>(T, "c").unwrap(), None);
        assert!(m.delete(T, "a").unwrap());
        assert!(!m.delete(T, "a").unwrap());
        drop(m);
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        assert_eq!(m.get::<u32>(T, "b").unwrap(), Some(2));
    }
}
