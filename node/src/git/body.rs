//! Moving bodies between the async server and blocking Git code, in bounded memory: a
//! request body becomes a blocking `Read` fed through a small channel (gzip decoded when
//! the client compressed it; an idle client times out), and a blocking `Write` feeds a
//! streamed response body through another small channel, so a slow reader slows the writer.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// Bytes a request body must bring in each idle window (or end): a client trickling a few
/// bytes at a time loses its slot.
pub const MIN_PROGRESS: u64 = 64 << 10;

fn too_slow(window: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "request body too slow: under {MIN_PROGRESS} bytes in {} s",
            window.as_secs()
        ),
    )
}

/// Body chunks in flight between the two sides.
const IN_FLIGHT: usize = 8;
/// Bytes gathered before a response chunk is sent.
const OUT_CHUNK: usize = 64 << 10;

type Chunk = Result<Bytes, io::Error>;

/// A request body read from blocking code.
pub struct BodyReader {
    rx: mpsc::Receiver<Chunk>,
    cur: Bytes,
    counter: Option<Counter>,
}

impl BodyReader {
    /// Starts pumping `body`: every `window` must bring [`MIN_PROGRESS`] bytes (or the
    /// end), so a body trickled a byte at a time is cut off, not only a stalled one. Time
    /// spent waiting for the node to take what arrived does not count against the client.
    pub fn new(body: Body, window: Duration, counter: Option<Counter>) -> Self {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            let mut window_end = tokio::time::Instant::now() + window;
            let mut got: u64 = 0;
            loop {
                let next = tokio::time::timeout_at(window_end, stream.next()).await;
                let now = tokio::time::Instant::now();
                if now >= window_end {
                    if got < MIN_PROGRESS {
                        let _ = tx.send(Err(too_slow(window))).await;
                        break;
                    }
                    window_end = now + window;
                    got = 0;
                }
                let item = match next {
                    Ok(Some(Ok(b))) => {
                        got += b.len() as u64;
                        Ok(b)
                    }
                    Ok(Some(Err(e))) => Err(io::Error::other(e)),
                    Ok(None) => break,
                    // The window ended with enough: a new one began above.
                    Err(_) => continue,
                };
                let stop = item.is_err();
                let handing = tokio::time::Instant::now();
                if tx.send(item).await.is_err() || stop {
                    break;
                }
                window_end += handing.elapsed();
            }
        });
        BodyReader {
            rx,
            cur: Bytes::new(),
            counter,
        }
    }

    /// This reader, gzip-decoded if `gzip`. The decoder is made on the first read, because
    /// making it reads the gzip header (which must happen in blocking code).
    pub fn decoded(self, gzip: bool) -> Box<dyn Read + Send> {
        if gzip {
            Box::new(LazyGz::Pending(Some(self)))
        } else {
            Box::new(self)
        }
    }
}

/// The most a gzip request body may inflate to, per byte received (past [`GZIP_SLACK`]).
/// Git compresses want/have lists, which shrink 10 to 20 times; packs are compressed
/// already and barely shrink. A body past this is a decompression bomb.
pub const GZIP_RATIO: u64 = 100;
/// Inflated bytes allowed before [`GZIP_RATIO`] applies.
pub const GZIP_SLACK: u64 = 1 << 20;

/// A gzip decoder made on first use, that refuses to inflate more than [`GZIP_RATIO`]
/// times what it received.
enum LazyGz {
    Pending(Option<BodyReader>),
    Ready {
        decoder: Box<flate2::read::MultiGzDecoder<Counted>>,
        received: Arc<AtomicU64>,
        inflated: u64,
    },
}

/// A reader that counts the bytes it passed on.
struct Counted {
    inner: BodyReader,
    count: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Read for LazyGz {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let LazyGz::Pending(r) = self {
            let Some(inner) = r.take() else {
                return Err(io::Error::other("gzip decoder failed to start"));
            };
            let received = Arc::new(AtomicU64::new(0));
            let counted = Counted {
                inner,
                count: received.clone(),
            };
            *self = LazyGz::Ready {
                decoder: Box::new(flate2::read::MultiGzDecoder::new(counted)),
                received,
                inflated: 0,
            };
        }
        match self {
            LazyGz::Ready {
                decoder,
                received,
                inflated,
            } => {
                let n = decoder.read(buf)?;
                *inflated += n as u64;
                let allowed = received
                    .load(Ordering::Relaxed)
                    .saturating_mul(GZIP_RATIO)
                    .saturating_add(GZIP_SLACK);
                if *inflated > allowed {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "the gzip request body inflates more than {GZIP_RATIO} times; \
                             refused"
                        ),
                    ));
                }
                Ok(n)
            }
            LazyGz::Pending(_) => Err(io::Error::other("gzip decoder failed to start")),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => {
                    if let Some(c) = &self.counter {
                        c.inc_by(b.len() as u64);
                    }
                    self.cur = b;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        bytes::Buf::advance(&mut self.cur, n);
        Ok(n)
    }
}

/// A response body written from blocking code.
pub struct BodyWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    counter: Counter,
}

impl BodyWriter {
    /// A writer and the body it feeds.
    pub fn new(counter: Counter) -> (Self, Body) {
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let w = BodyWriter {
            tx,
            buf: Vec::with_capacity(OUT_CHUNK),
            counter,
        };
        (w, Body::from_stream(ReceiverStream::new(rx)))
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(OUT_CHUNK),
        ));
        self.counter.inc_by(chunk.len() as u64);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    /// Ends the body with an error (the client sees a broken transfer, not a clean end).
    pub fn abort(self, reason: &str) {
        let _ = self
            .tx
            .blocking_send(Err(io::Error::other(reason.to_string())));
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= OUT_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}
