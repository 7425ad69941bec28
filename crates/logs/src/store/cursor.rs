//! Paging cursors: a position between events in (timestamp, event id)
//! order and a direction. A forward cursor continues with the events above
//! its key, a backward one with the events below it.

/// Where a page or scan continues. Opaque to callers; round-trips through
/// [`Cursor::to_token`] / [`Cursor::from_token`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub(crate) ts: i64,
    pub(crate) id: u64,
    pub(crate) forward: bool,
}

impl Cursor {
    /// Continue after `(ts, id)`.
    pub(crate) fn after(key: (i64, u64)) -> Cursor {
        Cursor {
            ts: key.0,
            id: key.1,
            forward: true,
        }
    }

    /// Continue before `(ts, id)`.
    pub(crate) fn before(key: (i64, u64)) -> Cursor {
        Cursor {
            ts: key.0,
            id: key.1,
            forward: false,
        }
    }

    pub(crate) fn key(&self) -> (i64, u64) {
        (self.ts, self.id)
    }

    /// The same position seen from the other direction: forward "above k"
    /// becomes backward "below the next key", and vice versa.
    pub(crate) fn reversed(&self) -> Cursor {
        if self.forward {
            let key = match self.id.checked_add(1) {
                Some(id) => (self.ts, id),
                None => (self.ts.saturating_add(1), 0),
            };
            Cursor::before(key)
        } else {
            let key = match self.id.checked_sub(1) {
                Some(id) => (self.ts, id),
                None => (self.ts.saturating_sub(1), u64::MAX),
            };
            Cursor::after(key)
        }
    }

    /// `f|b` + 16 hex digits timestamp + 16 hex event id + 8 hex crc32 of
    /// the rest: URL-safe ASCII, 41 characters.
    pub fn to_token(&self) -> String {
        let body = format!(
            "{}{:016x}{:016x}",
            if self.forward { 'f' } else { 'b' },
            self.ts as u64,
            self.id
        );
        let crc = crc32fast::hash(body.as_bytes());
        format!("{body}{crc:08x}")
    }

    /// Parses a token; anything not made by [`Cursor::to_token`] is `None`.
    pub fn from_token(s: &str) -> Option<Cursor> {
        if s.len() != 41 || !s.is_ascii() {
            return None;
        }
        let (body, crc) = s.split_at(33);
        let hex = |t: &str| {
            t.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                .then(|| u64::from_str_radix(t, 16).ok())
                .flatten()
        };
        if hex(crc)? != u64::from(crc32fast::hash(body.as_bytes())) {
            return None;
        }
        let forward = match &body[..1] {
            "f" => true,
            "b" => false,
            _ => return None,
        };
        Some(Cursor {
            ts: hex(&body[1..17])? as i64,
            id: hex(&body[17..33])?,
            forward,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let c = Cursor::after((-5, 42));
        let t = c.to_token();
        assert_eq!(t.len(), 41);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(Cursor::from_token(&t), Some(c));
        let mut flipped = t.clone().into_bytes();
        flipped[5] = if flipped[5] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            Cursor::from_token(std::str::from_utf8(&flipped).unwrap_or("")),
            None
        );
        assert_eq!(Cursor::from_token(""), None);
        assert_eq!(Cursor::from_token("f/../"), None);
    }

    #[test]
    fn reversing_keeps_the_boundary() {
        // "above (7, 3)" and "below (7, 4)" split the events in the same place.
        assert_eq!(Cursor::after((7, 3)).reversed(), Cursor::before((7, 4)));
        assert_eq!(
            Cursor::before((7, 0)).reversed(),
            Cursor::after((6, u64::MAX))
        );
    }

    proptest! {
        #[test]
        fn from_token_is_total(s in "\\PC{0,60}") {
            let _ = Cursor::from_token(&s);
        }
    }
}
