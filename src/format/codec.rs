//! The one place that touches bincode: encoding and decoding of the capture's
//! structured values (header body, envelope bodies, trailer) with the explicit
//! options the format specifies (docs/FORMAT.md, "Structured values"):
//! fixed-width little-endian integers, u64 length prefixes, a size limit, and
//! trailing bytes allowed on decode so that newer writers can append fields.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CodecError(String);

/// Appends the encoding of `value` to `out`. Fails, leaving `out` as it was,
/// when the encoding would be longer than `limit` bytes.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    limit: u64,
) -> Result<(), CodecError> {
    let start = out.len();
    let result = bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(limit)
        .serialize_into(&mut *out, value);
    result.map_err(|e| {
        out.truncate(start);
        CodecError(e.to_string())
    })
}

/// Decodes a `T` from the start of `bytes`, ignoring bytes after it (fields
/// appended by a newer writer). Never reads past `bytes`, and a length
/// prefix can never make it allocate much more than `bytes.len()`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    // Every encoded byte is read at most once, so the input length bounds
    // what a lying length prefix may claim.
    let limit = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(limit)
        .allow_trailing_bytes()
        .deserialize(bytes)
        .map_err(|e| CodecError(e.to_string()))
}

/// Decodes a `T` from the start of `bytes` and returns it with the bytes
/// after it (fields appended by a newer writer, or what this version knows
/// follows it: the header's segment and provenance). Bounded as [`decode`].
pub(crate) fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, &[u8]), CodecError> {
    let limit = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let mut rest = bytes;
    let value = bincode::options()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(limit)
        .allow_trailing_bytes()
        .deserialize_from(&mut rest)
        .map_err(|e| CodecError(e.to_string()))?;
    Ok((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Old {
        a: u32,
        s: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct New {
        a: u32,
        s: String,
        added: Vec<u16>,
        flag: bool,
        opt: Option<i8>,
    }

    #[test]
    fn encoding_is_the_documented_one() {
        let v = New {
            a: 0x0102_0304,
            s: "hé".to_string(),
            added: vec![0xaabb],
            flag: true,
            opt: Some(-2),
        };
        let mut out = Vec::new();
        encode_into(&v, &mut out, 1000).unwrap();
        let expected: Vec<u8> = [
            &[0x04, 0x03, 0x02, 0x01][..],                   // u32 LE
            &[3, 0, 0, 0, 0, 0, 0, 0, b'h', 0xc3, 0xa9][..], // u64 len + UTF-8
            &[1, 0, 0, 0, 0, 0, 0, 0, 0xbb, 0xaa][..],       // Vec<u16>
            &[1][..],                                        // bool
            &[1, 0xfe][..],                                  // Option tag + i8
        ]
        .concat();
        assert_eq!(out, expected);
    }

    #[test]
    fn old_reader_skips_appended_fields() {
        let v = New {
            a: 7,
            s: "x".into(),
            added: vec![1, 2, 3],
            flag: false,
            opt: None,
        };
        let mut out = Vec::new();
        encode_into(&v, &mut out, 1000).unwrap();
        let old: Old = decode(&out).unwrap();
        assert_eq!(
            old,
            Old {
                a: 7,
                s: "x".into()
            }
        );
    }

    #[test]
    fn decode_prefix_returns_what_follows() {
        let mut out = Vec::new();
        encode_into(
            &Old {
                a: 1,
                s: "ab".into(),
            },
            &mut out,
            1000,
        )
        .unwrap();
        encode_into(&Some(7u16), &mut out, 1000).unwrap();
        let (old, rest): (Old, &[u8]) = decode_prefix(&out).unwrap();
        assert_eq!(
            old,
            Old {
                a: 1,
                s: "ab".into()
            }
        );
        assert_eq!(rest, &[1, 7, 0]);
        let (_, rest): (Old, &[u8]) = decode_prefix(&out[..out.len() - 3]).unwrap();
        assert!(rest.is_empty());
        assert!(decode_prefix::<Old>(&out[..6]).is_err());
        assert!(decode_prefix::<Old>(&out[..5]).is_err());
    }

    #[test]
    fn encode_respects_limit_and_leaves_output_alone() {
        let mut out = vec![9u8];
        let err = encode_into(&"a long string", &mut out, 8);
        assert!(err.is_err());
        assert_eq!(out, vec![9u8]);
    }

    #[test]
    fn lying_length_prefix_fails_without_allocating() {
        // A string claiming u64::MAX / 2 bytes, then nothing.
        let mut bytes = (u64::MAX / 2).to_le_bytes().to_vec();
        bytes.push(b'a');
        assert!(decode::<String>(&bytes).is_err());
        // A Vec<Vec<u64>> claiming 2^40 inner vectors.
        let bytes = (1u64 << 40).to_le_bytes();
        assert!(decode::<Vec<Vec<u64>>>(&bytes).is_err());
    }

    #[test]
    fn invalid_utf8_and_bool_are_rejected() {
        let bytes = [1u8, 0, 0, 0, 0, 0, 0, 0, 0xff];
        assert!(decode::<String>(&bytes).is_err());
        assert!(decode::<bool>(&[2]).is_err());
    }
}
