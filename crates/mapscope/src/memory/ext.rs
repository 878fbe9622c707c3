//! Typed reads on top of any [`Memory`].

use super::error::{checked_end, MemoryError};
use super::{ByteOrder, Memory};

/// The most bytes a single `read_vec`-style helper allocates. Lengths come from
/// the target (slice headers, string lengths), so a corrupt word must produce an
/// error, not a multi-gigabyte allocation.
pub const MAX_READ_LEN: usize = 64 << 20;

/// Reads never cross a page boundary in one request when the length is not
/// known up front, so a string that ends just before an unmapped page still reads.
const PROBE_CHUNK: u64 = 4096;

/// Typed helpers, implemented for every [`Memory`] (including `dyn Memory`).
pub trait MemoryExt: Memory {
    fn read_array<const N: usize>(&self, addr: u64) -> Result<[u8; N], MemoryError> {
        let mut b = [0u8; N];
        self.read(addr, &mut b)?;
        Ok(b)
    }

    fn read_u8(&self, addr: u64) -> Result<u8, MemoryError> {
        Ok(self.read_array::<1>(addr)?[0])
    }

    fn read_u16(&self, addr: u64) -> Result<u16, MemoryError> {
        let b = self.read_array(addr)?;
        Ok(match self.byte_order() {
            ByteOrder::Little => u16::from_le_bytes(b),
            ByteOrder::Big => u16::from_be_bytes(b),
        })
    }

    fn read_u32(&self, addr: u64) -> Result<u32, MemoryError> {
        let b = self.read_array(addr)?;
        Ok(match self.byte_order() {
            ByteOrder::Little => u32::from_le_bytes(b),
            ByteOrder::Big => u32::from_be_bytes(b),
        })
    }

    fn read_u64(&self, addr: u64) -> Result<u64, MemoryError> {
        let b = self.read_array(addr)?;
        Ok(match self.byte_order() {
            ByteOrder::Little => u64::from_le_bytes(b),
            ByteOrder::Big => u64::from_be_bytes(b),
        })
    }

    fn read_i64(&self, addr: u64) -> Result<i64, MemoryError> {
        Ok(self.read_u64(addr)? as i64)
    }

    /// A pointer-sized word, zero-extended to 64 bits.
    fn read_ptr(&self, addr: u64) -> Result<u64, MemoryError> {
        if self.pointer_size() == 4 {
            Ok(u64::from(self.read_u32(addr)?))
        } else {
            self.read_u64(addr)
        }
    }

    /// Exactly `len` bytes; fails with [`MemoryError::TooLarge`] above [`MAX_READ_LEN`].
    fn read_vec(&self, addr: u64, len: u64) -> Result<Vec<u8>, MemoryError> {
        self.read_vec_capped(addr, len, MAX_READ_LEN)
    }

    /// Exactly `len` bytes with the caller's own cap (itself limited to [`MAX_READ_LEN`]).
    fn read_vec_capped(&self, addr: u64, len: u64, cap: usize) -> Result<Vec<u8>, MemoryError> {
        let cap = cap.min(MAX_READ_LEN);
        let n = usize::try_from(len)
            .ok()
            .filter(|&n| n <= cap)
            .ok_or(MemoryError::TooLarge {
                addr,
                len,
                cap: cap as u64,
            })?;
        checked_end(addr, n)?;
        let mut v = vec![0u8; n];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// Up to `max` bytes from `addr`, stopping early at the first byte that cannot
    /// be read (for hex dumps near the end of a region). Fails only when not even
    /// the first byte can be read.
    // Slices are cut at `start <= out.len()` just after resizing to it.
    #[allow(clippy::indexing_slicing)]
    fn read_available(&self, addr: u64, max: usize) -> Result<Vec<u8>, MemoryError> {
        let max = max.min(MAX_READ_LEN);
        let mut out = Vec::new();
        let mut cur = addr;
        while out.len() < max {
            let room = (max - out.len()) as u64;
            let n = chunk_len(cur, room);
            let start = out.len();
            out.resize(start + n as usize, 0);
            match read_prefix(self, cur, &mut out[start..]) {
                Ok(k) if k == n as usize => {}
                Ok(k) => {
                    out.truncate(start + k);
                    break;
                }
                Err(e) => {
                    out.truncate(start);
                    if out.is_empty() {
                        return Err(e);
                    }
                    break;
                }
            }
            match cur.checked_add(n) {
                Some(next) => cur = next,
                None => break,
            }
        }
        Ok(out)
    }

    /// A NUL-terminated string of at most `max` bytes (the NUL not included).
    // `n <= PROBE_CHUNK` (chunk_len) and `got <= n`, `z < got`.
    #[allow(clippy::indexing_slicing)]
    fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, MemoryError> {
        let max = max.min(MAX_READ_LEN);
        let mut out: Vec<u8> = Vec::new();
        let mut cur = addr;
        // One more byte than `max` may be read, to find a NUL right after a string of exactly `max`.
        let limit = max.saturating_add(1);
        while out.len() < limit {
            let n = chunk_len(cur, (limit - out.len()) as u64) as usize;
            let mut chunk = [0u8; PROBE_CHUNK as usize];
            let chunk = &mut chunk[..n];
            let got = read_prefix(self, cur, chunk)?;
            let chunk = &chunk[..got];
            if let Some(z) = chunk.iter().position(|&b| b == 0) {
                if out.len() + z > max {
                    break;
                }
                out.extend_from_slice(&chunk[..z]);
                return Ok(out);
            }
            if got < n {
                // The string runs into unreadable memory; report that read's error.
                let mut probe = [0u8; 1];
                let at = cur.saturating_add(got as u64);
                return Err(match self.read(at, &mut probe) {
                    Err(e) => e,
                    Ok(()) => MemoryError::unmapped(addr, out.len() + got + 1, at),
                });
            }
            out.extend_from_slice(chunk);
            cur = cur.checked_add(n as u64).ok_or(MemoryError::AddressOverflow {
                addr,
                len: out.len() as u64,
            })?;
        }
        Err(MemoryError::Unterminated { addr, max: max as u64 })
    }
}

impl<M: Memory + ?Sized> MemoryExt for M {}

/// Reads as much of `buf` as is readable from `addr` and returns how many bytes
/// that is; fails only if not even the first byte is readable. A failed full
/// read is narrowed down by bisection: a few reads rather than one per byte.
// Bisection keeps `lo < mid < hi <= buf.len()`.
#[allow(clippy::indexing_slicing)]
fn read_prefix<M: Memory + ?Sized>(m: &M, addr: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
    let err = match m.read(addr, buf) {
        Ok(()) => return Ok(buf.len()),
        Err(e) => e,
    };
    let (mut lo, mut hi) = (0usize, buf.len());
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if m.read(addr, &mut buf[..mid]).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if lo == 0 || m.read(addr, &mut buf[..lo]).is_err() {
        return Err(err);
    }
    Ok(lo)
}

/// Bytes to read at `cur` so that the read stays inside one page and within `room`.
fn chunk_len(cur: u64, room: u64) -> u64 {
    let to_page_end = PROBE_CHUNK - (cur % PROBE_CHUNK);
    to_page_end.min(room).max(1)
}
