//! Resource tags, one record per ARN (alarms, dashboards, SNS topics), in the
//! metadata table `tags`. Owners of a resource call [`set_in`]/[`delete_in`]
//! inside their own transaction so a resource and its tags change together.

use crate::meta::{self, MetaStore, Table, Txn};

pub const TABLE: Table = Table::new("tags");

/// A resource's tags in key order (each key once).
pub type Tags = Vec<(String, String)>;

pub fn get(meta: &MetaStore, arn: &str) -> meta::Result<Tags> {
    Ok(meta.get::<Tags>(TABLE, arn)?.unwrap_or_default())
}

/// Adds or overwrites `tags` on `arn` (TagResource semantics).
pub fn merge_in(tx: &mut Txn<'_>, arn: &str, tags: &[(String, String)]) -> meta::Result<()> {
    let mut cur: Tags = tx.get(TABLE, arn)?.unwrap_or_default();
    for (k, v) in tags {
        match cur.iter_mut().find(|(ck, _)| ck == k) {
            Some(slot) => slot.1 = v.clone(),
            None => cur.push((k.clone(), v.clone())),
        }
    }
    cur.sort();
    tx.put(TABLE, arn, &cur)
}

/// Removes `keys` from `arn`'s tags (UntagResource semantics; absent keys are fine).
pub fn remove_keys_in(tx: &mut Txn<'_>, arn: &str, keys: &[String]) -> meta::Result<()> {
    let mut cur: Tags = tx.get(TABLE, arn)?.unwrap_or_default();
    cur.retain(|(k, _)| !keys.contains(k));
    tx.put(TABLE, arn, &cur)
}

/// Drops every tag of a deleted resource.
pub fn delete_in(tx: &mut Txn<'_>, arn: &str) -> meta::Result<()> {
    tx.delete(TABLE, arn).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_remove_delete() {
        let dir = tempfile::tempdir().unwrap();
        let m = MetaStore::open(&dir.path().join("m.redb")).unwrap();
        let arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a";
        assert!(get(&m, arn).unwrap().is_empty());
        let t = |k: &str, v: &str| (k.to_string(), v.to_string());
        m.transact(|tx| merge_in(tx, arn, &[t("b", "1"), t("a", "2")]))
            .unwrap();
        m.transact(|tx| merge_in(tx, arn, &[t("b", "3")])).unwrap();
        assert_eq!(get(&m, arn).unwrap(), vec![t("a", "2"), t("b", "3")]);
        m.transact(|tx| remove_keys_in(tx, arn, &["a".into(), "zz".into()]))
            .unwrap();
        assert_eq!(get(&m, arn).unwrap(), vec![t("b", "3")]);
        m.transact(|tx| delete_in(tx, arn)).unwrap();
        assert!(get(&m, arn).unwrap().is_empty());
    }
}
