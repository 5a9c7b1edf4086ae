//! The pack stream of an upload-pack response: pack bytes on band 1, progress on band 2,
//! errors on band 3 (or the raw pack when the client asked for no side-band).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use guts_git::pktline::{SidebandKind, encode_band, write_flush};
use guts_store::SendProgress;

/// Progress messages waiting to go out between pack packets.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pending: Arc<Mutex<Vec<u8>>>,
    enabled: bool,
    last: Option<Instant>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            ..Progress::default()
        }
    }

    /// Queues a line (ending in `\n` or `\r`).
    pub fn say(&self, msg: &str) {
        if !self.enabled {
            return;
        }
        guts_store::sync::lock(&self.pending).extend_from_slice(msg.as_bytes());
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *guts_store::sync::lock(&self.pending))
    }
}

impl SendProgress for Progress {
    fn writing(&mut self, done: u32, total: u32) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if done == total
            || self
                .last
                .is_none_or(|t| now - t > Duration::from_millis(500))
        {
            self.last = Some(now);
            let pct = u64::from(done) * 100 / u64::from(total.max(1));
            let end = if done == total { ", done.\n" } else { "\r" };
            self.say(&format!("Writing objects: {pct}% ({done}/{total}){end}"));
        }
    }
}

/// Writes pack data on band 1 (or raw), with queued progress on band 2 in between.
pub struct PackOut<W: Write> {
    out: W,
    band: Option<SidebandKind>,
    progress: Progress,
}

impl<W: Write> PackOut<W> {
    pub fn new(out: W, band: Option<SidebandKind>, progress: Progress) -> Self {
        PackOut {
            out,
            band,
            progress,
        }
    }

    fn flush_progress(&mut self) -> io::Result<()> {
        let Some(kind) = self.band else { return Ok(()) };
        let msg = self.progress.take();
        if !msg.is_empty() {
            encode_band(&mut self.out, kind, 2, &msg).map_err(io::Error::other)?;
        }
        Ok(())
    }

    /// Ends the stream: remaining progress and, with side-band, a flush packet.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_progress()?;
        if self.band.is_some() {
            write_flush(&mut self.out).map_err(io::Error::other)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for PackOut<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.flush_progress()?;
        match self.band {
            Some(kind) => encode_band(&mut self.out, kind, 1, data).map_err(io::Error::other)?,
            None => self.out.write_all(data)?,
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_progress()?;
        self.out.flush()
    }
}
