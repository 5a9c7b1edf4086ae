//! OpenSSH public keys (`TYPE BASE64 [COMMENT]`, as in `id_ed25519.pub`): the blob is
//! decoded and checked field by field, not just its type name. Accepted: `ssh-ed25519` (a
//! valid curve point), `ssh-rsa` of 2048 bits or more, and `ecdsa-sha2-nistp256/384/521`
//! (an uncompressed point on the named curve). The fingerprint is `SHA256:` and the
//! unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it.

use base64::Engine;
use num_bigint::BigUint;
use sha2::{Digest, Sha256};

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: u64 = 2048;

/// A parsed public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key type (`ssh-ed25519`, ...).
    pub kind: String,
    /// The decoded blob.
    pub blob: Vec<u8>,
    /// The size in bits (256 for ed25519, the modulus for RSA, the curve for ECDSA).
    pub bits: u64,
}

impl PublicKey {
    /// `SHA256:...`.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(&self.blob);
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        )
    }

    /// `TYPE BASE64`, without the comment.
    pub fn openssh(&self) -> String {
        format!(
            "{} {}",
            self.kind,
            base64::engine::general_purpose::STANDARD.encode(&self.blob)
        )
    }
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not `TYPE BASE64 [COMMENT]`.
    #[error("not an OpenSSH public key line (expected \"TYPE BASE64 [COMMENT]\")")]
    Format,
    /// A type this node does not accept.
    #[error("unsupported key type {0:?} (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521)")]
    Unsupported(String),
    /// The blob does not decode or its fields are wrong.
    #[error("malformed {kind} key: {why}")]
    Malformed {
        /// The key type.
        kind: String,
        /// What is wrong.
        why: &'static str,
    },
    /// An RSA key below [`MIN_RSA_BITS`].
    #[error("RSA key of {0} bits is too short (at least 2048)")]
    TooShort(u64),
}

/// Reads length-prefixed fields of a blob.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let field = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        Some(field)
    }
}

/// Parses and validates a public key line.
pub fn parse(line: &str) -> Result<PublicKey, KeyError> {
    let mut parts = line.split_ascii_whitespace();
    let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
        return Err(KeyError::Format);
    };
    if !matches!(
        kind,
        "ssh-ed25519"
            | "ssh-rsa"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
    ) {
        return Err(KeyError::Unsupported(kind.to_string()));
    }
    let bad = |why: &'static str| KeyError::Malformed {
        kind: kind.to_string(),
        why,
    };
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad("the key is not base64"))?;
    let mut f = Fields(&blob);
    if f.next() != Some(kind.as_bytes()) {
        return Err(bad("the blob names another type"));
    }
    let bits = match kind {
        "ssh-ed25519" => {
            let point: [u8; 32] = f
                .next()
                .and_then(|k| k.try_into().ok())
                .ok_or(bad("the key is not 32 bytes"))?;
            ed25519_dalek::VerifyingKey::from_bytes(&point)
                .map_err(|_| bad("not a point on the curve"))?;
            256
        }
        "ssh-rsa" => {
            let e = BigUint::from_bytes_be(f.next().ok_or(bad("no exponent"))?);
            let n = BigUint::from_bytes_be(f.next().ok_or(bad("no modulus"))?);
            if e < BigUint::from(3u8) || !e.bit(0) || !n.bit(0) {
                return Err(bad("exponent or modulus out of range"));
            }
            let bits = n.bits();
            if bits < MIN_RSA_BITS {
                return Err(KeyError::TooShort(bits));
            }
            bits
        }
        _ => {
            let curve = &kind["ecdsa-sha2-".len()..];
            if f.next() != Some(curve.as_bytes()) {
                return Err(bad("the blob names another curve"));
            }
            let q = f.next().ok_or(bad("no point"))?;
            let c = Curve::named(curve).ok_or(bad("unknown curve"))?;
            if !c.contains(q) {
                return Err(bad("not a point on the curve"));
            }
            c.bits
        }
    };
    if !f.0.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(PublicKey {
        kind: kind.to_string(),
        blob,
        bits,
    })
}

/// A NIST prime curve y² = x³ - 3x + b over GF(p).
struct Curve {
    bits: u64,
    p: BigUint,
    b: BigUint,
}

impl Curve {
    fn named(name: &str) -> Option<Curve> {
        let hex = |s: &str| BigUint::parse_bytes(s.as_bytes(), 16);
        let (bits, p, b) = match name {
            "nistp256" => (
                256,
                "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
                "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
            ),
            "nistp384" => (
                384,
                "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
                "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
            ),
            "nistp521" => (
                521,
                "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
            ),
            _ => return None,
        };
        Some(Curve {
            bits,
            p: hex(p)?,
            b: hex(b)?,
        })
    }

    /// True for an uncompressed point `04 || X || Y` on the curve.
    fn contains(&self, q: &[u8]) -> bool {
        let len = self.bits.div_ceil(8) as usize;
        if q.len() != 1 + 2 * len || q[0] != 4 {
            return false;
        }
        let x = BigUint::from_bytes_be(&q[1..=len]);
        let y = BigUint::from_bytes_be(&q[1 + len..]);
        if x >= self.p || y >= self.p {
            return false;
        }
        let p = &self.p;
        let lhs = (&y * &y) % p;
        let three_x = (BigUint::from(3u8) * &x) % p;
        let rhs = ((&x * &x % p) * &x + &self.b + p - three_x) % p;
        lhs == rhs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9ZJq+IdjHfJTBs4SDrYHPl5AuPZ38+GRoxDHHwsGFX a@b";

    #[test]
    fn an_ed25519_key_parses_with_its_fingerprint() {
        let k = parse(ED).expect("parse");
        assert_eq!(k.kind, "ssh-ed25519");
        assert_eq!(k.bits, 256);
        // As `ssh-keygen -l` printed it for this key.
        assert_eq!(
            k.fingerprint(),
            "SHA256:yAJIMByPXFsJ9xbdtmBTGyr07nE4nRABWpPorfHQPZo"
        );
        assert_eq!(parse(&k.openssh()).expect("again"), k);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn any_blob_under_a_known_type_is_parsed_or_refused(
            kind in proptest::sample::select(vec![
                "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
            ]),
            blob in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        ) {
            let line = format!("{kind} {}", base64::engine::general_purpose::STANDARD.encode(&blob));
            if let Ok(k) = parse(&line) {
                proptest::prop_assert_eq!(k.blob, blob);
            }
        }
    }

    #[test]
    fn malformed_lines_and_blobs_are_refused() {
        assert_eq!(parse(""), Err(KeyError::Format));
        assert_eq!(parse("ssh-ed25519"), Err(KeyError::Format));
        assert!(matches!(
            parse("ssh-dss AAAA"),
            Err(KeyError::Unsupported(_))
        ));
        assert!(matches!(
            parse("ssh-ed25519 !!!"),
            Err(KeyError::Malformed { .. })
        ));
        // An ed25519 blob presented as RSA.
        let blob = ED.split(' ').nth(1).expect("blob");
        assert!(matches!(
            parse(&format!("ssh-rsa {blob}")),
            Err(KeyError::Malformed { .. })
        ));
        // A truncated blob.
        assert!(parse(&format!("ssh-ed25519 {}", &blob[..40])).is_err());
    }
}
