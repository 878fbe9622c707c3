//! The crate-wide error: one variant per layer, each wrapping that layer's own typed error.

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Binary(#[from] crate::binary::BinaryError),
    #[error(transparent)]
    Memory(#[from] crate::memory::MemoryError),
    #[error(transparent)]
    Hash(#[from] crate::hash::HashError),
    #[error(transparent)]
    Heap(#[from] crate::heap::HeapError),
    #[error(transparent)]
    Roots(#[from] crate::roots::RootsError),
    #[error(transparent)]
    Census(#[from] crate::census::CensusError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
