//! decode_float_columns: the block float-column decoder
//! (`stratus_tsdb::codec::floats`, every codec: const, decimal, Gorilla,
//! shortest decimal, Chimp128, ratio) and each lossless codec on its own must
//! decode garbage or fail, never panic; whatever decodes must re-encode and
//! decode back to the same bits (lossless round trip).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stratus_tsdb::codec::bytes::ByteReader;
use stratus_tsdb::codec::floats::{decode_floats, encode_floats};
use stratus_tsdb::codec::{chimp, ratio, shortest_decimal};
use stratus_tsdb::DecodeError;

type Decode = fn(&mut ByteReader<'_>, usize, &mut Vec<f64>) -> Result<(), DecodeError>;

fn check(data: &[u8], decode: Decode, encode: fn(&[f64], &mut Vec<u8>)) {
    let mut values = Vec::new();
    if decode(&mut ByteReader::new(data), 1 << 16, &mut values).is_err() {
        return;
    }
    let mut again = Vec::new();
    encode(&values, &mut again);
    let mut back = Vec::new();
    decode(&mut ByteReader::new(&again), values.len(), &mut back).expect("re-encoded chunk");
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&values));
}

fuzz_target!(|data: &[u8]| {
    check(data, shortest_decimal::decode, shortest_decimal::encode);
    check(data, chimp::decode, chimp::encode);
    check(data, ratio::decode, ratio::encode);
    check(data, decode_floats, |v, out| {
        encode_floats(v, out);
    });
});
