//! A live process, read with `process_vm_readv` (falling back to reading
//! `/proc/PID/mem`), never written to.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use super::error::{checked_end, MemoryError};
use super::pause::PauseGuard;
use super::procmaps::parse_proc_maps;
use super::region::{find_region, Region};
use super::{ByteOrder, Memory};

pub struct LiveProcess {
    pid: i32,
    regions: RwLock<Arc<Vec<Region>>>,
    /// `/proc/PID/mem`, opened read-only on first need.
    mem: OnceLock<Result<File, io::ErrorKind>>,
    /// Cleared when the kernel refuses process_vm_readv outright (ENOSYS, EPERM),
    /// so later reads go straight to `/proc/PID/mem`.
    vm_readv_ok: AtomicBool,
}

impl std::fmt::Debug for LiveProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveProcess").field("pid", &self.pid).finish()
    }
}

/// `/proc/PID/maps` of a Go process is small, but cap what we read anyway.
const MAX_MAPS_BYTES: u64 = 256 << 20;

impl LiveProcess {
    /// Opens process `pid` for reading; reads its regions once.
    pub fn attach(pid: i32) -> Result<Self, MemoryError> {
        if pid <= 0 {
            return Err(MemoryError::NoSuchProcess { pid });
        }
        let p = LiveProcess {
            pid,
            regions: RwLock::new(Arc::new(Vec::new())),
            mem: OnceLock::new(),
            vm_readv_ok: AtomicBool::new(true),
        };
        p.refresh_regions()?;
        Ok(p)
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The executable's path (`/proc/PID/exe`).
    pub fn exe_path(&self) -> Result<PathBuf, MemoryError> {
        let link = PathBuf::from(format!("/proc/{}/exe", self.pid));
        std::fs::read_link(&link).map_err(|source| MemoryError::Io {
            op: "cannot resolve",
            path: link,
            source,
        })
    }

    /// Checks that `exe` is the program this process runs, before anything is
    /// read or paused: the loaded build-ID notes (Go and GNU; they survive
    /// `strip`) of `exe` and of `/proc/PID/exe` must be equal; without notes,
    /// the entry points and file sizes.
    pub fn check_executable(&self, exe: &std::path::Path) -> Result<(), MemoryError> {
        let own_path = PathBuf::from(format!("/proc/{}/exe", self.pid));
        let own = super::ImageMemory::open(&own_path)?;
        let given = super::ImageMemory::open(exe)?;
        let notes = |img: &super::ImageMemory| -> Vec<Vec<u8>> {
            img.note_ranges()
                .iter()
                .filter_map(|&(_, off, size)| {
                    let o = usize::try_from(off).ok()?;
                    let n = usize::try_from(size).ok()?;
                    img.bytes().get(o..o.checked_add(n)?).map(<[u8]>::to_vec)
                })
                .collect()
        };
        let (a, b) = (notes(&own), notes(&given));
        let same = if !a.is_empty() && !b.is_empty() {
            a == b
        } else {
            own.entry() == given.entry() && own.file_len() == given.file_len()
        };
        if same {
            return Ok(());
        }
        Err(MemoryError::ExecutableMismatch {
            reason: format!(
                "{} is not the executable process {} runs ({}): their {} differ",
                exe.display(),
                self.pid,
                self.exe_path().unwrap_or(own_path).display(),
                if a.is_empty() || b.is_empty() {
                    "entry points or sizes"
                } else {
                    "build IDs"
                }
            ),
        })
    }

    /// Re-reads `/proc/PID/maps` (the Go heap grows while the program runs).
    pub fn refresh_regions(&self) -> Result<(), MemoryError> {
        let path = PathBuf::from(format!("/proc/{}/maps", self.pid));
        let text = read_capped(&path, MAX_MAPS_BYTES).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                MemoryError::NoSuchProcess { pid: self.pid }
            } else {
                MemoryError::Io {
                    op: "cannot read",
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let regions = Arc::new(parse_proc_maps(&text));
        match self.regions.write() {
            Ok(mut g) => *g = regions,
            Err(poisoned) => *poisoned.into_inner() = regions,
        }
        Ok(())
    }

    fn snapshot(&self) -> Arc<Vec<Region>> {
        match self.regions.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Stops the process until the guard is dropped (see [`PauseGuard`]),
    /// waiting at most [`DEFAULT_PAUSE_TIMEOUT`](super::DEFAULT_PAUSE_TIMEOUT).
    pub fn pause(&self) -> Result<PauseGuard, MemoryError> {
        PauseGuard::pause(self.pid, super::DEFAULT_PAUSE_TIMEOUT)
    }

    pub fn pause_with_timeout(&self, timeout: Duration) -> Result<PauseGuard, MemoryError> {
        PauseGuard::pause(self.pid, timeout)
    }

    fn known_unreadable(&self, addr: u64) -> bool {
        find_region(&self.snapshot(), addr).is_some_and(|r| !r.perms.read)
    }

    fn mem_file(&self) -> Result<&File, io::Error> {
        self.mem
            .get_or_init(|| File::open(format!("/proc/{}/mem", self.pid)).map_err(|e| e.kind()))
            .as_ref()
            .map_err(|&k| io::Error::from(k))
    }

    fn vm_readv(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as usize as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` describes `buf`, which we own mutably for the call;
        // the remote iovec is only read by the kernel, which checks it against
        // the target's address space.
        let n = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

fn read_capped(path: &std::path::Path, cap: u64) -> io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    File::open(path)?.take(cap).read_to_string(&mut s)?;
    Ok(s)
}

impl Memory for LiveProcess {
    // Both loops index `buf[done..]` only while `done < len`.
    #[allow(clippy::indexing_slicing)]
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        checked_end(addr, buf.len())?;
        if usize::try_from(addr).is_err() {
            return Err(MemoryError::unmapped(addr, buf.len(), addr));
        }
        let len = buf.len();
        let mut done = 0usize;
        let mut last: Option<io::Error> = None;
        if self.vm_readv_ok.load(Ordering::Relaxed) {
            // A read that crosses into an unmapped page comes back short; the
            // loop ends at the first call that makes no progress.
            while done < len {
                match self.vm_readv(addr + done as u64, &mut buf[done..]) {
                    Ok(0) => break,
                    Ok(n) => done += n.min(len - done),
                    Err(e) => {
                        if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
                            self.vm_readv_ok.store(false, Ordering::Relaxed);
                        }
                        last = Some(e);
                        break;
                    }
                }
            }
        }
        // /proc/PID/mem reads with FOLL_FORCE, which would see through
        // PROT_NONE; a region we know is unreadable stays unreadable.
        let at = addr + done as u64;
        if done < len && self.known_unreadable(at) {
            return Err(MemoryError::NoAccess {
                addr,
                len: len as u64,
                at,
            });
        }
        if done < len {
            match self.mem_file() {
                Ok(f) => {
                    while done < len {
                        match f.read_at(&mut buf[done..], addr + done as u64) {
                            Ok(0) => break,
                            Ok(n) => done += n.min(len - done),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                last = Some(e);
                                break;
                            }
                        }
                    }
                }
                Err(e) => last = last.or(Some(e)),
            }
        }
        if done < len {
            return Err(MemoryError::Live {
                pid: self.pid,
                addr,
                len: len as u64,
                at: addr + done as u64,
                source: last.unwrap_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof)),
            });
        }
        Ok(())
    }

    fn regions(&self) -> Vec<Region> {
        self.snapshot().as_ref().clone()
    }

    fn region_at(&self, addr: u64) -> Option<Region> {
        find_region(&self.snapshot(), addr).cloned()
    }

    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        let regions = self.snapshot();
        let Some(end) = addr.checked_add(len.max(1)) else {
            return false;
        };
        let mut cur = addr;
        while cur < end {
            match find_region(&regions, cur) {
                Some(r) if r.perms.read => cur = r.end,
                _ => return false,
            }
        }
        true
    }

    fn byte_order(&self) -> ByteOrder {
        ByteOrder::NATIVE
    }

    fn pointer_size(&self) -> usize {
        std::mem::size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both read paths, on this very process (always permitted).
    #[test]
    fn vm_readv_and_proc_mem_read_the_same_bytes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let addr = data.as_ptr() as u64;
        let me = LiveProcess::attach(std::process::id() as i32).unwrap();
        let mut a = vec![0u8; data.len()];
        me.read(addr, &mut a).unwrap();
        assert_eq!(a, data);
        me.vm_readv_ok.store(false, Ordering::Relaxed);
        let mut b = vec![0u8; data.len()];
        me.read(addr, &mut b).unwrap();
        assert_eq!(b, data);
        assert!(me.is_mapped(addr, data.len() as u64));
        assert!(matches!(me.read(8, &mut b[..8]), Err(MemoryError::Live { at: 8, .. })));
        assert!(matches!(me.pause(), Err(MemoryError::Unsupported { .. })));
    }
}
