//! Pure, allocation-aware encoders and decoders used by the WAL and the block
//! files. Every decoder takes untrusted bytes and returns `DecodeError` rather
//! than panicking: block and WAL contents are checksummed, but a checksum is
//! not a proof of a well-formed payload (bugs, version skew, fuzzing).

pub mod bits;
pub mod bytes;
pub mod chimp;
pub mod floats;
pub mod gorilla;
pub mod ints;
pub mod ratio;
pub mod rle;
pub mod shortest_decimal;
pub mod timestamps;

#[cfg(test)]
pub(crate) mod test_support;
