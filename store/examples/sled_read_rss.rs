//! Scratch: RSS of writing then reading 140 MB of chunks in sled.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1).map(|n| n.parse().unwrap_or(0)))
        .unwrap_or(0)
        / 1024
}
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = &a[1];
    let chunk: usize = a[2].parse().expect("chunk");
    let seg: usize = a[3].parse().expect("seg");
    let mode = &a[4];
    let cfg = sled::Config::new()
        .path(dir)
        .cache_capacity(16 << 20)
        .segment_size(seg);
    let db = cfg.open().expect("open");
    let t = db.open_tree("chunks").expect("tree");
    if mode == "write" {
        let total: usize = std::env::var("MB").map_or(140, |s| s.parse().unwrap_or(140)) << 20;
        let mut x = 12345u64;
        let mut v = vec![0u8; chunk];
        for i in 0..total / chunk {
            for b in v.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            t.insert((i as u64).to_be_bytes(), &v[..]).expect("ins");
        }
        db.flush().expect("flush");
        println!("write chunk={chunk} seg={seg} peak={} MiB", rss());
    } else {
        let mut n = 0;
        if mode == "get" {
            let mut i = 0u64;
            while let Some(v) = t.get(i.to_be_bytes()).expect("get") {
                n += v.len();
                i += 1;
            }
        } else {
            for kv in t.iter() {
                n += kv.expect("kv").1.len();
            }
        }
        println!("read chunk={chunk} seg={seg} bytes={n} peak={} MiB", rss());
    }
}
