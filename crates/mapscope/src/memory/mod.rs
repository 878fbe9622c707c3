//! Reading a Go program's memory, wherever it lives: an ELF core dump, a live
//! process, the executable's own image, or bytes held in RAM (tests, fuzzing).
//!
//! Every back end implements [`Memory`]; the typed helpers of [`MemoryExt`] sit on
//! top of any of them. A read either fills the whole buffer or fails with a
//! [`MemoryError`] that names the wanted range, the first byte that could not be
//! served and why. Lengths that come from the target are capped before anything
//! is allocated for them.
//!
//! ```no_run
//! use mapscope::memory::{CoreFile, ImageMemory, LiveProcess, Memory, MemoryExt};
//!
//! # fn main() -> Result<(), mapscope::memory::MemoryError> {
//! // `mapscope CMD - core`: the executable named by the core's own notes.
//! let mut core = CoreFile::open("core")?;
//! if let Some(exe) = core.executable_path() {
//!     core.attach_executable(ImageMemory::open(exe)?)?;
//! }
//! let count = core.read_u64(0xc000076000)?;
//!
//! // `mapscope CMD EXE --pid PID --pause`: the guard holds every thread with
//! // ptrace and releases them when dropped (the kernel does, should this
//! // process die); after a SIGSTOP fallback, a Ctrl-C handler should call
//! // `resume_all_paused()` before exiting.
//! let live = LiveProcess::attach(1234)?;
//! let _paused = live.pause()?;
//! let header = live.read_vec(0xc000076000, 48)?;
//! # let _ = (count, header);
//! # Ok(())
//! # }
//! ```

mod corefile;
mod coresources;
mod elfhdr;
mod error;
mod ext;
mod image;
#[cfg(target_os = "linux")]
mod live;
mod notes;
#[cfg(target_os = "linux")]
mod pause;
mod procmaps;
mod region;
mod slice;
mod spans;

use std::sync::Arc;

pub use corefile::{CoreFile, CoreSegment, CoreSource, CoreSpan};
pub use error::MemoryError;
pub use ext::{MemoryExt, MAX_READ_LEN};
pub use image::{ImageMemory, ImageSegment, SharedBytes};
#[cfg(target_os = "linux")]
pub use live::LiveProcess;
pub use notes::{Arch, AuxvEntry, CoreNotes, FileMapping, ProcessInfo, Registers, ThreadStatus};
#[cfg(target_os = "linux")]
pub use pause::{
    paused_pids, resume_all_paused, resume_paused_on_fatal_signals, PauseGuard, PauseMethod, DEFAULT_PAUSE_TIMEOUT,
};
pub use procmaps::parse_proc_maps;
pub use region::{Backing, Permissions, Region};
pub use slice::SliceMemory;

/// Byte order of the target's integers and pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    /// The byte order of the machine mapscope runs on (the order of a live target).
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
}

/// A target's address space, readable at arbitrary addresses.
///
/// Implementations never panic and never allocate according to the request:
/// `read` fills the caller's buffer or fails. The trait is object safe so that
/// decoders can take `&dyn Memory` and not care which back end they read.
pub trait Memory: Send + Sync {
    /// Fills `buf` with the bytes at `addr..addr+buf.len()`, all of them or an error.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError>;

    /// The target's address-space regions, sorted by start address.
    fn regions(&self) -> Vec<Region>;

    /// Hands back the resident pages of a memory-mapped source that were
    /// read so far (a whole-heap walk would otherwise keep the core's heap
    /// resident); later reads fault them in again. A no-op elsewhere.
    fn release_cache(&self) {}

    /// The region holding `addr`, if any.
    fn region_at(&self, addr: u64) -> Option<Region> {
        self.regions().into_iter().find(|r| r.contains(addr))
    }

    /// True when every byte of `addr..addr+len` can be served by this back end,
    /// judged without reading (a cheap sanity check for pointers; a live target
    /// can still change between this call and a read). `len == 0` asks about `addr`.
    fn is_mapped(&self, addr: u64, len: u64) -> bool;

    /// Byte order of the target.
    fn byte_order(&self) -> ByteOrder {
        ByteOrder::Little
    }

    /// Size of a pointer in the target, in bytes (4 or 8).
    fn pointer_size(&self) -> usize {
        8
    }
}

macro_rules! forward_memory {
    ($($ty:ty),*) => {$(
        impl<M: Memory + ?Sized> Memory for $ty {
            fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
                (**self).read(addr, buf)
            }
            fn regions(&self) -> Vec<Region> {
                (**self).regions()
            }
            fn release_cache(&self) {
                (**self).release_cache()
            }
            fn region_at(&self, addr: u64) -> Option<Region> {
                (**self).region_at(addr)
            }
            fn is_mapped(&self, addr: u64, len: u64) -> bool {
                (**self).is_mapped(addr, len)
            }
            fn byte_order(&self) -> ByteOrder {
                (**self).byte_order()
            }
            fn pointer_size(&self) -> usize {
                (**self).pointer_size()
            }
        }
    )*};
}

forward_memory!(&M, Box<M>, Arc<M>);
