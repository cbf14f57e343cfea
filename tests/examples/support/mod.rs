//! What the sync benchmarks share: arguments, medians, the server process, a device.

#![allow(dead_code)] // each benchmark uses its own part

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use fieldbook_core::Store;
use fieldbook_core::sync::http::HttpTransport;
use fieldbook_core::sync::{SyncReport, Transport};

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

pub fn gzip_len(bytes: &[u8]) -> usize {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(bytes);
    gz.finish().map(|v| v.len()).unwrap_or(0)
}

pub fn server_binary() -> Res<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(Path::parent).ok_or("no target dir")?;
    let bin = dir.join("fieldbook-test-server");
    if !bin.exists() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p fieldbook-tests --bins` first",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

pub struct ServerProcess(Child);

impl ServerProcess {
    /// Serves `db` (a SQLite file or a `postgres://` URL) on `addr`.
    pub fn start(db: impl AsRef<std::ffi::OsStr>, addr: SocketAddr) -> Res<ServerProcess> {
        let mut child = Command::new(server_binary()?)
            .arg(db)
            .arg(addr.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        Ok(ServerProcess(child))
    }

    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            })
            .unwrap_or(0)
    }
}

impl ServerProcess {
    /// CPU time the server process has used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        // Fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux),
        // counted after the command name, which is in parentheses and may hold spaces.
        std::fs::read_to_string(format!("/proc/{}/stat", self.0.id()))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1;
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let utime: f64 = fields.get(11)?.parse().ok()?;
                let stime: f64 = fields.get(12)?.parse().ok()?;
                Some((utime + stime) / 100.0)
            })
            .unwrap_or(0.0)
    }

    /// The server's process id, for a profiler to attach to.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Dev {
    pub store: Store,
    pub transport: HttpTransport,
    pub dir: tempfile::TempDir,
}

impl Dev {
    pub fn enrol(url: &str, token: &str) -> Res<Dev> {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("device.db"))?;
        let transport = HttpTransport::new(url, &[])?;
        fieldbook_core::sync::enrol(&mut store, &transport, url, token)?;
        Ok(Dev {
            store,
            transport,
            dir,
        })
    }

    pub fn sync(&mut self) -> Res<(SyncReport, f64)> {
        let t = Instant::now();
        let r = fieldbook_core::sync::sync(
            &mut self.store,
            &self.transport as &dyn Transport,
            &mut |_| {},
        )?;
        Ok((r, t.elapsed().as_secs_f64() * 1e3))
    }
}
