//! The one place the network uses bincode: wire messages (announcements, request-response
//! frames, the account records a grant carries) and the bytes signatures cover. Encoding
//! plain data into memory does not fail in practice; if it ever did, that is an error to
//! pass on, never empty bytes sent or signed. Decoding reads the whole input (trailing
//! bytes are an error), within a byte limit checked by the caller before decoding.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why bytes could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A value could not be encoded.
    #[error("encoding: {0}")]
    Encode(String),
    /// Bytes are not a value of the type.
    #[error("decoding: {0}")]
    Decode(String),
    /// A value was followed by more bytes.
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// The bytes of `value`.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Appends the bytes of `value` to `out`.
pub fn encode_into<T: Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::serde::encode_into_std_write(value, out, config())
        .map(|_| ())
        .map_err(|e| CodecError::Encode(e.to_string()))
}

/// How many bytes `value` encodes to.
pub fn encoded_len<T: Serialize>(value: &T) -> Result<usize, CodecError> {
    encode(value).map(|b| b.len())
}

/// The value `bytes` hold, all of them.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    finish(
        bincode::serde::decode_from_slice(bytes, config()),
        bytes.len(),
    )
}

/// As [`decode`], with bincode's own allocation limit set to `LIMIT` as well.
pub fn decode_limited<T: DeserializeOwned, const LIMIT: usize>(
    bytes: &[u8],
) -> Result<T, CodecError> {
    finish(
        bincode::serde::decode_from_slice(bytes, config().with_limit::<LIMIT>()),
        bytes.len(),
    )
}

fn finish<T>(
    r: Result<(T, usize), bincode::error::DecodeError>,
    len: usize,
) -> Result<T, CodecError> {
    let (value, used) = r.map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != len {
        return Err(CodecError::Trailing(len - used));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage_and_trailing_bytes() {
        let v = (7u64, String::from("x"), vec![1u8, 2]);
        let bytes = encode(&v).expect("encode");
        assert_eq!(encoded_len(&v), Ok(bytes.len()));
        assert_eq!(decode::<(u64, String, Vec<u8>)>(&bytes), Ok(v.clone()));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            decode::<(u64, String, Vec<u8>)>(&long),
            Err(CodecError::Trailing(1))
        );
        assert!(decode::<(u64, String)>(&[0xff]).is_err());
        assert!(decode_limited::<Vec<u8>, 4>(&encode(&vec![0u8; 64]).expect("enc")).is_err());
    }
}
