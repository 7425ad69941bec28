//! CloudWatch's `StandardUnit` enum.

use crate::error::ApiResult;
use crate::param::{Param, not_in_enum};
use serde::{Serialize, Serializer};

macro_rules! units {
    ($( $variant:ident = $code:literal, $text:literal; )*) => {
        /// A CloudWatch unit. Datapoints with different units aggregate separately.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Unit {
            $( $variant, )*
        }

        impl Unit {
            /// Every unit, in `code()` order.
            pub const ALL: &'static [Unit] = &[$( Unit::$variant, )*];
            /// Every unit's wire name, in `code()` order (used in error messages).
            pub const NAMES: &'static [&'static str] = &[$( $text, )*];

            /// The wire name, e.g. `Bytes/Second`.
            pub fn as_str(self) -> &'static str {
                match self { $( Unit::$variant => $text, )* }
            }

            /// Exact (case-sensitive) wire name to unit, as AWS matches it.
            pub fn parse(s: &str) -> Option<Unit> {
                match s { $( $text => Some(Unit::$variant), )* _ => None }
            }

            /// Stable one-byte code for storage. Never renumber: codes are persisted.
            pub fn code(self) -> u8 {
                match self { $( Unit::$variant => $code, )* }
            }

            pub fn from_code(code: u8) -> Option<Unit> {
                match code { $( $code => Some(Unit::$variant), )* _ => None }
            }
        }
    };
}

units! {
    None = 0, "None";
    Seconds = 1, "Seconds";
    Microseconds = 2, "Microseconds";
    Milliseconds = 3, "Milliseconds";
    Bytes = 4, "Bytes";
    Kilobytes = 5, "Kilobytes";
    Megabytes = 6, "Megabytes";
    Gigabytes = 7, "Gigabytes";
    Terabytes = 8, "Terabytes";
    Bits = 9, "Bits";
    Kilobits = 10, "Kilobits";
    Megabits = 11, "Megabits";
    Gigabits = 12, "Gigabits";
    Terabits = 13, "Terabits";
    Percent = 14, "Percent";
    Count = 15, "Count";
    BytesPerSecond = 16, "Bytes/Second";
    KilobytesPerSecond = 17, "Kilobytes/Second";
    MegabytesPerSecond = 18, "Megabytes/Second";
    GigabytesPerSecond = 19, "Gigabytes/Second";
    TerabytesPerSecond = 20, "Terabytes/Second";
    BitsPerSecond = 21, "Bits/Second";
    KilobitsPerSecond = 22, "Kilobits/Second";
    MegabitsPerSecond = 23, "Megabits/Second";
    GigabitsPerSecond = 24, "Gigabits/Second";
    TerabitsPerSecond = 25, "Terabits/Second";
    CountPerSecond = 26, "Count/Second";
}

impl Unit {
    /// Parses a unit named by the request at `p`; an unknown name is a
    /// `ValidationError` listing the allowed set, as AWS answers it.
    pub fn parse_param(s: &str, p: Param) -> ApiResult<Unit> {
        Unit::parse(s).ok_or_else(|| not_in_enum(s, p, Unit::NAMES))
    }
}

/// Absent `Unit` means `None`, as in AWS.
impl Default for Unit {
    fn default() -> Self {
        Unit::None
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Unit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn round_trips_and_codes_are_unique() {
        assert_eq!(Unit::ALL.len(), 27);
        let mut seen = std::collections::HashSet::new();
        for &u in Unit::ALL {
            assert_eq!(Unit::parse(u.as_str()), Some(u));
            assert_eq!(Unit::from_code(u.code()), Some(u));
            assert!(seen.insert(u.code()));
        }
        assert_eq!(Unit::from_code(27), None);
        assert_eq!(Unit::from_code(255), None);
        assert_eq!(Unit::default(), Unit::None);
    }

    #[test]
    fn codes_are_stable() {
        // Persisted: these exact numbers must never change.
        assert_eq!(Unit::None.code(), 0);
        assert_eq!(Unit::Percent.code(), 14);
        assert_eq!(Unit::CountPerSecond.code(), 26);
    }

    #[test]
    fn parse_is_exact() {
        assert_eq!(Unit::parse("Bytes/Second"), Some(Unit::BytesPerSecond));
        assert_eq!(Unit::parse("bytes"), None);
        assert_eq!(Unit::parse(" Bytes"), None);
        let p = Param::root("MetricData").member(0).field("Unit");
        let e = Unit::parse_param("Furlongs", p).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.starts_with(
            "1 validation error detected: Value 'Furlongs' at 'metricData.1.member.unit' failed to satisfy constraint: Member must satisfy enum value set: ["
        ), "{}", e.message);
        assert!(e.message.contains("Count/Second"));
    }
}
