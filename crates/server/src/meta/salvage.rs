//! `--recover-meta`'s last resort, for a file redb refuses to repair (the
//! newest commit of a cleanly closed file fails its checksums): copy every
//! record that can still be read and is a JSON document into a fresh file.
//! Reads do not verify checksums, so this keeps what is legible, not what
//! is proven intact — which is why it only runs when asked to.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use super::{MetaError, PanicOr, Result, survive_panic};

/// Records copied and records (or unreadable table tails) left behind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Salvaged {
    pub copied: u64,
    pub dropped: u64,
}

/// Copies what is legible in `damaged` into a new database at `into`
/// (replacing it).
pub fn salvage(damaged: &Path, into: &Path) -> Result<Salvaged> {
    let fail =
        |e: &dyn std::fmt::Display| MetaError::Db(format!("salvaging {}: {e}", damaged.display()));
    let src =
        survive_panic(damaged, || redb::ReadOnlyDatabase::open(damaged)).map_err(|e| match e {
            PanicOr::Panicked(e) => fail(&e),
            PanicOr::Returned(e) => fail(&e),
        })?;
    let tmp = into.with_extension("redb.salvage");
    let _ = std::fs::remove_file(&tmp);
    let dst = Database::create(&tmp).map_err(|e| fail(&e))?;
    let mut out = Salvaged::default();
    {
        let rtx = src.begin_read().map_err(|e| fail(&e))?;
        let wtx = dst.begin_write().map_err(|e| fail(&e))?;
        let names: Vec<String> = rtx
            .list_tables()
            .map_err(|e| fail(&e))?
            .map(|t| t.name().to_owned())
            .collect();
        for name in names {
            let def: TableDefinition<'_, &str, &[u8]> = TableDefinition::new(&name);
            let Ok(table) = rtx.open_table(def) else {
                out.dropped += 1;
                continue;
            };
            let mut target = wtx.open_table(def).map_err(|e| fail(&e))?;
            let Ok(mut items) = table.iter() else {
                out.dropped += 1;
                continue;
            };
            loop {
                let next = survive_panic(damaged, || {
                    Ok::<_, ()>(items.next().map(|item| {
                        item.ok()
                            .map(|(k, v)| (k.value().to_owned(), v.value().to_vec()))
                    }))
                });
                match next {
                    Ok(None) => break,
                    Ok(Some(Some((key, value))))
                        if serde_json::from_slice::<serde::de::IgnoredAny>(&value).is_ok() =>
                    {
                        target
                            .insert(key.as_str(), value.as_slice())
                            .map_err(|e| fail(&e))?;
                        out.copied += 1;
                    }
                    Ok(Some(_)) => out.dropped += 1,
                    // The rest of this table cannot be read.
                    Err(_) => {
                        out.dropped += 1;
                        break;
                    }
                }
            }
        }
        wtx.commit().map_err(|e| fail(&e))?;
    }
    drop(dst);
    std::fs::rename(&tmp, into).map_err(|e| fail(&e))?;
    Ok(out)
}
