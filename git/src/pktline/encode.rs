//! pkt-line encoding into any `Write`.

use std::io::Write;

use super::{MAX_DATA_LEN, PktError};

/// Writes one data packet.
pub fn write_data(out: &mut impl Write, data: &[u8]) -> Result<(), PktError> {
    if data.len() > MAX_DATA_LEN {
        return Err(PktError::TooLong { len: data.len() });
    }
    write_len(out, data.len() + 4)?;
    out.write_all(data)?;
    Ok(())
}

/// Writes a text packet: the text and a newline.
pub fn write_text(out: &mut impl Write, text: &[u8]) -> Result<(), PktError> {
    if text.len() + 1 > MAX_DATA_LEN {
        return Err(PktError::TooLong {
            len: text.len() + 1,
        });
    }
    write_len(out, text.len() + 5)?;
    out.write_all(text)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes an `ERR <message>` packet.
pub fn write_error(out: &mut impl Write, message: &str) -> Result<(), PktError> {
    let mut line = Vec::with_capacity(message.len() + 4);
    line.extend_from_slice(b"ERR ");
    line.extend_from_slice(message.as_bytes());
    write_text(out, &line)
}

/// Writes the flush packet `0000`.
pub fn write_flush(out: &mut impl Write) -> Result<(), PktError> {
    Ok(out.write_all(b"0000")?)
}

/// Writes the delimiter packet `0001`.
pub fn write_delim(out: &mut impl Write) -> Result<(), PktError> {
    Ok(out.write_all(b"0001")?)
}

/// Writes the response-end packet `0002`.
pub fn write_response_end(out: &mut impl Write) -> Result<(), PktError> {
    Ok(out.write_all(b"0002")?)
}

fn write_len(out: &mut impl Write, len: usize) -> Result<(), PktError> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let header = [
        DIGITS[(len >> 12) & 15],
        DIGITS[(len >> 8) & 15],
        DIGITS[(len >> 4) & 15],
        DIGITS[len & 15],
    ];
    Ok(out.write_all(&header)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_have_gits_lengths_and_oversized_payloads_are_refused() {
        let mut out = Vec::new();
        write_text(&mut out, b"hello").unwrap();
        write_flush(&mut out).unwrap();
        write_delim(&mut out).unwrap();
        write_response_end(&mut out).unwrap();
        write_error(&mut out, "bad").unwrap();
        assert_eq!(out, b"000ahello\n000000010002000cERR bad\n");
        assert!(matches!(
            write_data(&mut Vec::new(), &vec![0; MAX_DATA_LEN + 1]),
            Err(PktError::TooLong { .. })
        ));
        write_data(&mut Vec::new(), &vec![0; MAX_DATA_LEN]).unwrap();
    }
}
