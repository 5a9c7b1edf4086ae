//! Partial clone filters, as a client spells them in `filter <spec>`.

/// Which objects a partial clone leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// `blob:none`: no blobs.
    BlobNone,
    /// `blob:limit=N`: only blobs smaller than N bytes.
    BlobLimit(u64),
    /// `tree:N`: no trees or blobs at depth N or deeper (the root tree is at depth 0).
    TreeDepth(u64),
}

/// A filter spec this server does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported filter spec {spec:?}")]
pub struct FilterError {
    /// The spec as given.
    pub spec: String,
}

impl Filter {
    /// Parses `blob:none`, `blob:limit=<n>[kmg]` or `tree:<n>`.
    pub fn parse(spec: &str) -> Result<Filter, FilterError> {
        let err = || FilterError {
            spec: spec.to_string(),
        };
        if spec == "blob:none" {
            return Ok(Filter::BlobNone);
        }
        if let Some(n) = spec.strip_prefix("blob:limit=") {
            return parse_size(n).map(Filter::BlobLimit).ok_or_else(err);
        }
        if let Some(n) = spec.strip_prefix("tree:") {
            return n.parse().map(Filter::TreeDepth).map_err(|_| err());
        }
        Err(err())
    }

    /// Whether a blob of `size` bytes at tree depth `depth` is sent.
    pub fn wants_blob(&self, size: u64, depth: u64) -> bool {
        match self {
            Filter::BlobNone => false,
            Filter::BlobLimit(n) => size < *n,
            Filter::TreeDepth(n) => depth < *n,
        }
    }

    /// Whether a tree at `depth` is sent.
    pub fn wants_tree(&self, depth: u64) -> bool {
        match self {
            Filter::TreeDepth(n) => depth < *n,
            _ => true,
        }
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_specs_parse_like_git() {
        assert_eq!(Filter::parse("blob:none"), Ok(Filter::BlobNone));
        assert_eq!(Filter::parse("blob:limit=1k"), Ok(Filter::BlobLimit(1024)));
        assert_eq!(Filter::parse("tree:0"), Ok(Filter::TreeDepth(0)));
        assert!(Filter::parse("sparse:oid=abc").is_err());
        assert!(Filter::parse("blob:limit=x").is_err());
        assert!(!Filter::TreeDepth(1).wants_blob(1, 1));
        assert!(Filter::TreeDepth(1).wants_tree(0));
        assert!(!Filter::BlobLimit(10).wants_blob(10, 0));
    }
}
