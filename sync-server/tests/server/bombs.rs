//! Crafted Automerge bytes that inflate to 1 GiB, and this process's resident memory: shared
//! by the bad-input tests and the memory tests (`tests/memory.rs`, a test binary of its own
//! so that no other test's allocations are counted in the RSS it measures).

#![allow(dead_code)]

/// One chunk: magic, checksum, type, ULEB128 length, body.
pub fn chunk(kind: u8, checksum: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
    out.extend_from_slice(&checksum);
    out.push(kind);
    let mut n = body.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(body);
    out
}

/// Raw DEFLATE of 1 GiB of zeros (about 1 MB), made once.
fn gib_deflate() -> &'static [u8] {
    use std::io::Write;
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            enc.write_all(&block).expect("deflate");
        }
        enc.finish().expect("deflate")
    })
}

/// A compressed change chunk (type 2) that inflates to 1 GiB.
pub fn gib_compressed_change() -> Vec<u8> {
    chunk(2, [0; 4], gib_deflate())
}

/// A document chunk (type 0) whose one DEFLATE column inflates to 1 GiB.
pub fn gib_document_column() -> Vec<u8> {
    let bomb = gib_deflate();
    let mut body = vec![0, 0, 1, 0x18];
    let mut n = bomb.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            body.push(b);
            break;
        }
        body.push(b | 0x80);
    }
    body.push(0);
    body.extend_from_slice(bomb);
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let header = chunk(0, [0; 4], &body);
    // The checksum covers the type byte, the length and the body.
    h.update(&header[8..]);
    let sum = h.finalize();
    chunk(0, [sum[0], sum[1], sum[2], sum[3]], &body)
}

/// This process's resident set (the server runs in-process in these tests).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
