//! Identities: `Name <email> 1234567890 +0100`, as in author, committer and tagger headers.

/// A borrowed view of a parsed identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentRef<'a> {
    /// The name, without the space before `<`.
    pub name: &'a [u8],
    /// The email, without the angle brackets.
    pub email: &'a [u8],
    /// Seconds since the epoch.
    pub time: i64,
    /// The timezone offset as written, e.g. `+0100` or `-0000`.
    pub tz: &'a [u8],
}

impl<'a> IdentRef<'a> {
    /// Parses and validates an identity as `git fsck` does (fsck_ident).
    pub fn parse(raw: &'a [u8]) -> Result<IdentRef<'a>, &'static str> {
        if raw.contains(&b'\n') {
            return Err("identity contains a newline");
        }
        let lt = memchr::memchr(b'<', raw).ok_or("missing email")?;
        if lt == 0 || raw[lt - 1] != b' ' {
            return Err("missing space before email");
        }
        let rest = &raw[lt + 1..];
        let gt = memchr::memchr(b'>', rest).ok_or("bad email")?;
        let email = &rest[..gt];
        if email.contains(&b'<') {
            return Err("bad email");
        }
        let name = &raw[..lt - 1];
        if name.contains(&b'>') {
            return Err("bad name");
        }
        let after = &rest[gt + 1..];
        let after = after
            .strip_prefix(b" ")
            .ok_or("missing space before date")?;
        let sp = memchr::memchr(b' ', after).ok_or("missing timezone")?;
        let date = &after[..sp];
        let tz = &after[sp + 1..];
        if date.is_empty() || !date.iter().all(u8::is_ascii_digit) {
            return Err("bad date");
        }
        if date.len() > 1 && date[0] == b'0' {
            return Err("zero-padded date");
        }
        let time = std::str::from_utf8(date)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or("date overflow")?;
        if tz.len() != 5
            || !(tz[0] == b'+' || tz[0] == b'-')
            || !tz[1..].iter().all(u8::is_ascii_digit)
        {
            return Err("bad timezone");
        }
        Ok(IdentRef {
            name,
            email,
            time,
            tz,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_identity_parses_and_malformed_ones_are_refused() {
        let id = IdentRef::parse(b"A U Thor <a@example.com> 1700000000 +0100").unwrap();
        assert_eq!(id.name, b"A U Thor");
        assert_eq!(id.email, b"a@example.com");
        assert_eq!(id.time, 1_700_000_000);
        assert_eq!(id.tz, b"+0100");
        for bad in [
            &b"A U Thor <a@example.com> 1700000000 +01"[..],
            b"A U Thor<a@example.com> 1700000000 +0100",
            b"A U Thor <a@example.com> 01700000000 +0100",
            b"A U Thor <a@example.com>",
            b"A U Thor a@example.com 1 +0000",
        ] {
            assert!(
                IdentRef::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
