//! Regions of a target's address space, as every back end lists them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Access rights of a region (from ELF `p_flags` or `/proc/PID/maps`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Permissions {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
    /// A shared mapping (`s` in `/proc/PID/maps`); cores do not record it.
    pub shared: bool,
}

impl Permissions {
    pub const READ_ONLY: Permissions = Permissions {
        read: true,
        write: false,
        execute: false,
        shared: false,
    };
    pub const READ_WRITE: Permissions = Permissions {
        read: true,
        write: true,
        execute: false,
        shared: false,
    };

    /// From ELF segment flags (PF_X = 1, PF_W = 2, PF_R = 4).
    pub fn from_elf_flags(flags: u32) -> Self {
        Permissions {
            read: flags & 4 != 0,
            write: flags & 2 != 0,
            execute: flags & 1 != 0,
            shared: false,
        }
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |b: bool, ch: char| if b { ch } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            c(self.read, 'r'),
            c(self.write, 'w'),
            c(self.execute, 'x'),
            if self.shared { 's' } else { 'p' }
        )
    }
}

/// What a region maps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Backing {
    /// Anonymous memory: heap, stacks, bss beyond the file.
    Anonymous,
    /// A file mapping; `offset` is the file offset of the region's start.
    File { path: Arc<PathBuf>, offset: u64 },
    /// A kernel-named region such as `[heap]`, `[stack]` or `[vdso]`.
    Special(Arc<str>),
}

/// One contiguous range of the address space, `start..end`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    pub start: u64,
    /// Exclusive.
    pub end: u64,
    pub perms: Permissions,
    pub backing: Backing,
}

impl Region {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// The mapped file's path, for file-backed regions.
    pub fn path(&self) -> Option<&std::path::Path> {
        match &self.backing {
            Backing::File { path, .. } => Some(path.as_path()),
            _ => None,
        }
    }
}

/// Binary search in regions sorted by start and not overlapping.
pub(crate) fn find_region(regions: &[Region], addr: u64) -> Option<&Region> {
    let i = regions.partition_point(|r| r.end <= addr);
    regions.get(i).filter(|r| r.contains(addr))
}
