//! Every stored value is encoded here: bincode 2 (serde) behind a one-byte format version,
//! so the format can change in one place. Each repository's update log predates the
//! version byte and keeps its format ([`encode_unversioned`]); it is still encoded here,
//! and a failure is an error, never an empty value.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;

/// The format version written first in every value.
const VERSION: u8 = 1;

/// Encodes a value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![VERSION];
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes a value stored in `tree`.
pub fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { tree, reason };
    match bytes.split_first() {
        Some((&VERSION, rest)) => {
            let (value, used) =
                bincode::serde::decode_from_slice(rest, bincode::config::standard())
                    .map_err(|e| corrupt(e.to_string()))?;
            if used != rest.len() {
                return Err(corrupt(format!("{} trailing bytes", rest.len() - used)));
            }
            Ok(value)
        }
        Some((v, _)) => Err(corrupt(format!("unknown format version {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}

/// Encodes a value of a format without the version byte (the update log).
pub fn encode_unversioned<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| StoreError::Encode(e.to_string()))
}

/// Decodes a value of a format without the version byte, stored in `tree`.
pub fn decode_unversioned<T: DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { tree, reason };
    let (value, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| corrupt(e.to_string()))?;
    if used != bytes.len() {
        return Err(corrupt(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let v = (7u64, String::from("x"), vec![1u8, 2]);
        let bytes = encode(&v).expect("encode");
        assert_eq!(
            decode::<(u64, String, Vec<u8>)>("t", &bytes).expect("decode"),
            v
        );
        assert!(decode::<(u64, String)>("t", &[]).is_err());
        assert!(decode::<(u64, String)>("t", &[9, 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode::<(u64, String, Vec<u8>)>("t", &long).is_err());
    }
}
